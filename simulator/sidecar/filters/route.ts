/**
 * Route: picks the VirtualService rule and answers what it answers itself
 * (no service, no match, redirect, directResponse); otherwise records the
 * plan, applies rewrite (with x-envoy-original-path, and x-forwarded-host
 * when proxyHeaders ask) and request header operations, and passes on.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { ProxyHeaderDefaults } from '../../policy/defaults';
import type { RandomSource } from '../../random';
import type { Filter, GatewayListenerRef, RequestContext } from '../context';
import { attributesFor, planGatewayListener, planIngress, planMesh, type ForwardPlan, type PlanObserver, type RoutePlan } from '../routing/plan';
import type { MeshTables } from '../tables';
import type { RequestAuth } from '../security/requestAuthentication';
import { applyHeaderOps, type HeaderMap } from '../routing/headerOps';

export interface RouteSettings {
  /**
   * `sidecar`: mesh routes; `ingress`: Gateway-bound VirtualServices for origin-form requests, Gateway API routes on a Gateway listener port;
   * `egress`: the egress gateway's listener, by the VirtualServices bound to the Gateways that select it, on the server port the call came to.
   */
  role: ProxyRole;
  random: RandomSource;
}

/**
 * The route decision for a request at this proxy: the ingress routes an
 * origin-form request by its Gateways, everything else by the mesh's route
 * tables. Explain calls it with odds and an observer.
 */
export function planRoute(
  t: MeshTables,
  role: RouteSettings['role'],
  /** `destination`: the service port a connection was opened for (a CONNECT tunnel, a local upstream port), whatever the Host says. */
  req: {
    method: string; path: string; authority: string; proxyForm: boolean; headers: IncomingHttpHeaders; auth?: RequestAuth; destination?: { host: string; port: number };
    /** A Gateway API Gateway's listener the request came in on: its routes decide. */
    gatewayListener?: GatewayListenerRef;
    /** At the egress gateway: the Gateway server port the call came to (its inbound hop says which). */
    serverPort?: number;
  },
  random: RandomSource,
  observer?: PlanObserver,
): RoutePlan {
  const attrs = attributesFor(req.method, req.path, req.authority, req.headers, t.identity.labels, 'mesh', t.identity.namespace);
  // The verified token's end user (the ingress's jwt filter), for @request.auth.claims matches.
  attrs.auth = req.auth;
  // An Istio Gateway server port that terminates TLS: the Gateways' servers of that port, then their VirtualServices, as on the plain ingress port.
  if (req.gatewayListener?.istio) return planIngress(t, { ...attrs, scheme: 'https' }, random, observer, req.gatewayListener.port);
  if (req.gatewayListener) return planGatewayListener(t, req.gatewayListener, attrs, random, observer);
  if (role === 'egress') return planIngress(t, attrs, random, observer, req.serverPort);
  return role === 'ingress' && !req.proxyForm ? planIngress(t, attrs, random, observer) : planMesh(t, attrs, random, req.destination, observer);
}

/** Which proxy a chain runs in: a workload's sidecar, devmesh's ingress, or the egress gateway. */
export type ProxyRole = 'sidecar' | 'ingress' | 'egress';

/** The header the egress gateway's inbound hop names the Gateway server port in (loopback, to its own listener). */
export const GATEWAY_PORT_HEADER = 'x-devmesh-gateway-port';

/** The server port an egress gateway call came to, taken off the request. */
function serverPortOf(ctx: RequestContext): number | undefined {
  const named = ctx.headers[GATEWAY_PORT_HEADER];
  delete ctx.headers[GATEWAY_PORT_HEADER];
  return typeof named === 'string' && /^\d+$/.test(named) ? Number(named) : undefined;
}

export const route = (settings: RouteSettings): Filter => (next) => (ctx) => {
  const t = ctx.tables;
  const serverPort = settings.role === 'egress' ? serverPortOf(ctx) : undefined;
  const plan = planRoute(t, settings.role, { method: ctx.method, path: ctx.path, authority: ctx.authority, proxyForm: ctx.proxyForm, headers: ctx.downstream.headers, auth: ctx.auth, destination: ctx.destination, gatewayListener: ctx.gatewayListener, serverPort }, settings.random);
  ctx.plan = plan;
  switch (plan.kind) {
    case 'error':
      ctx.fail(plan.error);
      return;
    case 'direct':
      ctx.responseHeaderOps.push(...plan.responseHeaderOps);
      ctx.respond(plan.status, { 'content-type': 'text/plain; charset=utf-8' }, plan.body);
      return;
    case 'redirect':
      ctx.responseHeaderOps.push(...plan.responseHeaderOps);
      ctx.respond(plan.status, { location: plan.location }, null);
      return;
    case 'forward': {
      forwardAs(ctx, plan, t.defaults.proxyHeaders);
      ctx.responseHeaderOps.push(...plan.responseHeaderOps);
      next(ctx);
    }
  }
};

/**
 * The request as the route sends it on: rewritten path and authority, the
 * rule's and destination's header operations, and the headers Envoy's router
 * adds for a rewrite. Explain calls it too, for the request the callee sees.
 */
export function forwardAs(req: { path: string; authority: string; headers: OutgoingHttpHeaders }, plan: ForwardPlan, headers: ProxyHeaderDefaults): void {
  const rewrite = plan.rule?.rewrite;
  // Envoy's router keeps the path before a prefix or regex rewrite (off with envoyDebugHeaders disabled).
  if (rewrite && (rewrite.uri !== undefined || rewrite.uriRegexRewrite) && headers.envoyDebugHeaders) req.headers['x-envoy-original-path'] = req.path;
  // pilot route.go:626-631: with proxyHeaders.xForwardedHost, a rewritten authority leaves the original in x-forwarded-host.
  if (rewrite && headers.xForwardedHost && plan.authority !== req.authority) appendForwardedHost(req.headers as HeaderMap, req.authority);
  req.path = plan.path;
  req.authority = plan.authority;
  for (const ops of plan.requestHeaderOps) applyHeaderOps(req.headers as HeaderMap, ops);
}

/** Envoy's append_x_forwarded_host: append unless it is already the last value. */
function appendForwardedHost(headers: HeaderMap, host: string): void {
  const had = headers['x-forwarded-host'];
  const list = typeof had === 'string' && had !== '' ? had.split(',').map((v) => v.trim()) : [];
  if (list[list.length - 1] !== host) list.push(host);
  headers['x-forwarded-host'] = list.join(', ');
}
