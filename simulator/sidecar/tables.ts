/**
 * A snapshot compiled for one sidecar, scoped as pilot scopes a proxy's
 * config: the VirtualServices and DestinationRules its namespace sees
 * (exportTo), one route table per (service host, service port) with the
 * origin of every rule, the DestinationRule in force per service host, the
 * ports its own workload serves (service port -> container port -> the
 * app's local port) and the PeerAuthentication mode of each. Short host
 * names resolve in the workload's own namespace (the Kubernetes search
 * path); the ingress, in istio-system, resolves them in the Mesh's default
 * namespace. Compiling is where a bad snapshot is caught: this throws, the
 * sidecar answers `rejected`, and the old tables keep serving. Pure: the
 * same snapshot always gives the same tables.
 */
import type { DestinationRuleSpec, GatewaySpec, HTTPRoute, OutboundTrafficMode, Protocol, Resource, RouteDestination, TCPRoute, TLSRoute, VirtualServiceSpec } from '../policy/model';
import { isEgressGateway, selectsEgressGateway } from '../policy/egress-gateway';
import { isTlsPassthrough, redirectsToHttps, terminatedProtocol, terminatingMode } from '../policy/gateway-tls';
import { droppedGatewayServers } from '../policy/gateway-merge';
import { selects } from '../policy/mesh-inventory';
import { serviceEntryServices } from '../policy/service-entries';
import { resolveDefaults, type ResolvedDefaults } from '../policy/defaults';
import { flavorProfile, type FlavorProfile } from '../policy/flavors';
import { resolveTelemetry, type ResolvedTelemetry } from '../policy/telemetry';
import { protocolClass } from '../policy/protocols';
import { compileL4Match, type CompiledL4Match } from './routing/l4Match';
import { hostMatches, qualifyHost, serviceFqdn, stripPort } from '../policy/hosts';
import type { Endpoint, MeshSnapshot, ServiceInfo, ServicePortInfo, WorkloadInfo } from '../protocol';
import { mergeDelegates, type VirtualServiceLookup } from './routing/delegate';
import { compileMatch, qualifyGateway, type CompiledMatch } from './routing/match';
import { compileFullRegex } from './routing/stringMatch';
import { destinationRuleFor } from './routing/destinationRuleScope';
import { containerPortNumber, localPortOf, portsOf } from './routing/servicePorts';
import { virtualServiceFor, visibleVirtualServices } from './routing/virtualServiceScope';
import { visibleTo } from './routing/exportTo';
import { sidecarScope } from './routing/sidecarScope';
import { compileGatewayApi, gatewayPortTables, meshRoutesFor, type GatewayApiTables, type GatewayPortTable } from './routing/gatewayApi/attach';
import type { GatewayApiAction } from './routing/gatewayApi/compile';
import { gatewayApiL4 } from './routing/gatewayApi/l4';
import { routeSource } from './routing/routeSource';
import { byCreation } from '../policy/gateway-api/age';
import { composePeerAuthentication, mtlsForPort, ROOT_NAMESPACE, type EnforcedMode, type ResolvedMtls } from './security/peerAuthentication';

/** Where a route rule comes from: a VirtualService's `http[rule]`, `tcp[rule]` or `tls[rule]`, or an HTTPRoute's, GRPCRoute's, TLSRoute's or TCPRoute's `rules[rule]`. */
export interface RouteOrigin {
  kind: RouteApi;
  namespace: string;
  name: string;
  /** Index of the rule in its resource. */
  rule: number;
  /** Which list the rule is in; absent: `http`. */
  section?: 'tcp' | 'tls';
}

/** The routing APIs a route table can come from. */
export type RouteApi = 'VirtualService' | 'HTTPRoute' | 'GRPCRoute' | 'TLSRoute' | 'TCPRoute';

