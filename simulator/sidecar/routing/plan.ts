/**
 * The routing decision for one request, as a pure function of the compiled
 * tables, the request's attributes and a random source: which route table
 * (the service host and the service port the request addressed), which of
 * its rules applies (first match wins), and what it does — forward to a
 * destination (host, subset, service port) picked by weight, redirect, or
 * answer directly. Every plan names the rule it came from.
 */
import type { HTTPMatchRequest, HTTPRoute, HeaderOperations } from '../../policy/model';
import { authorityPort, hostMatches, qualifyHost, stripPort } from '../../policy/hosts';
import type { ServiceInfo } from '../../protocol';
import { ProxyError, noRoute } from '../errors';
import { destinationService, knownServices, routeKey, serviceForAuthority, type CompiledRule, type CompiledVirtualService, type GatewayServerView, type MeshTables, type RouteOrigin, type RouteSource } from '../tables';
import { outsideRegistry } from './outboundPolicy';
import { gatewayApiOutcome } from './gatewayApi/action';
import { gatewayPortKey, ingressRoutesFor } from './gatewayApi/attach';
import { workloadAtAddress } from './podAddress';
import type { CompiledMatch, RequestAttributes } from './match';
import { redirectLocation, rewritePath } from './rewrite';
import { describePorts, destinationPort, portsOf, requestedPort } from './servicePorts';
import { pickWeighted } from './weights';
import { buildVirtualHosts, pickVirtualHost, virtualHostRoutes, type VirtualHost } from './virtualHost';
import type { RandomSource } from '../../random';

export interface ForwardPlan {
  kind: 'forward';
  /** The destination service and its FQDN (the "cluster", in Envoy's words). */
  service: ServiceInfo;
  host: string;
  subset?: string;
  /** The service port the request goes to. */
  port: number;
  /** Path and authority after rewrite. */
  path: string;
  authority: string;
  /** Route-level then destination-level operations. */
  requestHeaderOps: HeaderOperations[];
  responseHeaderOps: HeaderOperations[];
  /** The rule that matched (timeouts, retries and faults read it), and where it came from. */
  rule?: HTTPRoute;
  origin?: RouteOrigin;
  routeName: string;
  /** Where the caller sent the call (`host:port` as it named it): a resolution NONE host or the PassthroughCluster connects there. */
  target?: { host: string; port: number };
  /** A call to a workload's own address (a pod IP in Kubernetes): that workload only, no route applies. */
  endpoint?: string;
}

type Answer = { responseHeaderOps: HeaderOperations[]; routeName: string; origin?: RouteOrigin };

export type RoutePlan =
  | ForwardPlan
  | ({ kind: 'redirect'; status: number; location: string } & Answer)
  | ({ kind: 'direct'; status: number; body: string } & Answer)
  | { kind: 'error'; error: ProxyError; cluster?: string; routeName?: string };

/**
 * What explain learns while a plan is made (the sidecars pass none): each
 * rule the request did not match with the first condition each of its
 * matches failed, and at the ingress each Gateway and VirtualService looked at.
 */
export interface PlanObserver {
  missed?(rule: CompiledRule, failed: string[]): void;
  /** The rule that matched, and the match that did (none: the rule has no match conditions). */
  matched?(rule: CompiledRule, match: CompiledMatch | undefined): void;
  gateway?(name: string, hosts: string[], matched: boolean): void;
  /** `other-virtual-host`: its hosts cover the Host, but a more specific virtual host (`domain`) serves it. */
  virtualService?(name: string, gateway: string, outcome: 'host-not-covered' | 'other-virtual-host' | 'no-rule-matched' | 'routed', domain?: string): void;
}

/**
 * First rule whose matches (ORed; conditions inside one ANDed) accept the
 * request. Gateway API rules are already in precedence order, so the first
 * match is the most specific one there too.
 */
