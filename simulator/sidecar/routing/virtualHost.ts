/**
 * The routes of one virtual host at a gateway, as pilot builds them
 * (gateway.go buildGatewayHTTPRouteConfig): each VirtualService bound to a
 * server's Gateway adds its routes in turn — one Envoy route per match that
 * applies at this gateway and port, none after its first catch-all
 * (route.BuildHTTPRoutesForVirtualService) — and the catch-all routes of the
 * merged list then move to its end, keeping their order
 * (route.SortVHostRoutes). Sidecars get no such sort: they apply one
 * VirtualService per host, where the cut after a catch-all changes nothing.
 * Pure.
 */
import type { HTTPMatchRequest } from '../../policy/model';
import { hostMatches } from '../../policy/hosts';
import type { CompiledRule, CompiledVirtualService } from '../tables';
import { qualifyGateway, type RequestAttributes } from './match';

/** One route of a virtual host: the rule (with the matches it keeps here) and the Gateway whose server brought it. */
export interface VirtualHostRoute {
  entry: CompiledRule;
  gateway: string;
  virtualService: CompiledVirtualService;
}

/**
 * route.IsCatchAllRoute on the route a match becomes (TranslateRouteMatch):
 * a path of prefix `/` or regex `.*` (no uri is prefix `/`) and no header,
 * query parameter or claim condition. method, authority and scheme are
 * header conditions in Envoy's route; port, gateways, sourceLabels and
 * sourceNamespace are decided when the route is built and are not in it.
 * No match at all is a catch-all.
 */
export function isCatchAll(m: HTTPMatchRequest | undefined): boolean {
  if (!m) return true;
  const uri = m.uri;
  const anyPath = !uri || uri.prefix === '/' || uri.regex === '.*';
  const none = (o: Record<string, unknown> | undefined) => !o || Object.keys(o).length === 0;
  return anyPath && none(m.headers) && none(m.withoutHeaders) && none(m.queryParams) && !m.method && !m.authority && !m.scheme;
}

/**
 * Whether a match becomes a route at this gateway (route.TranslateRoute's
 * port check and sourceMatchHTTP): its port is the request's, and its
 * gateways name this one — or, naming none, its sourceLabels and
 * sourceNamespace are the gateway proxy's own.
 */
function builtHere(m: HTTPMatchRequest, gateway: string, vsNamespace: string, a: RequestAttributes): boolean {
  if (m.port !== undefined && m.port !== a.port) return false;
  if (m.gateways && m.gateways.length > 0) return m.gateways.some((g) => qualifyGateway(g, vsNamespace) === gateway);
  if (m.sourceLabels && !Object.entries(m.sourceLabels).every(([k, v]) => a.sourceLabels[k] === v)) return false;
  return m.sourceNamespace === undefined || m.sourceNamespace === a.sourceNamespace;
}

/** One VirtualService's routes at a gateway: the matches built there, cut after the first catch-all; which of them are catch-alls. */
function routesOf(vs: CompiledVirtualService, gateway: string, a: RequestAttributes): { routes: VirtualHostRoute[]; catchAll?: VirtualHostRoute } {
  const routes: VirtualHostRoute[] = [];
  const route = (entry: CompiledRule): VirtualHostRoute => ({ entry, gateway, virtualService: vs });
  for (const r of vs.rules) {
    if (r.matches === null) return { routes, catchAll: route(r) };
    const kept = [];
    for (const m of r.matches) {
      if (!builtHere(m.source, gateway, vs.namespace, a)) continue;
      if (isCatchAll(m.source)) {
        if (kept.length > 0) routes.push(route({ ...r, matches: kept }));
        return { routes, catchAll: route({ ...r, matches: [m] }) };
      }
      kept.push(m);
    }
    if (kept.length > 0) routes.push(route(kept.length === r.matches.length ? r : { ...r, matches: kept }));
  }
  return { routes };
}

/** The merged routes of one virtual host, from its VirtualServices in order (each with the Gateway that brought it): catch-alls last. */
export function virtualHostRoutes(sources: readonly { virtualService: CompiledVirtualService; gateway: string }[], a: RequestAttributes): VirtualHostRoute[] {
  const routes: VirtualHostRoute[] = [];
  const catchAlls: VirtualHostRoute[] = [];
  for (const s of sources) {
    const built = routesOf(s.virtualService, s.gateway, a);
    routes.push(...built.routes);
    if (built.catchAll) catchAlls.push(built.catchAll);
  }
  return [...routes, ...catchAlls];
}