export interface CompiledRule {
  index: number;
  origin: RouteOrigin;
  /** The rule in Istio's shape (for a Gateway API rule, as pilot converts it): timeout, retries, mirrors and CORS read it. */
  rule: HTTPRoute;
  /** null = the rule matches every request. */
  matches: CompiledMatch[] | null;
  /** A Gateway API rule: what it does, with the Gateway API's semantics (see routing/gatewayApi). */
  gatewayApi?: GatewayApiAction;
}

/** The resources a route table's rules come from: one VirtualService, or the Gateway API routes attached to the service port. */
export interface RouteSource {
  api: RouteApi;
  resources: { kind: RouteApi; namespace: string; name: string }[];
}

export interface CompiledVirtualService {
  name: string;
  namespace: string;
  /** metadata.creationTimestamp, when written (Istio orders VirtualServices of one host by it). */
  created?: string;
  /** Qualified hosts (FQDN or wildcard). */
  hosts: string[];
  /** Qualified gateway names; `mesh` when the VS applies at sidecars. */
  gateways: string[];
  exportTo?: string[];
  rules: CompiledRule[];
  tcp: CompiledL4Rule[];
  tls: CompiledL4Rule[];
}

/** A tcp[] or tls[] rule: its destinations, and its matches (null: every connection). */
export interface CompiledL4Rule {
  index: number;
  origin: RouteOrigin;
  route: RouteDestination[];
  matches: CompiledL4Match[] | null;
}

/**
 * The routes of one (service host, service port), first match wins: a
 * VirtualService's in its order, Gateway API routes' already sorted by
 * precedence.
 */
export interface RouteTable {
  service: ServiceInfo;
  port: ServicePortInfo;
  /** What the rules come from; none: the default route to the service on this port. */
  source?: RouteSource;
  /** Routes of the other API for this host that Istio leaves unused for this caller (both APIs route the host). */
  ignored?: RouteSource;
  rules: CompiledRule[];
  /** tcp[] rules, on a TCP port (neither HTTP nor TLS). */
  tcp: CompiledL4Rule[];
  /** tls[] rules, on a TLS port (tls-*, https-*). */
  tls: CompiledL4Rule[];
}

/** A port this sidecar's own workload serves: a service port, its container port and the app's local port. */
export interface InboundPort {
  service?: ServiceInfo;
  servicePort?: number;
  /** The container port: the service's targetPort as text (`9080`, `grpc`). */
  targetPort: string;
  /** The number Envoy sees (portLevelMtls, AuthorizationPolicy ports). */
  number: number;
  /** Where the app listens on 127.0.0.1. */
  localPort: number;
  /** The service port's protocol: how the sidecar speaks to the app (h2c for grpc and http2). */
  protocol: Protocol;
  mtls: { mode: EnforcedMode; source: string };
}

