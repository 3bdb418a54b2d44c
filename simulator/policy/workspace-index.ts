/**
 * The in-memory index that cross-file rules read: every policy document of
 * the workspace grouped by kind, the Mesh's services and workloads, and the
 * lookups rules need (host -> service, host -> DestinationRules, labels ->
 * workloads). Built once per change; rules never touch the disk.
 *
 * The index also states its cross-file facts as strings (`meshFacts`,
 * `destinationRuleFacts`, `subsetFacts`, `gatewayFacts`, ...): equal strings
 * mean equal facts, so a per-document rule can tell whether the findings it
 * remembers for a document still hold after another file changed.
 */
import { buildClusterView, type ClusterView } from './cluster-index';
import { hostMatches, policyHost, serviceFqdn } from './hosts';
import { flavorProfile, type FlavorProfile } from './flavors';
import { EGRESS_GATEWAY, selectsEgressGateway } from './egress-gateway';
import { meshInventory, type ServiceView, type WorkloadView } from './mesh-inventory';
import { MESH_DEFAULTS, type GatewaySpec, type Kind } from './model';
import { arr, num, obj, str } from './plain';
import type { Path, PolicyDocument, SourceDocument } from './source';
import { gatewayApiStatus, type GatewayApiWorld, type GatewayStatus, type RouteStatus, type WorldService } from './gateway-api/status';
import { tlsSecrets } from './gateway-api/secrets';

export type { ServedPort, ServicePortView, ServiceView, WorkloadView } from './mesh-inventory';

/** One of the Mesh's `spec.extensionProviders`. */
export interface ExtensionProviderView {
  name: string;
  /** `http`/`grpc`: an external authorizer; `other`: a tracing or logging provider. */
  kind: 'http' | 'grpc' | 'other';
  service: string | undefined;
  port: number | undefined;
  path: Path;
}

const EGRESS_GATEWAY_FQDN = serviceFqdn(EGRESS_GATEWAY.name, EGRESS_GATEWAY.namespace);

export interface MeshView {
  doc: PolicyDocument<'Mesh'>;
  name: string;
  namespace: string;
  /** Istio's root namespace (spec.rootNamespace, default istio-system). */
  rootNamespace: string;
  trustDomain: string;
  /** The profile of its `spec.flavor` (identity format, kinds). */
  flavor: FlavorProfile;
  services: ServiceView[];
  workloads: WorkloadView[];
  extensionProviders: ExtensionProviderView[];
  serviceByFqdn: Map<string, ServiceView>;
  /** Everything above that rules read, as one string (see WorkspaceIndex). */
  facts: string;
}

export interface GatewayView {
  doc: PolicyDocument<'Gateway'>;
  /** Hosts its servers serve, without their `namespace/` prefix. */
  served: string[];
  /**
   * The same hosts with the namespaces whose VirtualServices may bind them:
   * `ns/host` that namespace, `./host` the Gateway's, `*\/host` and `host` any (`*`).
   */
  servedFor: { namespace: string; host: string }[];
}

/** A destination host resolved: what defines it and the ports it has. */
export interface ResolvedDestination {
  kind: 'service' | 'ServiceEntry';
  /** The service's name, or the ServiceEntry's `namespace/name`. */
  name: string;
  ports: number[];
}

export type DocsByKind = { [K in Kind]: PolicyDocument<K>[] };

export class WorkspaceIndex {
  readonly byKind: DocsByKind = {
    Mesh: [], VirtualService: [], DestinationRule: [], Gateway: [], PeerAuthentication: [], AuthorizationPolicy: [], RequestAuthentication: [],
    ServiceEntry: [], WorkloadEntry: [], Sidecar: [], Telemetry: [],
    HTTPRoute: [], GRPCRoute: [], TLSRoute: [], TCPRoute: [], KubernetesGateway: [], ReferenceGrant: [],
  };
  readonly mesh: MeshView | undefined;
  /** Facts of the Mesh that rules read ('' without a Mesh), including the namespace of documents that name none. */
  readonly meshFacts: string;
  private readonly drByHost = new Map<string, PolicyDocument<'DestinationRule'>[]>();
  private readonly subsetCache = new Map<string, string[]>();
  private readonly subsetFactsCache = new Map<string, string>();
  private drFacts: string | undefined;
  private gatewayCache: Map<string, GatewayView> | undefined;
  private gatewayApiCache: { world: GatewayApiWorld; gateways: GatewayStatus[]; routes: Map<PolicyDocument, RouteStatus> } | undefined;
  private gwFacts: string | undefined;

  private clusterView: ClusterView | undefined;
  private vsCache: Map<string, PolicyDocument<'VirtualService'>> | undefined;
  private seFacts: string | undefined;
  private svcExportFacts: string | undefined;

