/**
 * Which Gateway API routes apply where, from a snapshot. Pure.
 *
 * Mesh (GAMMA): a route attached to a Service (all its ports, or the one its
 * parentRef names) routes calls to that service port. A producer route (in
 * the Service's namespace) applies to every caller; a consumer route (in
 * another namespace) applies only to callers in its own namespace, and for
 * them it replaces the producer routes. Routes of a third namespace do not
 * apply. `hostnames` is ignored for Service parents.
 *
 * Ingress: a route attached to a Gateway listener serves the hostnames it
 * shares with the listener; a request goes to the listener of its port with
 * the most specific hostname that covers its Host, then to the routes of the
 * most specific hostname there (one Envoy virtual host), by precedence.
 */
import { serviceFqdn } from '../../../policy/hosts';
import { hostnameMatches } from '../../../policy/gateway-api/hostnames';
import { gatewayApiStatus, isL4RouteKind, type GatewayApiWorld, type GatewayStatus, type RouteKind, type RouteStatus, type WorldService } from '../../../policy/gateway-api/status';
import type { Resource } from '../../../policy/model';
import type { MeshSnapshot } from '../../../protocol';
import { compileGatewayApiRoute, type GatewayApiEntry } from './compile';
import { byPrecedence, type RouteAge } from './precedence';
import { portsOf } from '../servicePorts';

export interface CompiledGatewayApiRoute {
  route: Resource<'HTTPRoute' | 'GRPCRoute' | 'TLSRoute' | 'TCPRoute'>;
  kind: RouteKind;
  status: RouteStatus;
  age: RouteAge;
  /** Its rules as Service parents use them, and as Gateway parents do; empty where it is accepted by no such parent. */
  mesh: GatewayApiEntry[];
  gateway: GatewayApiEntry[];
}

export interface GatewayApiTables {
  gateways: GatewayStatus[];
  routes: CompiledGatewayApiRoute[];
}

export function gatewayApiWorldOf(snapshot: MeshSnapshot): GatewayApiWorld {
  const services = new Map<string, WorldService>();
  for (const s of snapshot.services) services.set(`${s.namespace}/${s.name}`, { name: s.name, namespace: s.namespace, fqdn: s.fqdn, ports: portsOf(s) });
  return { services, gateways: snapshot.kubernetesGateways ?? [], referenceGrants: snapshot.referenceGrants ?? [], ...(snapshot.gatewaySecrets ? { secrets: new Map(Object.entries(snapshot.gatewaySecrets)) } : {}) };
}

/** Every route of the snapshot with its status, compiled once (the tables of each parent pick from them). */
export function compileGatewayApi(snapshot: MeshSnapshot): GatewayApiTables {
  const routes = [
    ...(snapshot.grpcRoutes ?? []).map((route) => ({ route, kind: 'GRPCRoute' as const })),
    ...(snapshot.httpRoutes ?? []).map((route) => ({ route, kind: 'HTTPRoute' as const })),
    // TLSRoutes and TCPRoutes get a status here; the ingress serves them as tls[] / tcp[] rules (l4.ts).
    ...(snapshot.tlsRoutes ?? []).map((route) => ({ route, kind: 'TLSRoute' as const })),
    ...(snapshot.tcpRoutes ?? []).map((route) => ({ route, kind: 'TCPRoute' as const })),
  ];
  if (routes.length === 0 && (snapshot.kubernetesGateways ?? []).length === 0) return { gateways: [], routes: [] };
  const world = gatewayApiWorldOf(snapshot);
  const status = gatewayApiStatus(world, routes);
  return {
    gateways: status.gateways,
    routes: routes.map(({ route, kind }, i) => {
      const s = status.routes[i];
      const compile = (parents: 'mesh' | 'gateway') => !isL4RouteKind(kind) && s.parents.some((p) => p.accepted && (parents === 'mesh' ? !!p.service : !!p.gateway))
        ? compileGatewayApiRoute(route as Resource<'HTTPRoute' | 'GRPCRoute'>, kind, s, (ns, name) => serviceFqdn(name, ns), parents) : [];
      return { route, kind, status: s, age: { created: route.metadata.creationTimestamp, namespace: s.namespace, name: s.name }, mesh: compile('mesh'), gateway: compile('gateway') };
    }),
  };
}