export interface MeshTables {
  version: number;
  snapshot: MeshSnapshot;
  /** This sidecar's workload; null for the ingress. */
  self: WorkloadInfo | null;
  /** SPIFFE id, labels and namespace this proxy speaks for (the ingress is in istio-system). */
  identity: { spiffeId: string; labels: Record<string, string>; namespace: string; name: string };
  /** Where short host names resolve: the workload's namespace; the Mesh's default one at the ingress. */
  hostNamespace: string;
  rootNamespace: string;
  /** Every spelling of a service host this proxy resolves (FQDN, name.ns.svc, name.ns, short names of hostNamespace) -> service. */
  serviceByHost: Map<string, ServiceInfo>;
  /** The services this proxy knows, each with a route table per port: the mesh services in its Sidecar's scope, then the ServiceEntry hosts. */
  registry: ServiceInfo[];
  /** ServiceEntry hosts with a wildcard (`*.example.com`) this proxy knows, most specific first. */
  wildcardEntries: ServiceInfo[];
  /** The endpoints of each service FQDN (or ServiceEntry host): mesh workloads, and addresses outside the mesh. */
  workloadsByService: Map<string, Endpoint[]>;
  workloadByName: Map<string, WorkloadInfo>;
  /** The VirtualService in force at this proxy for each service FQDN that has one. */
  meshRoutes: Map<string, CompiledVirtualService>;
  /** One route table per `fqdn:port` of every service. */
  routes: Map<string, RouteTable>;
  /** VirtualServices bound to a Gateway that the ingress sees. */
  gatewayRoutes: CompiledVirtualService[];
  /** Gateway API: every route with its status, and the ingress's tables per Gateway port (`ns/name:port`). */
  gatewayApi: GatewayApiTables;
  gatewayPorts: Map<string, GatewayPortTable>;
  /** The Istio Gateways of the snapshot and, at the ingress, those Gateway API TLS and TCP listeners are served as (routing/gatewayApi/l4.ts). */
  istioGateways: Resource<'Gateway'>[];
  /** The Gateways this proxy serves, by qualified name `ns/name`, with their server hosts (all, and per server port). */
  gateways: Map<string, { hosts: string[]; servers: GatewayServerView[] }>;
  /** Ports of Gateway servers of protocol TCP (or MONGO), which the ingress binds on 127.0.0.1, with the Gateways that have them. */
  gatewayTcpPorts: Map<number, string[]>;
  /** Ports of Gateway servers that pass TLS through (protocol TLS, or HTTPS, with `tls.mode: PASSTHROUGH` or no mode), routed by tls[] sniHosts; bound like TCP ones. */
  gatewayTlsPorts: Map<number, string[]>;
  /** Of the TCP ports, those of servers of protocol TLS with a terminating mode: the ingress terminates TLS with their certificates first. */
  gatewayTerminatedTcpPorts: Set<number>;
  /** The DestinationRule in force at this proxy per service FQDN (merged), and the rules merged into it. */
  destinationRules: Map<string, DestinationRuleSpec>;
  destinationRuleSources: Map<string, string[]>;
  /** The ports this workload serves, by `fqdn:servicePort`, and the one a request naming none gets. */
  inbound: { byDestination: Map<string, InboundPort>; primary: InboundPort } | null;
  /** PeerAuthentication composed for this workload (inbound). */
  mtls: ResolvedMtls;
  /** The modes of its inbound ports: a connection is admitted when one of them admits it. */
  mtlsModes: EnforcedMode[];
  /** The defaults in force (the snapshot's, or the newest Istio's for a snapshot without them). */
  defaults: ResolvedDefaults;
  /** The flavor's profile (identity format, kinds), looked up once per snapshot: filters read it here, never the flavor's name. */
  flavor: FlavorProfile;
  /** What this proxy does with a host outside its registry: the Sidecar's mode, else the Mesh's, else ALLOW_ANY. */
  outbound: { mode: OutboundTrafficMode; source: string };
  /** `ns/name` of the Sidecar resource in force for this workload, if any. */
  sidecarResource?: string;
  /** The Telemetry resources in force for this proxy, merged (tracing, access log, metrics per side), resolved once per snapshot. */
  telemetry: ResolvedTelemetry;
}

/** One server of a Gateway this proxy serves: its port, protocol (upper case) and hosts (without their `namespace/`). */
export interface GatewayServerView {
  port: number;
  protocol: string;
  hosts: string[];
  /** The ingress terminates its TLS on a port of its own (gateway-tls.ts): the plain ingress port does not serve its hosts. */
  terminated?: boolean;
  /** `tls.httpsRedirect`: a plain HTTP request gets a 301 to https. */
  httpsRedirect?: boolean;
  /** A TLS server that terminates (SIMPLE, MUTUAL, ISTIO_MUTUAL ...: the ingress's handshake, the egress gateway's tunnel), its decrypted stream routed by tcp[] (gateway-tls.ts). */
  terminatedTcp?: boolean;
  /** A server that passes the client's TLS through, routed by tls[] sniHosts (gateway-tls.ts isTlsPassthrough). */
  passthrough?: boolean;
  /** Per host (as `hosts`), the namespace whose VirtualServices it admits (`ns/host`; `./host` the Gateway's own); absent: any. */
  hostNamespaces: (string | undefined)[];
}

