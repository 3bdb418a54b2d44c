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