export function selectRule(source: { rules: readonly CompiledRule[] }, a: RequestAttributes, observer?: PlanObserver): { rule: HTTPRoute; match?: HTTPMatchRequest; index: number; origin: RouteOrigin; entry: CompiledRule } | undefined {
  for (const r of source.rules) {
    if (r.matches === null) {
      // A rule without match still honours the VS's gateways (checked by the caller).
      observer?.matched?.(r, undefined);
      return { rule: r.rule, index: r.index, origin: r.origin, entry: r };
    }
    for (const m of r.matches) {
      if (!m.test(a)) continue;
      observer?.matched?.(r, m);
      return { rule: r.rule, match: m.source, index: r.index, origin: r.origin, entry: r };
    }
    observer?.missed?.(r, r.matches.map((m) => m.failing?.(a) ?? 'did not match'));
  }
  return undefined;
}

/** `VirtualService ns/name`, `HTTPRoute ns/a, ns/b`. */
export function describeSource(source: RouteSource): string {
  return source.resources.map((r, i) => `${i === 0 || r.kind !== source.resources[i - 1].kind ? `${r.kind} ` : ''}${r.namespace}/${r.name}`).join(', ');
}

/**
 * A sidecar's (or the ingress's proxy-form) plan: the Host names a mesh
 * service as this proxy resolves it, its port one of the service's ports —
 * or, for a connection opened for one service port (a CONNECT tunnel, a
 * local upstream port), that port, whatever the Host says.
 */
export function planMesh(t: MeshTables, a: RequestAttributes, random: RandomSource, destination?: { host: string; port: number }, observer?: PlanObserver): RoutePlan {
  const target = destination ? `${destination.host}:${destination.port}` : a.authority;
  const service = serviceForAuthority(t, target);
  if (!service) {
    const pod = workloadAtAddress(t, target);
    if (pod) return { ...forwardTo(pod.service, undefined, pod.port, a.path + queryString(a.query), a.authority, [], [], undefined, 'passthrough'), endpoint: pod.workload };
    return outsideRegistry(t, { ...a, authority: target });
  }
  const port = requestedPort(service, authorityPort(target));
  // A ServiceEntry host on a port the entry does not declare: no listener route for it, as for any unknown host.
  if (port === undefined && service.entry) return outsideRegistry(t, { ...a, authority: target });
  if (port === undefined) {
    return { kind: 'error', error: new ProxyError(502, 'NR', 'unknown-port', `devmesh: service ${service.name}.${service.namespace} has no port ${authorityPort(target) ?? '80'}; it has ${describePorts(service)}: address one of them, e.g. http://${service.name}:${portsOf(service)[0].port}\n`) };
  }
  const table = t.routes.get(routeKey(service.fqdn, port))!;
  const attrs = { ...a, port };
  if (!table.source) return forwardTo(service, undefined, port, a.path + queryString(a.query), a.authority, [], [], undefined, 'default', undefined, targetOf(target, port));
  return applyRules(t, table.rules, describeSource(table.source), attrs, random, observer);
}

/**
 * The ingress's plan for an origin-form request: Gateways whose server hosts
 * cover the Host, then the VirtualServices bound to them whose hosts cover it.
 * With no Gateway at all, the Host must name a mesh service (devmesh's
 * shortcut for a mesh without an ingress configuration).
 */