export const routeKey = (fqdn: string, port: number) => `${fqdn}:${port}`;

export function compileTables(snapshot: MeshSnapshot, workload: string | null): MeshTables {
  checkShape(snapshot);
  const ns = snapshot.namespace;
  const rootNamespace = snapshot.rootNamespace ?? ROOT_NAMESPACE;
  const self = workload === null ? null : snapshot.workloads.find((w) => w.name === workload) ?? null;
  if (workload !== null && !self) throw new Error(`workload "${workload}" is not in snapshot ${snapshot.version}`);
  // The ingress gateway runs in istio-system, as Istio's does.
  const proxyNamespace = self ? self.namespace : 'istio-system';
  const hostNamespace = self ? self.namespace : ns;

  const serviceByHost = new Map<string, ServiceInfo>();
  const workloadsByService = new Map<string, Endpoint[]>();
  const workloadByName = new Map(snapshot.workloads.map((w) => [w.name, w]));
  // The Sidecar resource in force narrows what this proxy knows (gateways have none).
  const scope = self ? sidecarScope(snapshot.sidecars ?? [], { namespace: self.namespace, labels: self.labels }, rootNamespace, ns) : { knows: () => true, source: undefined, mode: undefined };
  const meshServices = snapshot.services.filter((s) => scope.knows(s.fqdn, s.namespace));
  for (const s of meshServices) {
    const fqdn = (s.fqdn || serviceFqdn(s.name, s.namespace)).toLowerCase();
    for (const alias of [fqdn, `${s.name}.${s.namespace}.svc`, `${s.name}.${s.namespace}`]) if (!serviceByHost.has(alias.toLowerCase())) serviceByHost.set(alias.toLowerCase(), s);
    workloadsByService.set(fqdn, s.workloads.map((n) => workloadByName.get(n)).filter((w): w is WorkloadInfo => !!w));
  }
  // Short names resolve in this proxy's namespace, as a Kubernetes DNS search path does.
  for (const s of meshServices) if (s.namespace === hostNamespace) serviceByHost.set(s.name.toLowerCase(), s);
  // ServiceEntry hosts exported to this proxy's namespace and in its Sidecar's scope; the first entry of a host wins.
  const entries = serviceEntryServices(snapshot.serviceEntries ?? [], snapshot.workloadEntries ?? [], snapshot.workloads, ns)
    .filter(({ service: s }) => visibleTo(s.entry.exportTo, s.namespace, proxyNamespace) && scope.knows(s.fqdn, s.namespace));
  const wildcardEntries: ServiceInfo[] = [];
  const entryServices: ServiceInfo[] = [];
  for (const { service: s, endpoints } of entries) {
    if (entryServices.some((e) => e.fqdn === s.fqdn) || meshServices.some((m) => m.fqdn === s.fqdn)) continue;
    entryServices.push(s);
    if (s.fqdn.startsWith('*')) wildcardEntries.push(s);
    else serviceByHost.set(s.fqdn, s);
    workloadsByService.set(s.fqdn, [...s.workloads.map((n) => workloadByName.get(n)).filter((w): w is WorkloadInfo => !!w), ...endpoints]);
  }
  wildcardEntries.sort((a, b) => b.fqdn.length - a.fqdn.length);
  const registry = [...meshServices, ...entryServices];

  // Delegates (VirtualServices without hosts) apply only inside the roots that name them.
  const byName = new Map(snapshot.virtualServices.map((vs) => [`${vs.metadata.namespace ?? ns}/${vs.metadata.name}`, vs]));
  const lookup: VirtualServiceLookup = (namespace, name) => byName.get(`${namespace}/${name}`);
  // Pilot orders VirtualServices by creationTimestamp, then name (gateway-api/age.ts byCreation): the order a host's sidecar pick, a gateway's merged routes and its TLS/TCP chains follow.
  const byAge = byCreation(snapshot.virtualServices, (vs) => ({ created: vs.metadata.creationTimestamp, name: vs.metadata.name, namespace: vs.metadata.namespace ?? ns }));
  const compiled = byAge.map((vs) => compileVirtualService(vs, ns, lookup));
  const visible = visibleVirtualServices(compiled, proxyNamespace);
  const meshVisible = visible.filter((vs) => vs.gateways.includes('mesh'));
  const meshRoutes = new Map<string, CompiledVirtualService>();
  const routes = new Map<string, RouteTable>();
  const gatewayApi = compileGatewayApi(snapshot);
  for (const s of registry) {
    const vs = virtualServiceFor(meshVisible, s.fqdn);
    if (vs) meshRoutes.set(s.fqdn, vs);
    for (const port of portsOf(s)) {
      const attached = meshRoutesFor(gatewayApi, s, port.port, proxyNamespace);
      routes.set(routeKey(s.fqdn, port.port), routeSource(s, port, vs && virtualServiceTable(s, port, vs), attached, proxyNamespace, vs && { created: vs.created, namespace: vs.namespace, name: vs.name }));
    }
  }
  const gatewayPorts = gatewayPortTables(gatewayApi);
  // Gateway API TLS and TCP listeners are the ingress's Istio Gateway servers, their routes tls[] / tcp[] rules (as pilot converts them).
  const l4 = self ? { gateways: [], routes: [] } : gatewayApiL4(gatewayApi);
  const gatewayRoutes = [...visible.filter((vs) => vs.gateways.some((g) => g !== 'mesh')), ...l4.routes];

  const labels = self?.labels ?? snapshot.ingress.labels;
  const destinationRules = new Map<string, DestinationRuleSpec>();
  const destinationRuleSources = new Map<string, string[]>();
  for (const s of registry) {
    const dr = destinationRuleFor(snapshot.destinationRules, { namespace: proxyNamespace, labels, rootNamespace }, s, ns);
    if (!dr) continue;
    destinationRules.set(s.fqdn, dr.spec);
    destinationRuleSources.set(s.fqdn, dr.from);
  }

  const gateways = new Map<string, { hosts: string[]; servers: GatewayServerView[] }>();
  const gatewayTcpPorts = new Map<number, string[]>();
  const gatewayTlsPorts = new Map<number, string[]>();
  const gatewayTerminatedTcpPorts = new Set<number>();
  // The Gateways this proxy serves: the egress gateway those that select it, the ingress every other one (egress-gateway.ts).
  const serves = (spec: GatewaySpec | undefined) => (self ? isEgressGateway(self) && selects(spec?.selector ?? {}, self.labels) : !selectsEgressGateway(spec));
  // Pilot merges Gateways oldest first (initGateways: creationTimestamp, then name, then namespace): the order of a port's servers, hence of a virtual host's routes and of a passthrough port's chains.
  const istioGateways = byCreation([...snapshot.gateways, ...l4.gateways], (gw) => ({ created: gw.metadata.creationTimestamp, name: gw.metadata.name, namespace: gw.metadata.namespace ?? ns }));
  const keyOf = (gw: Resource<'Gateway'>) => `${gw.metadata.namespace ?? ns}/${gw.metadata.name}`;
  // A server with tls naming a host an earlier one took on its port is skipped whole, as pilot's mergeGateways does (gateway-merge.ts).
  const dropped = droppedGatewayServers(istioGateways.filter((gw) => serves(gw.spec)).map((gw) => ({ key: keyOf(gw), spec: gw.spec })));
  for (const gw of istioGateways) {
    if (!serves(gw.spec)) continue;
    const name = keyOf(gw);
    const kept = (gw.spec.servers ?? []).filter((_, i) => !dropped.has(`${name}#${i}`));
    for (const server of kept) {
      if (typeof server.port?.number !== 'number') continue;
      // A TLS server that terminates is a TCP server behind the handshake: its stream is routed by tcp[] rules.
      const terminatesTcp = !self && terminatedProtocol(server) === 'TLS';
      if (terminatesTcp) gatewayTerminatedTcpPorts.add(server.port.number);
      const ports = isTlsPassthrough(server) ? gatewayTlsPorts : terminatesTcp || ['TCP', 'MONGO'].includes(String(server.port.protocol).toUpperCase()) ? gatewayTcpPorts : undefined;
      ports?.set(server.port.number, [...(ports.get(server.port.number) ?? []), name]);
    }
    const hostsOf = (list: string[] | undefined) => (list ?? []).map((h) => (h.includes('/') ? h.slice(h.indexOf('/') + 1) : h).toLowerCase());
    const gatewayNamespace = gw.metadata.namespace ?? ns;
    const namespacesOf = (list: string[] | undefined) => (list ?? []).map((h) => {
      const at = h.indexOf('/');
      const n = at < 0 ? '*' : h.slice(0, at);
      return n === '*' ? undefined : n === '.' ? gatewayNamespace : n;
    });
    const servers = kept.map((s): GatewayServerView => ({
      port: Number(s.port?.number), protocol: String(s.port?.protocol ?? '').toUpperCase(), hosts: hostsOf(s.hosts), hostNamespaces: namespacesOf(s.hosts),
      ...(isTlsPassthrough(s) ? { passthrough: true } : {}),
      // A TLS server that terminates is routed by tcp[] at either gateway (pilot createGatewayTCPFilterChainOpts); at the
      // egress gateway the sidecar's mTLS tunnel stands for its handshake (ISTIO_MUTUAL, as Istio's tasks write it).
      ...(!self && terminatingMode(s) ? { terminated: true } : {}), ...(terminatedProtocol(s) === 'TLS' ? { terminatedTcp: true } : {}), ...(redirectsToHttps(s) ? { httpsRedirect: true } : {}),
    }));
    gateways.set(name, { hosts: servers.flatMap((s) => s.hosts), servers });
  }

  const identity = self
    ? { spiffeId: self.spiffeId, labels: self.labels, namespace: self.namespace, name: self.name }
    : { spiffeId: snapshot.ingress.spiffeId, labels: snapshot.ingress.labels, namespace: proxyNamespace, name: snapshot.ingress.name };
  const defaults = snapshot.defaults ?? resolveDefaults();
  const mtls: ResolvedMtls = self
    ? composePeerAuthentication(snapshot.peerAuthentications, { namespace: self.namespace, labels: self.labels }, ns, rootNamespace, defaults.mtlsMode)
    : { mode: 'PERMISSIVE', source: 'ingress' };
  const inbound = self ? inboundPorts(self, snapshot.services, mtls) : null;
  const mtlsModes = inbound ? [...new Set([inbound.primary, ...inbound.byDestination.values()].map((p) => p.mtls.mode))] : [mtls.mode];

  const outbound = scope.mode
    ? { mode: scope.mode, source: `Sidecar ${scope.source}` }
    : { mode: snapshot.outboundTrafficPolicy ?? 'ALLOW_ANY', source: snapshot.outboundTrafficPolicy ? 'Mesh spec.outboundTrafficPolicy' : 'default' };

  // The ingress (istio-system) takes Telemetries by selector and by targetRefs to the Gateway API Gateways it serves.
  const gatewayNames = self ? undefined : (snapshot.kubernetesGateways ?? []).map((g) => `${g.metadata.namespace ?? ns}/${g.metadata.name}`);
  const telemetry = resolveTelemetry(snapshot.telemetries, { namespace: proxyNamespace, labels, ...(gatewayNames ? { gateways: gatewayNames } : {}) }, rootNamespace, ns, process.env);

  return {
    version: snapshot.version, snapshot, self, identity, hostNamespace, rootNamespace, serviceByHost, registry, wildcardEntries, workloadsByService, workloadByName,
    meshRoutes, routes, gatewayRoutes, gatewayApi, gatewayPorts, istioGateways, gateways, gatewayTcpPorts, gatewayTlsPorts, gatewayTerminatedTcpPorts, destinationRules, destinationRuleSources, inbound, mtls, mtlsModes, defaults, flavor: flavorProfile(defaults.flavor),
    outbound, sidecarResource: scope.source, telemetry,
  };
}