/**
 * One virtual host of a gateway's HTTP routes: its domain and the
 * VirtualServices (with the Gateway whose server brought each, and whether
 * that server says httpsRedirect) whose routes it merges, in order.
 * `requireTls`: a server with httpsRedirect names the domain itself.
 */
export interface VirtualHost {
  domain: string;
  sources: { virtualService: CompiledVirtualService; gateway: string; redirect?: boolean }[];
  requireTls?: boolean;
}

/** A server of a Gateway: its hosts and, per host, the namespace whose VirtualServices it admits (undefined: any). */
export interface ServerHosts {
  gateway: string;
  hosts: readonly string[];
  hostNamespaces: readonly (string | undefined)[];
  /** `tls.httpsRedirect`: the virtual hosts it brings require TLS. */
  httpsRedirect?: boolean;
}

/** pilot's host.Name.SubsetOf: every name `a` covers, `b` covers too. */
const subsetOf = (a: string, b: string) => hostMatches(b, a);

/**
 * The virtual hosts pilot builds for a gateway's HTTP servers
 * (buildGatewayHTTPRouteConfig): per server, in order, each VirtualService
 * bound to its Gateway adds its routes to one virtual host per name its
 * hosts share with the server's (host.Names.Intersection: the narrower of
 * each overlapping pair; a server's `ns/host` only for VirtualServices of
 * that namespace). A server with httpsRedirect marks what it brings, and
 * each of its own hosts is a virtual host that requires TLS, routes or none
 * (pilot keys that one by the host as written: an `ns/host` names no domain
 * a request can have, so only hosts of any namespace count).
 */
export function buildVirtualHosts(servers: readonly ServerHosts[], virtualServices: readonly CompiledVirtualService[]): Map<string, VirtualHost> {
  const out = new Map<string, VirtualHost>();
  for (const server of servers) {
    for (const vs of virtualServices) {
      if (!vs.gateways.includes(server.gateway) || vs.rules.length === 0) continue;
      const serverHosts = server.hosts.filter((_, i) => server.hostNamespaces[i] === undefined || server.hostNamespaces[i] === vs.namespace);
      const shared: string[] = [];
      for (const s of serverHosts) {
        for (const h of vs.hosts) {
          const name = subsetOf(s, h) ? s : subsetOf(h, s) ? h : undefined;
          if (name !== undefined && !shared.includes(name)) shared.push(name);
        }
      }
      for (const domain of shared) {
        const vh = out.get(domain) ?? { domain, sources: [] };
        vh.sources.push({ virtualService: vs, gateway: server.gateway, ...(server.httpsRedirect ? { redirect: true } : {}) });
        out.set(domain, vh);
      }
    }
    if (!server.httpsRedirect) continue;
    server.hosts.forEach((domain, i) => {
      if (server.hostNamespaces[i] !== undefined) return;
      const vh = out.get(domain) ?? { domain, sources: [] };
      out.set(domain, { ...vh, requireTls: true });
    });
  }
  return out;
}

/**
 * The virtual host Envoy picks for a Host: an exact domain, else the
 * longest `*.suffix` one, else `*` — and only that one: no route of it
 * matching is 404, never a wider host's routes. The domains are the names
 * as pilot resolves them (a VirtualService's short hosts made FQDNs):
 * unlike a sidecar's virtual host, none lists `reviews` or
 * `reviews.default` (generateVirtualHostDomains is sidecar-only), so a
 * short Host reaches only a `*` domain.
 * `builds` says whether a VirtualService gives the host any route for this
 * request's port (pilot skips one that gives none). `requireTls` on the
 * result: a server with httpsRedirect brought the host (Envoy's
 * require_tls ALL: a plain request gets 301 to https, whatever its routes).
 */
export function pickVirtualHost(hosts: ReadonlyMap<string, VirtualHost>, host: string, builds: (s: VirtualHost['sources'][number]) => boolean = () => true): VirtualHost | undefined {
  let best: { vh: VirtualHost; rank: number } | undefined;
  for (const all of hosts.values()) {
    if (!hostMatches(all.domain, host)) continue;
    const rank = all.domain === host ? Number.MAX_SAFE_INTEGER : all.domain === '*' ? 0 : all.domain.length;
    if (best && rank <= best.rank) continue;
    // A VirtualService none of whose routes is built here (all for another port or gateway) adds nothing, not even the host.
    const sources = all.sources.filter(builds);
    const vh = { ...all, sources, ...(all.requireTls || sources.some((s) => s.redirect) ? { requireTls: true } : {}) };
    if (sources.length > 0 || vh.requireTls) best = { vh, rank };
  }
  return best?.vh;
}