export function planIngress(t: MeshTables, a: RequestAttributes, random: RandomSource, observer?: PlanObserver, serverPort?: number): RoutePlan {
  if (t.gateways.size === 0) return planMesh(t, a, random, undefined, observer);
  const host = stripPort(a.authority).toLowerCase();
  // The plain ingress port stands for the server port the Host names (80 without one), when a plain server listens there.
  const port = serverPort ?? plainServerPort(t, a);
  // At the egress gateway (or a port of its own) the request came to one server port: only servers of that port serve it, and match.port is that port.
  if (port !== undefined) a = { ...a, port };
  // The plain ingress port serves every server but those whose TLS the ingress terminates on their own port.
  const servers = (g: { servers: GatewayServerView[] }) => g.servers.filter((s) => (serverPort !== undefined ? s.port === serverPort : !s.terminated && (port === undefined || s.port === port)));
  const gateways = [...t.gateways].filter(([name, g]) => {
    const hit = servers(g).some((s) => s.hosts.some((h) => hostMatches(h, host)));
    observer?.gateway?.(name, g.hosts, hit);
    return hit;
  }).map(([name]) => name);
  // One virtual host per name the servers and the VirtualServices share; Envoy serves the Host from the most specific one only.
  const vhost = pickVirtualHost(virtualHostsAt(t, serverPort === undefined ? `plain:${port ?? '*'}` : String(serverPort), servers), host, (s) => virtualHostRoutes([s], a).length > 0);
  // tls.httpsRedirect on a server that brought the virtual host: Envoy's require_tls answers every plain request 301 to https, before any route.
  if (vhost?.requireTls && a.scheme !== 'https') return { kind: 'redirect', status: 301, location: `https://${host}${a.path}${queryString(a.query)}`, responseHeaderOps: [], routeName: 'https_redirect' };
  const sources = vhost?.sources.filter((s) => gateways.includes(s.gateway)) ?? [];
  const name = (vs: CompiledVirtualService) => `${vs.namespace}/${vs.name}`;
  for (const gw of gateways) {
    for (const vs of t.gatewayRoutes) {
      if (!vs.gateways.includes(gw) || sources.some((s) => s.virtualService === vs && s.gateway === gw)) continue;
      const covers = vs.hosts.some((h) => hostMatches(h, host));
      observer?.virtualService?.(name(vs), gw, covers && vhost ? 'other-virtual-host' : 'host-not-covered', vhost?.domain);
    }
  }
  // Its routes: each VirtualService's in turn, oldest first, catch-alls last.
  const routes = virtualHostRoutes(sources, a);
  for (let i = 0; i < routes.length; i++) {
    const { entry, gateway, virtualService: vs } = routes[i];
    const attrs = { ...a, gateway };
    const hit = selectRule({ rules: [entry] }, attrs, observer);
    if (!hit) continue;
    // Explain: the VirtualServices whose routes came before the one that matched had no rule for the request.
    const tried = new Set(routes.slice(0, i).map((r) => r.virtualService));
    for (const s of sources) if (tried.has(s.virtualService) && s.virtualService !== vs) observer?.virtualService?.(name(s.virtualService), s.gateway, 'no-rule-matched', vhost?.domain);
    observer?.virtualService?.(name(vs), gateway, 'routed', vhost?.domain);
    return planFor(t, hit, attrs, random);
  }
  for (const s of sources) observer?.virtualService?.(name(s.virtualService), s.gateway, 'no-rule-matched', vhost?.domain);
  const names = [...t.gateways.keys()].join(', ');
  const here = t.self ? `the egress gateway${serverPort !== undefined ? ` (server port ${serverPort})` : ''}` : 'the ingress';
  // Envoy does not fall back to a wider host's routes: no route of the chosen virtual host is 404 NR.
  if (vhost) return { kind: 'error', error: noRoute(`devmesh: no route of virtual host "${vhost.domain}" at ${here} (VirtualService ${[...new Set(sources.map((s) => name(s.virtualService)))].join(', ')}) matches ${a.method} ${a.path}${a.port ? ` on port ${a.port}` : ''}; Envoy serves host "${host}" from that virtual host only, never from a wider host's routes\n`, 'no-route-match') };
  return { kind: 'error', error: noRoute(`devmesh: no Gateway/VirtualService at ${here} routes host "${host}" (gateways: ${names})\n`, 'no-gateway-route') };
}

/**
 * The Gateway server port whose route config (pilot's `http.<port>`) a
 * request to the plain ingress port gets: the port its Host names, 80 when
 * it names none — when a plain server listens there. Otherwise (a Host of
 * `127.0.0.1:15080`, servers on 8080 only) undefined: every plain server
 * serves it, devmesh's one plain port standing for them all.
 */
export function plainServerPort(t: MeshTables, a: Pick<RequestAttributes, 'authority'>): number | undefined {
  const port = authorityPort(a.authority) ?? 80;
  for (const g of t.gateways.values()) if (g.servers.some((s) => !s.terminated && s.port === port)) return port;
  return undefined;
}

/** The virtual hosts of the servers a plain request (of one server port, or of all) or one to a server port reaches, built once per tables. */
const virtualHostCache = new WeakMap<MeshTables, Map<string, Map<string, VirtualHost>>>();
function virtualHostsAt(t: MeshTables, key: string, servers: (g: { servers: GatewayServerView[] }) => GatewayServerView[]): Map<string, VirtualHost> {
  let byPort = virtualHostCache.get(t);
  if (!byPort) virtualHostCache.set(t, (byPort = new Map()));
  let hosts = byPort.get(key);
  if (!hosts) {
    const list = [...t.gateways].flatMap(([gateway, g]) => servers(g).map((s) => ({ gateway, hosts: s.hosts, hostNamespaces: s.hostNamespaces, ...(s.httpsRedirect ? { httpsRedirect: true } : {}) })));
    byPort.set(key, (hosts = buildVirtualHosts(list, t.gatewayRoutes)));
  }
  return hosts;
}