/**
 * The rules of a VirtualService that apply on one service port (pilot's
 * route translation for a listener port): a match naming another `port` is
 * dropped, and a rule left without matches does not apply there.
 */
function virtualServiceTable(service: ServiceInfo, port: ServicePortInfo, vs: CompiledVirtualService): RouteTable {
  const cls = protocolClass(port.protocol);
  return {
    service, port, source: { api: 'VirtualService', resources: [{ kind: 'VirtualService', namespace: vs.namespace, name: vs.name }] },
    rules: onPort(vs.rules, port.port),
    // Istio applies tcp[] to ports that are neither HTTP nor TLS, tls[] to TLS ports (VirtualService proto).
    tcp: cls === 'tcp' ? onPort(vs.tcp, port.port) : [],
    tls: cls === 'tls' ? onPort(vs.tls, port.port) : [],
  };
}

/** The rules with the matches that may apply on a port: a match naming another port is dropped, a rule left with none too. */
function onPort<R extends { matches: { source: { port?: number } }[] | null }>(rules: readonly R[], port: number): R[] {
  const out: R[] = [];
  for (const r of rules) {
    if (r.matches === null) { out.push(r); continue; }
    const here = r.matches.filter((m) => m.source.port === undefined || m.source.port === port);
    if (here.length === r.matches.length) out.push(r);
    else if (here.length > 0) out.push({ ...r, matches: here });
  }
  return out;
}