  /**
   * @param docs every policy document
   * @param references the Kubernetes objects and not-simulated Istio documents (see cluster-index.ts)
   */
  constructor(readonly docs: readonly PolicyDocument[], readonly references: readonly SourceDocument[] = []) {
    for (const d of docs) (this.byKind[d.kind] as PolicyDocument[]).push(d);
    this.mesh = this.byKind.Mesh.length > 0 ? meshView(this.byKind.Mesh[0]) : undefined;
    this.meshFacts = this.mesh?.facts ?? '';
    for (const dr of this.byKind.DestinationRule) {
      const host = str(dr.value.spec?.host);
      if (!host) continue;
      const fqdn = this.fqdn(host, dr);
      const list = this.drByHost.get(fqdn);
      if (list) list.push(dr);
      else this.drByHost.set(fqdn, [dr]);
    }
  }

  /** What the workspace says about the cluster: Kubernetes objects and the Istio kinds devmesh does not simulate. */
  get cluster(): ClusterView {
    // Gateway API Gateways are policies here (devmesh serves them), and the egress kinds are simulated policies now; the cluster's checks
    // read both beside the references (ServiceEntry hosts are destinations).
    this.clusterView ??= buildClusterView([...this.references, ...this.byKind.KubernetesGateway, ...this.byKind.ServiceEntry, ...this.byKind.WorkloadEntry, ...this.byKind.Sidecar], this.defaultNamespace);
    return this.clusterView;
  }

  get defaultNamespace(): string {
    return this.mesh?.namespace ?? MESH_DEFAULTS.namespace;
  }

  /** Istio's root namespace: mesh-wide PeerAuthentication and AuthorizationPolicy, the last DestinationRules. */
  get rootNamespace(): string {
    return this.mesh?.rootNamespace ?? MESH_DEFAULTS.rootNamespace;
  }

  namespaceOf(doc: PolicyDocument): string {
    return doc.namespace ?? this.defaultNamespace;
  }

  /** A host as written in `doc`, fully qualified in the document's namespace. */
  fqdn(host: string, doc: PolicyDocument): string {
    return cachedPolicyHost(host, this.namespaceOf(doc));
  }

  service(host: string, doc: PolicyDocument): ServiceView | undefined {
    return this.mesh?.serviceByFqdn.get(this.fqdn(host, doc));
  }

  /**
   * What a destination host names, seen from a document's namespace: a Mesh
   * service, or a host of a ServiceEntry exported there (wildcards match by
   * suffix), with the ports callers may name. Undefined: nothing.
   */
  destination(host: string, doc: PolicyDocument): ResolvedDestination | undefined {
    const service = this.service(host, doc);
    if (service) return { kind: 'service', name: service.name, ports: service.ports.map((p) => p.port) };
    const fqdn = this.fqdn(host, doc);
    // The egress gateway devmesh runs when a Gateway selects it (egress-gateway.ts) is a service like the Mesh's.
    if (fqdn === EGRESS_GATEWAY_FQDN && this.runsEgressGateway) return { kind: 'service', name: EGRESS_GATEWAY.name, ports: EGRESS_GATEWAY.ports.map((p) => p.port) };
    const namespace = this.namespaceOf(doc);
    const entry = this.cluster.serviceEntries.find((se) => (se.visibleIn.includes('*') || se.visibleIn.includes(namespace))
      && se.hosts.some((h) => h === fqdn || hostMatches(h, fqdn)));
    return entry ? { kind: 'ServiceEntry', name: `${entry.namespace}/${entry.doc.name}`, ports: entry.ports } : undefined;
  }

  /** The Kubernetes Services an `networking.istio.io/exportTo` annotation scopes, and where to, as one string. */
  get serviceExportFacts(): string {
    this.svcExportFacts ??= JSON.stringify(this.cluster.services.filter((s) => !s.exportTo.includes('*')).map((s) => [s.namespace, s.name, s.exportTo]));
    return this.svcExportFacts;
  }

  /** Hosts, ports and visibility of every ServiceEntry (and whether the egress gateway runs), as one string. */
  get serviceEntryFacts(): string {
    this.seFacts ??= JSON.stringify([this.runsEgressGateway, this.cluster.serviceEntries.map((se) => [se.namespace, se.doc.name, se.hosts, se.ports, se.visibleIn])]);
    return this.seFacts;
  }

  /** Whether a Gateway selects `istio: egressgateway`, so that `up` runs the egress gateway. */
  get runsEgressGateway(): boolean {
    return this.byKind.Gateway.some((d) => selectsEgressGateway(obj(d.value).spec as GatewaySpec | undefined));
  }

  destinationRules(fqdn: string): readonly PolicyDocument<'DestinationRule'>[] {
    return this.drByHost.get(fqdn) ?? [];
  }