/**
 * The ingress's plan for a request that came to a Gateway API listener port:
 * the listener of that port whose hostname covers the Host most
 * specifically, then the routes serving that Host's most specific hostname
 * there, by precedence. No listener or route for the Host is 404, as Envoy
 * answers a Host no virtual host serves.
 */
export function planGatewayListener(t: MeshTables, l: { gateway: string; port: number; scheme: 'http' | 'https' }, a: RequestAttributes, random: RandomSource, observer?: PlanObserver): RoutePlan {
  const table = t.gatewayPorts.get(gatewayPortKey(l.gateway, l.port));
  const host = stripPort(a.authority).toLowerCase();
  const hit = table ? ingressRoutesFor(table, host) : undefined;
  if (!hit || hit.entries.length === 0) {
    const why = !table ? 'no longer serves this port' : hit?.listener === undefined ? `has no listener on port ${l.port} for host "${host}"` : `has no route attached to listener ${hit.listener} for host "${host}"`;
    return { kind: 'error', error: noRoute(`devmesh: Gateway ${l.gateway} ${why}\n`, 'no-gateway-route') };
  }
  const source = describeSource({ api: 'HTTPRoute', resources: hit.routes.map((r) => ({ kind: r.kind, namespace: r.status.namespace, name: r.status.name })) });
  return applyRules(t, hit.entries, source, { ...a, gateway: l.gateway, scheme: l.scheme, listenerPort: l.port }, random, observer);
}

function applyRules(t: MeshTables, rules: readonly CompiledRule[], source: string, a: RequestAttributes, random: RandomSource, observer?: PlanObserver): RoutePlan {
  const hit = selectRule({ rules }, a, observer);
  if (!hit) {
    return { kind: 'error', error: noRoute(`devmesh: no rule of ${source} matches ${a.method} ${a.path}${a.port ? ` on port ${a.port}` : ''}\n`, 'no-route-match') };
  }
  return planFor(t, hit, a, random);
}

/** What the rule that matched does with the request. */
function planFor(t: MeshTables, hit: NonNullable<ReturnType<typeof selectRule>>, a: RequestAttributes, random: RandomSource): RoutePlan {
  const { rule, match, index, origin, entry } = hit;
  const routeName = rule.name ?? `${origin.name}.${index}`;
  if (entry.gatewayApi) return gatewayApiPlan(t, entry, a, random, routeName);
  const responseOps = rule.headers?.response ? [rule.headers.response] : [];
  if (rule.directResponse) {
    const body = rule.directResponse.body?.string ?? (rule.directResponse.body?.bytes ? Buffer.from(rule.directResponse.body.bytes, 'base64').toString() : '');
    return { kind: 'direct', status: rule.directResponse.status, body, responseHeaderOps: responseOps, routeName, origin };
  }
  if (rule.redirect) {
    const { status, location } = redirectLocation(rule.redirect, { authority: a.authority, path: a.path + queryString(a.query), scheme: 'http', port: a.port || undefined });
    return { kind: 'redirect', status, location, responseHeaderOps: responseOps, routeName, origin };
  }
  const dest = pickWeighted(rule.route ?? [], random);
  if (!dest) return { kind: 'error', error: new ProxyError(503, 'UH', 'no-weighted-destination', `devmesh: route ${routeName} has no destination with a weight above 0\n`) };
  const fqdn = qualifyHost(dest.destination.host, origin.namespace);
  const service = destinationService(t, dest.destination.host, origin.namespace);
  if (!service) return { kind: 'error', error: new ProxyError(503, 'NC', 'unknown-destination', `devmesh: route ${routeName} sends to ${fqdn}, which is not a mesh service; known services: ${knownServices(t)}\n`) };
  const port = destinationPort(service, dest.destination.port?.number, a.port);
  if (!portsOf(service).some((p) => p.port === port)) {
    const why = dest.destination.port ? `port ${port}` : `no destination.port, and the request's port ${a.port || '(none)'} is not one of its ports (IST0112)`;
    return { kind: 'error', error: new ProxyError(503, 'NC', 'unknown-destination-port', `devmesh: route ${routeName} sends to ${service.name}.${service.namespace} with ${why}; it has ${describePorts(service)}\n`) };
  }
  let path = a.path + queryString(a.query);
  let authority = a.authority;
  if (rule.rewrite) {
    path = rewritePath(path, rule.rewrite, match);
    if (rule.rewrite.authority) authority = rule.rewrite.authority;
  }
  const requestOps = [rule.headers?.request, dest.headers?.request].filter((o): o is HeaderOperations => !!o);
  const responseAll = [...responseOps, ...(dest.headers?.response ? [dest.headers.response] : [])];
  // A resolution NONE destination is called where the request was sent, on the destination's port.
  return forwardTo(service, dest.destination.subset, port, path, authority, requestOps, responseAll, rule, routeName, origin, targetOf(a.authority, port));
}