function compileL4Rules(list: (TCPRoute | TLSRoute)[] | undefined, section: 'tcp' | 'tls', vs: Resource<'VirtualService'>, namespace: string): CompiledL4Rule[] {
  return (list ?? []).map((rule, index): CompiledL4Rule => {
    for (const d of rule.route ?? []) {
      if (d.weight !== undefined && (typeof d.weight !== 'number' || d.weight < 0)) throw new Error(`VirtualService ${vs.metadata.name}: ${section}[${index}] has a negative or non-numeric weight`);
    }
    return {
      index, route: rule.route ?? [], origin: { kind: 'VirtualService', namespace, name: vs.metadata.name, rule: index, section },
      matches: rule.match && rule.match.length > 0 ? rule.match.map((m) => compileL4Match(m, namespace)) : null,
    };
  });
}

/** Service port -> container port -> the app's local port, for every service that selects the workload. */
function inboundPorts(self: WorkloadInfo, services: readonly ServiceInfo[], mtls: ResolvedMtls): NonNullable<MeshTables['inbound']> {
  const port = (targetPort: string, protocol: Protocol, service?: ServiceInfo, servicePort?: number): InboundPort => {
    const localPort = localPortOf(self, targetPort);
    const number = containerPortNumber(targetPort, localPort);
    return { service, servicePort, targetPort, number, localPort, protocol, mtls: mtlsForPort(mtls, number) };
  };
  const byDestination = new Map<string, InboundPort>();
  const selecting = services.filter((s) => s.workloads.includes(self.name));
  for (const s of selecting) for (const p of portsOf(s)) byDestination.set(routeKey(s.fqdn, p.port), port(String(p.targetPort), p.protocol, s, p.port));
  // A request that names no service port gets the first port of the workload's own service.
  const own = selecting.find((s) => s.name === self.service) ?? selecting[0];
  return { byDestination, primary: own ? byDestination.get(routeKey(own.fqdn, portsOf(own)[0].port))! : port(String(self.appPort), 'http') };
}