  /** Subset names the DestinationRules of a host define (computed once per index). */
  subsetNames(fqdn: string): readonly string[] {
    let names = this.subsetCache.get(fqdn);
    if (!names) {
      names = this.destinationRules(fqdn).flatMap((dr) => arr(obj(dr.value.spec).subsets).map((s) => str(obj(s).name)).filter((n): n is string => !!n));
      this.subsetCache.set(fqdn, names);
    }
    return names;
  }

  /** What the DestinationRules of a host say about subsets: their names, the first one's file, the subset names. */
  subsetFacts(fqdn: string): string {
    let facts = this.subsetFactsCache.get(fqdn);
    if (facts === undefined) {
      const rules = this.destinationRules(fqdn);
      facts = rules.length === 0 ? '' : JSON.stringify([rules.map((r) => r.name), rules[0].file, this.subsetNames(fqdn)]);
      this.subsetFactsCache.set(fqdn, facts);
    }
    return facts;
  }

  /** subsetFacts of every host with a DestinationRule. */
  get destinationRuleFacts(): string {
    this.drFacts ??= [...this.drByHost.keys()].map((fqdn) => `${fqdn} ${this.subsetFacts(fqdn)}`).join('\n');
    return this.drFacts;
  }

  /** Gateways by `namespace/name`; when two share a key, the later one counts (as a cluster would keep it). */
  get gateways(): ReadonlyMap<string, GatewayView> {
    this.gatewayCache ??= new Map(this.byKind.Gateway.map((doc) => {
      const namespace = this.namespaceOf(doc);
      const servedFor = arr(obj(doc.value.spec).servers).flatMap((s) => arr(obj(s).hosts)).filter((h): h is string => typeof h === 'string').map((h) => {
        const slash = h.indexOf('/');
        if (slash < 0) return { namespace: '*', host: h.toLowerCase() };
        const ns = h.slice(0, slash);
        return { namespace: ns === '.' ? namespace : ns, host: h.slice(slash + 1).toLowerCase() };
      });
      return [`${namespace}/${doc.name}`, { doc, served: servedFor.map((s) => s.host), servedFor }];
    }));
    return this.gatewayCache;
  }

  /** What a VirtualService can read of the Gateways (Istio's and the Gateway API's): their keys, names and served hosts, and the default namespace. */
  get gatewayFacts(): string {
    this.gwFacts ??= JSON.stringify([this.defaultNamespace, [...this.gateways].map(([key, g]) => [key, g.doc.name, g.servedFor]),
      [...this.cluster.gatewayApiGateways].map(([key, g]) => [key, g.hostnames])]);
    return this.gwFacts;
  }

  /** VirtualServices by `namespace/name`; when two share a key, the later one counts. */
  get virtualServices(): ReadonlyMap<string, PolicyDocument<'VirtualService'>> {
    this.vsCache ??= new Map(this.byKind.VirtualService.map((doc) => [`${this.namespaceOf(doc)}/${doc.name}`, doc]));
    return this.vsCache;
  }

  /**
   * The Gateway API as a controller would see it: the Mesh's services, the
   * Gateways, ReferenceGrants and TLS Secrets of the workspace, and the
   * status of every Gateway and route (computed once per index).
   */
  get gatewayApi(): { world: GatewayApiWorld; gateways: GatewayStatus[]; routes: Map<PolicyDocument, RouteStatus> } {
    if (this.gatewayApiCache) return this.gatewayApiCache;
    const withNamespace = <D extends PolicyDocument>(d: D) => ({ ...d.value, metadata: { ...obj(d.value.metadata), name: d.name, namespace: this.namespaceOf(d) } });
    const services = new Map<string, WorldService>();
    for (const s of this.mesh?.services ?? []) services.set(`${s.namespace}/${s.name}`, { name: s.name, namespace: s.namespace, fqdn: s.fqdn, ports: s.ports });
    const secrets = new Map([...tlsSecrets(this.references, this.defaultNamespace)].map(([key, tls]) => [key, 'problem' in tls ? { problem: tls.problem } : {}]));
    const world: GatewayApiWorld = {
      services,
      gateways: this.byKind.KubernetesGateway.map(withNamespace) as GatewayApiWorld['gateways'],
      referenceGrants: this.byKind.ReferenceGrant.map(withNamespace) as GatewayApiWorld['referenceGrants'],
      secrets,
    };
    const docs = [
      ...this.byKind.HTTPRoute.map((d) => ({ d, kind: 'HTTPRoute' as const })), ...this.byKind.GRPCRoute.map((d) => ({ d, kind: 'GRPCRoute' as const })),
      ...this.byKind.TLSRoute.map((d) => ({ d, kind: 'TLSRoute' as const })), ...this.byKind.TCPRoute.map((d) => ({ d, kind: 'TCPRoute' as const })),
    ];
    const status = gatewayApiStatus(world, docs.map(({ d, kind }) => ({ route: withNamespace(d) as never, kind })));
    this.gatewayApiCache = { world, gateways: status.gateways, routes: new Map(docs.map(({ d }, i) => [d as PolicyDocument, status.routes[i]])) };
    return this.gatewayApiCache;
  }