/** A Gateway API rule's outcome as a plan: its redirect, its 500s, or the backend it picked. */
function gatewayApiPlan(t: MeshTables, entry: CompiledRule, a: RequestAttributes, random: () => number, routeName: string): RoutePlan {
  const origin = entry.origin;
  const out = gatewayApiOutcome(entry.gatewayApi!, origin, routeName, { method: a.method, path: a.path + queryString(a.query), authority: a.authority, scheme: a.scheme ?? 'http', port: a.listenerPort ?? a.port }, random);
  switch (out.kind) {
    case 'error': return out;
    case 'redirect': return { ...out, routeName, origin };
    case 'direct': return { ...out, routeName, origin };
    case 'forward': {
      const service = t.serviceByHost.get(out.fqdn);
      if (!service) return { kind: 'error', error: new ProxyError(500, 'NC', 'invalid-backend', `devmesh: route ${routeName} sends to ${out.fqdn}, which is not a mesh service\n`) };
      return forwardTo(service, undefined, out.port, out.path, out.authority, out.requestHeaderOps, out.responseHeaderOps, entry.rule, routeName, origin);
    }
  }
}

export function forwardTo(service: ServiceInfo, subset: string | undefined, port: number, path: string, authority: string, requestHeaderOps: HeaderOperations[], responseHeaderOps: HeaderOperations[], rule: HTTPRoute | undefined, routeName: string, origin?: RouteOrigin, target?: ForwardPlan['target']): ForwardPlan {
  return { kind: 'forward', service, host: service.fqdn, subset, port, path, authority, requestHeaderOps, responseHeaderOps, rule, origin, routeName, ...(target ? { target } : {}) };
}

/** The host the caller named (without brackets for IPv6) and the port the call goes to. */
export function targetOf(authority: string, port: number): NonNullable<ForwardPlan['target']> {
  return { host: stripPort(authority).replace(/^\[|\]$/g, ''), port };
}

export function queryString(q: Record<string, string>): string {
  // The original query string is kept by callers that have it; see attributesFor.
  return (q as { [RAW_QUERY]?: string })[RAW_QUERY] ?? '';
}

/** Where `attributesFor` keeps the raw `?a=b` so a rewrite does not re-encode it. */
export const RAW_QUERY = Symbol('rawQuery');

/** Builds the match attributes of a request. */
export function attributesFor(method: string, pathWithQuery: string, authority: string, headers: RequestAttributes['headers'], sourceLabels: Record<string, string>, gateway: string, sourceNamespace?: string): RequestAttributes {
  const q = pathWithQuery.indexOf('?');
  const path = q < 0 ? pathWithQuery : pathWithQuery.slice(0, q);
  const query: Record<string, string> = {};
  if (q >= 0) {
    for (const [k, v] of new URLSearchParams(pathWithQuery.slice(q + 1))) if (!(k in query)) query[k] = v;
    Object.defineProperty(query, RAW_QUERY, { value: pathWithQuery.slice(q), enumerable: false });
  }
  return { method, path, query, authority, headers, port: authorityPort(authority) ?? 0, sourceLabels, sourceNamespace, gateway };
}