function compileVirtualService(vs: Resource<'VirtualService'>, meshNs: string, lookup: VirtualServiceLookup): CompiledVirtualService {
  const spec: VirtualServiceSpec = vs.spec ?? {};
  const namespace = vs.metadata.namespace ?? meshNs;
  const gateways = spec.gateways && spec.gateways.length > 0 ? spec.gateways.map((g) => qualifyGateway(g, namespace)) : ['mesh'];
  const rules = mergeDelegates(spec.http ?? [], { namespace, name: vs.metadata.name }, lookup, meshNs).map(({ rule, from }, index): CompiledRule => {
    for (const d of rule.route ?? []) {
      if (d.weight !== undefined && (typeof d.weight !== 'number' || d.weight < 0)) throw new Error(`VirtualService ${from.name}: http[${from.rule}] has a negative or non-numeric weight`);
    }
    if (rule.rewrite?.uriRegexRewrite) compileFullRegex(rule.rewrite.uriRegexRewrite.match);
    return {
      index, rule, origin: { kind: 'VirtualService', ...from },
      matches: rule.match && rule.match.length > 0 ? rule.match.map((m) => compileMatch(m, namespace)) : null,
    };
  });
  return {
    name: vs.metadata.name, namespace, created: vs.metadata.creationTimestamp, hosts: (spec.hosts ?? []).flatMap((h) => vsHosts(h, namespace)), gateways, exportTo: spec.exportTo, rules,
    tcp: compileL4Rules(spec.tcp, 'tcp', vs, namespace), tls: compileL4Rules(spec.tls, 'tls', vs, namespace),
  };
}