  /** Workloads of a namespace (every namespace for `*`) whose labels include every given label. */
  workloadsMatching(selector: Record<string, unknown>, namespace: string, among?: readonly WorkloadView[]): WorkloadView[] {
    const pool = among ?? this.mesh?.workloads ?? [];
    const entries = Object.entries(selector);
    return pool.filter((w) => (namespace === '*' || w.namespace === namespace) && entries.every(([k, v]) => w.labels[k] === String(v)));
  }

  /**
   * The workloads a PeerAuthentication, AuthorizationPolicy or
   * RequestAuthentication selects: those of its namespace; an
   * AuthorizationPolicy or RequestAuthentication in the root namespace
   * selects in every namespace (a PeerAuthentication there with a selector
   * selects none).
   */
  policyWorkloads(doc: PolicyDocument<'PeerAuthentication' | 'AuthorizationPolicy' | 'RequestAuthentication'>): WorkloadView[] {
    const labels = obj(obj(obj(doc.value.spec).selector).matchLabels);
    const ns = this.namespaceOf(doc);
    if (ns === this.rootNamespace) {
      if (doc.kind !== 'PeerAuthentication') return this.workloadsMatching(labels, '*');
      return Object.keys(labels).length === 0 ? this.workloadsMatching({}, '*') : [];
    }
    return this.workloadsMatching(labels, ns);
  }
}

// A Mesh document's view depends on its text alone; an unchanged Mesh file keeps its document object.
const meshViews = new WeakMap<PolicyDocument<'Mesh'>, MeshView>();

function meshView(doc: PolicyDocument<'Mesh'>): MeshView {
  let view = meshViews.get(doc);
  if (!view) meshViews.set(doc, (view = buildMeshView(doc)));
  return view;
}

// Rules qualify the same few hosts in the same few namespaces on every check; the answers repeat.
const policyHosts = new Map<string, Map<string, string>>();

function cachedPolicyHost(host: string, namespace: string): string {
  let inNamespace = policyHosts.get(namespace);
  if (!inNamespace) policyHosts.set(namespace, (inNamespace = new Map()));
  let fqdn = inNamespace.get(host);
  if (fqdn === undefined) {
    if (inNamespace.size > 50_000) inNamespace.clear();
    fqdn = policyHost(host, namespace);
    inNamespace.set(host, fqdn);
  }
  return fqdn;
}

function buildMeshView(doc: PolicyDocument<'Mesh'>): MeshView {
  const inv = meshInventory(doc.value.spec);
  const { namespace, rootNamespace, trustDomain, services, workloads } = inv;
  const extensionProviders = extensionProviderViews(doc.value.spec);
  const flavor = flavorProfile(str(obj(doc.value.spec).flavor));
  const facts = JSON.stringify([doc.file, doc.name, namespace, rootNamespace, trustDomain, flavor.name,
    services.map((s) => [s.name, s.namespace, s.ports.map((p) => [p.name, p.port, p.targetPort, p.protocol]), s.selector, s.workloads.map((w) => w.name)]),
    workloads.map((w) => [w.name, w.namespace, w.labels, w.serviceAccount, w.port, w.ports, w.service]),
    extensionProviders.map((p) => [p.name, p.kind, p.service, p.port])]);
  const serviceByFqdn = new Map<string, ServiceView>();
  for (const s of services) if (!serviceByFqdn.has(s.fqdn)) serviceByFqdn.set(s.fqdn, s);
  return { doc, name: doc.name, namespace, rootNamespace, trustDomain, flavor, services, workloads, extensionProviders, serviceByFqdn, facts };
}

/** The Mesh's `spec.extensionProviders`, read defensively (the document may have schema errors). */
function extensionProviderViews(rawSpec: unknown): ExtensionProviderView[] {
  return arr(obj(rawSpec).extensionProviders).flatMap((raw, i): ExtensionProviderView[] => {
    const p = obj(raw);
    const name = str(p.name);
    if (!name) return [];
    const kind = p.envoyExtAuthzHttp !== undefined ? 'http' : p.envoyExtAuthzGrpc !== undefined ? 'grpc' : 'other';
    const body = obj(kind === 'http' ? p.envoyExtAuthzHttp : p.envoyExtAuthzGrpc);
    const port = typeof body.port === 'string' && /^\d+$/.test(body.port) ? Number(body.port) : num(body.port);
    return [{ name, kind, service: str(body.service), port, path: ['spec', 'extensionProviders', i] }];
  });
}

export { arr, num, obj, str, valueAt } from './plain';