/** The routes attached to a service port that a caller in `callerNamespace` uses, and their entries by precedence. */
export function meshRoutesFor(g: GatewayApiTables, service: { name: string; namespace: string }, port: number, callerNamespace: string): { routes: CompiledGatewayApiRoute[]; entries: GatewayApiEntry[] } | undefined {
  const attached = g.routes.filter((r) => r.status.parents.some((p) => p.accepted && p.service && p.service.name === service.name && p.service.namespace === service.namespace && p.ports!.includes(port)));
  if (attached.length === 0) return undefined;
  const consumer = attached.filter((r) => r.status.namespace === callerNamespace && callerNamespace !== service.namespace);
  const routes = consumer.length > 0 ? consumer : attached.filter((r) => r.status.namespace === service.namespace);
  if (routes.length === 0) return undefined;
  return { routes, entries: sorted(routes, 'mesh') };
}

function sorted(routes: readonly CompiledGatewayApiRoute[], parents: 'mesh' | 'gateway'): GatewayApiEntry[] {
  const ageOf = new Map<GatewayApiEntry, RouteAge>();
  for (const r of routes) for (const e of r[parents]) ageOf.set(e, r.age);
  return byPrecedence(routes.flatMap((r) => r[parents]), (e) => ageOf.get(e)!);
}

// ---------- ingress ----------

/** One Gateway port as the ingress serves it: its listeners, each with its routes by hostname. */
export interface GatewayPortTable {
  gateway: string;
  port: number;
  protocol: string;
  listeners: {
    name: string;
    hostname?: string;
    /** Hostname (as the routes serve it) -> the entries of the routes serving it, by precedence. */
    hosts: Map<string, { routes: CompiledGatewayApiRoute[]; entries: GatewayApiEntry[] }>;
  }[];
}

/** `namespace/name:port` of a Gateway port. */
export const gatewayPortKey = (gateway: string, port: number) => `${gateway}:${port}`;

export function gatewayPortTables(g: GatewayApiTables): Map<string, GatewayPortTable> {
  const out = new Map<string, GatewayPortTable>();
  for (const gw of g.gateways) {
    for (const l of gw.listeners) {
      if (!l.served || (l.protocol !== 'HTTP' && l.protocol !== 'HTTPS')) continue;
      const key = gatewayPortKey(gw.key, l.port);
      let table = out.get(key);
      if (!table) out.set(key, (table = { gateway: gw.key, port: l.port, protocol: l.protocol, listeners: [] }));
      const byHost = new Map<string, CompiledGatewayApiRoute[]>();
      for (const r of g.routes) {
        for (const p of r.status.parents) {
          if (!p.accepted || p.gateway !== gw.key) continue;
          for (const at of p.listeners ?? []) {
            if (at.name !== l.name) continue;
            for (const h of at.hostnames) {
              const list = byHost.get(h) ?? [];
              if (!list.includes(r)) list.push(r);
              byHost.set(h, list);
            }
          }
        }
      }
      const hosts = new Map([...byHost].map(([h, routes]) => [h, { routes, entries: sorted(routes, 'gateway') }]));
      table.listeners.push({ name: l.name, ...(l.hostname ? { hostname: l.hostname } : {}), hosts });
    }
  }
  return out;
}

/** Most specific first: an exact name, then the longer wildcard, then `*` (Envoy's virtual host choice). */
function specificity(pattern: string): number {
  if (pattern === '*') return 0;
  return pattern.startsWith('*.') ? pattern.length : 1_000_000 + pattern.length;
}

/** The listener of a Gateway port and the routes that a request for `host` goes to. */
export function ingressRoutesFor(table: GatewayPortTable, host: string): { listener?: string; hostname?: string; entries: GatewayApiEntry[]; routes: CompiledGatewayApiRoute[] } {
  const listeners = table.listeners.filter((l) => hostnameMatches(l.hostname ?? '*', host)).sort((a, b) => specificity(b.hostname ?? '*') - specificity(a.hostname ?? '*'));
  const listener = listeners[0];
  if (!listener) return { entries: [], routes: [] };
  const hostnames = [...listener.hosts.keys()].filter((h) => hostnameMatches(h, host)).sort((a, b) => specificity(b) - specificity(a));
  const best = hostnames[0];
  if (best === undefined) return { listener: listener.name, entries: [], routes: [] };
  const vhost = listener.hosts.get(best)!;
  return { listener: listener.name, hostname: best, entries: vhost.entries, routes: vhost.routes };
}