/** A VirtualService host: the service it qualifies to, and a dotted name as written too (a ServiceEntry's `api.example.com`). */
function vsHosts(host: string, namespace: string): string[] {
  const q = qualifyHost(host, namespace);
  const literal = stripPort(host).toLowerCase();
  return literal.includes('.') && literal !== q ? [q, literal] : [q];
}

function checkShape(s: MeshSnapshot): void {
  if (!s || typeof s !== 'object') throw new Error('snapshot is not an object');
  if (typeof s.version !== 'number') throw new Error('snapshot has no numeric version');
  for (const key of ['services', 'workloads', 'virtualServices', 'destinationRules', 'gateways', 'peerAuthentications', 'authorizationPolicies'] as const) {
    if (!Array.isArray(s[key])) throw new Error(`snapshot.${key} is not a list`);
  }
  if (!s.ingress) throw new Error('snapshot has no ingress');
}

/** The service a Host / :authority names, as this proxy resolves it (port ignored): a mesh service or a ServiceEntry host. */
export function serviceForAuthority(t: MeshTables, authority: string): ServiceInfo | undefined {
  const host = stripPort(authority).toLowerCase();
  return t.serviceByHost.get(host) ?? t.serviceByHost.get(qualifyHost(host, t.hostNamespace)) ?? t.wildcardEntries.find((s) => hostMatches(s.fqdn, host));
}

/**
 * The service a route destination names, written in a resource of
 * `namespace`: a ServiceEntry host as written (`api.example.com`, which
 * qualifyHost would read as a service in namespace `example`), else the
 * mesh service the name qualifies to.
 */
export function destinationService(t: MeshTables, host: string, namespace: string): ServiceInfo | undefined {
  const literal = host.toLowerCase();
  const entry = t.serviceByHost.get(literal);
  if (entry?.entry) return entry;
  return t.serviceByHost.get(qualifyHost(host, namespace)) ?? (literal.includes('.') ? t.wildcardEntries.find((s) => hostMatches(s.fqdn, literal)) : undefined);
}

/** The VirtualService a sidecar applies to a service FQDN. */
export function meshVirtualService(t: MeshTables, fqdn: string): CompiledVirtualService | undefined {
  return t.meshRoutes.get(fqdn);
}

/** The services a caller here can name, short where its namespace allows. */
export function knownServices(t: MeshTables): string {
  return t.snapshot.services.map((s) => `${s.namespace === t.hostNamespace ? s.name : `${s.name}.${s.namespace}`}:${portsOf(s).map((p) => p.port).join(',')}`).join(', ') || '(none)';
}
