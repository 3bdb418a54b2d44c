/**
 * A snapshot compiled for one sidecar: lookups by host, VirtualServices
 * split into the ones sidecars apply (`mesh`) and the ones the ingress
 * applies (bound to a Gateway), compiled matches, and the PeerAuthentication
 * mode for this workload. Compiling is where a bad snapshot is caught: this
 * throws, the sidecar answers `rejected`, and the old tables keep serving.
 * Pure: the same snapshot always gives the same tables.
 */
import type { DestinationRuleSpec, HTTPRoute, Resource, VirtualServiceSpec } from '../policy/model';
import { hostMatches, qualifyHost, serviceFqdn, stripPort } from '../policy/hosts';
import type { MeshSnapshot, ServiceInfo, WorkloadInfo } from '../protocol';
import { compileMatch, qualifyGateway, type CompiledMatch } from './routing/match';
import { compileFullRegex } from './routing/stringMatch';
import { resolvePeerAuthentication, type ResolvedMtls } from './security/peerAuthentication';

export interface CompiledRule {
  index: number;
  rule: HTTPRoute;
  /** null = the rule matches every request. */
  matches: CompiledMatch[] | null;
}

export interface CompiledVirtualService {
  name: string;
  namespace: string;
  /** Qualified hosts (FQDN or wildcard). */
  hosts: string[];
  /** Qualified gateway names; `mesh` when the VS applies at sidecars. */
  gateways: string[];
  rules: CompiledRule[];
}

export interface MeshTables {
  version: number;
  snapshot: MeshSnapshot;
  /** This sidecar's workload; null for the ingress. */
  self: WorkloadInfo | null;
  /** SPIFFE id, labels and namespace this proxy speaks for. */
  identity: { spiffeId: string; labels: Record<string, string>; namespace: string; name: string };
  /** Every spelling of a service host (short, name.ns, name.ns.svc, FQDN) -> service. */
  serviceByHost: Map<string, ServiceInfo>;
  workloadsByService: Map<string, WorkloadInfo[]>;
  workloadByName: Map<string, WorkloadInfo>;
  /** VirtualServices applied by sidecars, by exact FQDN; wildcard hosts in `meshWildcards`. */
  meshRoutes: Map<string, CompiledVirtualService>;
  meshWildcards: CompiledVirtualService[];
  /** VirtualServices bound to a Gateway (applied by the ingress only). */
  gatewayRoutes: CompiledVirtualService[];
  /** Gateways by qualified name `ns/name`, with their server hosts. */
  gateways: Map<string, { hosts: string[] }>;
  destinationRules: Map<string, DestinationRuleSpec>;
  /** PeerAuthentication resolved for this workload (inbound). */
  mtls: ResolvedMtls;
}

