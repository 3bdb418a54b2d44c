/**
 * Route: picks the VirtualService rule and answers what it answers itself
 * (no service, no match, redirect, directResponse); otherwise records the
 * plan, applies rewrite (with x-envoy-original-path, and x-forwarded-host
 * when proxyHeaders ask) and request header operations, and passes on.
 */
import type { Filter } from '../context';
import { attributesFor, planGatewayListener, planIngress, planMesh } from '../routing/plan';
import { applyHeaderOps, type HeaderMap } from '../routing/headerOps';

export interface RouteSettings {
  /** `sidecar`: mesh routes; `ingress`: Gateway-bound VirtualServices for origin-form requests, Gateway API routes on a Gateway listener port. */
  role: 'sidecar' | 'ingress';
  random: () => number;
}

export const route = (settings: RouteSettings): Filter => (next) => (ctx) => {
  const t = ctx.tables;
  const useGateways = settings.role === 'ingress' && !ctx.proxyForm;
  const attrs = attributesFor(ctx.method, ctx.path, ctx.authority, ctx.downstream.headers, t.identity.labels, 'mesh', t.identity.namespace);
  attrs.auth = ctx.auth;
  const plan = ctx.gatewayListener ? planGatewayListener(t, ctx.gatewayListener, attrs, settings.random)
    : useGateways ? planIngress(t, attrs, settings.random) : planMesh(t, attrs, settings.random, ctx.destination);
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
      const rewrite = plan.rule?.rewrite;
      const headers = t.defaults.proxyHeaders;
      // Envoy's router keeps the path before a prefix or regex rewrite (off with envoyDebugHeaders disabled).
      if (rewrite && (rewrite.uri !== undefined || rewrite.uriRegexRewrite) && headers.envoyDebugHeaders) ctx.headers['x-envoy-original-path'] = ctx.path;
      // pilot route.go:626-631: with proxyHeaders.xForwardedHost, a rewritten authority leaves the original in x-forwarded-host.
      if (rewrite && headers.xForwardedHost && plan.authority !== ctx.authority) appendForwardedHost(ctx.headers, ctx.authority);
      ctx.path = plan.path;
      ctx.authority = plan.authority;
      for (const ops of plan.requestHeaderOps) applyHeaderOps(ctx.headers as HeaderMap, ops);
      ctx.responseHeaderOps.push(...plan.responseHeaderOps);
      next(ctx);
    }
  }
};

/** Envoy's append_x_forwarded_host: append unless it is already the last value. */
function appendForwardedHost(headers: HeaderMap, host: string): void {
  const had = headers['x-forwarded-host'];
  const list = typeof had === 'string' && had !== '' ? had.split(',').map((v) => v.trim()) : [];
  if (list[list.length - 1] !== host) list.push(host);
  headers['x-forwarded-host'] = list.join(', ');
}