export function compileTables(snapshot: MeshSnapshot, workload: string | null): MeshTables {
  checkShape(snapshot);
  const ns = snapshot.namespace;
  const self = workload === null ? null : snapshot.workloads.find((w) => w.name === workload) ?? null;
  if (workload !== null && !self) throw new Error(`workload "${workload}" is not in snapshot ${snapshot.version}`);

  const serviceByHost = new Map<string, ServiceInfo>();
  const workloadsByService = new Map<string, WorkloadInfo[]>();
  const workloadByName = new Map(snapshot.workloads.map((w) => [w.name, w]));
  for (const s of snapshot.services) {
    const fqdn = (s.fqdn || serviceFqdn(s.name, s.namespace)).toLowerCase();
    for (const alias of [fqdn, `${s.name}.${s.namespace}.svc`, `${s.name}.${s.namespace}`]) serviceByHost.set(alias.toLowerCase(), s);
    // Short names resolve in the mesh's namespace, as Kubernetes DNS search paths do.
    if (s.namespace === ns) serviceByHost.set(s.name.toLowerCase(), s);
    workloadsByService.set(fqdn, s.workloads.map((n) => workloadByName.get(n)).filter((w): w is WorkloadInfo => !!w));
  }

  const meshRoutes = new Map<string, CompiledVirtualService>();
  const meshWildcards: CompiledVirtualService[] = [];
  const gatewayRoutes: CompiledVirtualService[] = [];
  for (const vs of snapshot.virtualServices) {
    const c = compileVirtualService(vs, ns);
    if (c.gateways.includes('mesh')) {
      for (const h of c.hosts) {
        if (h.startsWith('*')) meshWildcards.push(c);
        // Two VirtualServices for one host: Istio merges; we keep the first (the validator warns).
        else if (!meshRoutes.has(h)) meshRoutes.set(h, c);
      }
    }
    if (c.gateways.some((g) => g !== 'mesh')) gatewayRoutes.push(c);
  }

  const destinationRules = new Map<string, DestinationRuleSpec>();
  for (const dr of snapshot.destinationRules) {
    const host = qualifyHost(dr.spec.host, dr.metadata.namespace ?? ns);
    if (!destinationRules.has(host)) destinationRules.set(host, dr.spec);
  }

  const gateways = new Map<string, { hosts: string[] }>();
  for (const gw of snapshot.gateways) {
    const hosts = (gw.spec.servers ?? []).flatMap((s) => s.hosts ?? []).map((h) => (h.includes('/') ? h.slice(h.indexOf('/') + 1) : h).toLowerCase());
    gateways.set(`${gw.metadata.namespace ?? ns}/${gw.metadata.name}`, { hosts });
  }

  const identity = self
    ? { spiffeId: self.spiffeId, labels: self.labels, namespace: self.namespace, name: self.name }
    : { spiffeId: snapshot.ingress.spiffeId, labels: snapshot.ingress.labels, namespace: ns, name: snapshot.ingress.name };
  const mtls = self
    ? resolvePeerAuthentication(snapshot.peerAuthentications, { namespace: self.namespace, labels: self.labels }, self.appPort, ns)
    : { mode: 'PERMISSIVE' as const, source: 'ingress' };

  return { version: snapshot.version, snapshot, self, identity, serviceByHost, workloadsByService, workloadByName, meshRoutes, meshWildcards, gatewayRoutes, gateways, destinationRules, mtls };
}

function compileVirtualService(vs: Resource<'VirtualService'>, meshNs: string): CompiledVirtualService {
  const spec: VirtualServiceSpec = vs.spec ?? {};
  const namespace = vs.metadata.namespace ?? meshNs;
  const gateways = spec.gateways && spec.gateways.length > 0 ? spec.gateways.map((g) => qualifyGateway(g, namespace)) : ['mesh'];
  const rules = (spec.http ?? []).map((rule, index): CompiledRule => {
    for (const d of rule.route ?? []) {
      if (d.weight !== undefined && (typeof d.weight !== 'number' || d.weight < 0)) throw new Error(`VirtualService ${vs.metadata.name}: http[${index}] has a negative or non-numeric weight`);
    }
    if (rule.rewrite?.uriRegexRewrite) compileFullRegex(rule.rewrite.uriRegexRewrite.match);
    return { index, rule, matches: rule.match && rule.match.length > 0 ? rule.match.map((m) => compileMatch(m, namespace)) : null };
  });
  return { name: vs.metadata.name, namespace, hosts: (spec.hosts ?? []).map((h) => qualifyHost(h, namespace)), gateways, rules };
}

function checkShape(s: MeshSnapshot): void {
  if (!s || typeof s !== 'object') throw new Error('snapshot is not an object');
  if (typeof s.version !== 'number') throw new Error('snapshot has no numeric version');
  for (const key of ['services', 'workloads', 'virtualServices', 'destinationRules', 'gateways', 'peerAuthentications', 'authorizationPolicies'] as const) {
    if (!Array.isArray(s[key])) throw new Error(`snapshot.${key} is not a list`);
  }
  if (!s.ingress) throw new Error('snapshot has no ingress');
}

/** The service a Host / :authority names, if any (port ignored). */
export function serviceForAuthority(t: MeshTables, authority: string): ServiceInfo | undefined {
  return t.serviceByHost.get(stripPort(authority).toLowerCase());
}

/** The VirtualService a sidecar applies to a service FQDN: exact host first, then wildcards. */
export function meshVirtualService(t: MeshTables, fqdn: string): CompiledVirtualService | undefined {
  return t.meshRoutes.get(fqdn) ?? t.meshWildcards.find((vs) => vs.hosts.some((h) => hostMatches(h, fqdn)));
}

export function knownServices(t: MeshTables): string {
  return t.snapshot.services.map((s) => `${s.name}:${s.port}`).join(', ') || '(none)';
}
