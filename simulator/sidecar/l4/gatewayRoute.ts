/**
 * L4 route at the ingress: a connection to a Gateway's TCP server port is
 * routed by the tcp[] rules of the VirtualServices bound to that Gateway
 * (Istio's "TCP traffic shifting" task: `match: [{ port: 31400 }]`); one to
 * a TLS passthrough server by their tls[] rules, on the server name its
 * ClientHello asks for, read without consuming it ("Ingress gateway
 * without TLS termination").
 */
import { planGatewayL4, planGatewayTls } from '../routing/l4Plan';
import type { L4Filter } from './context';
import { noRoute, peekServerName } from './route';

export const l4GatewayRoute = (s: { random: () => number }): L4Filter => (next) => (ctx) => {
  const gw = ctx.gateway!;
  if (gw.tls) {
    return peekServerName(ctx, (sni) => {
      ctx.sni = sni;
      const plan = planGatewayTls(ctx.tables, gw.names, gw.port, sni, s.random);
      if (plan.kind === 'error') return noRoute(ctx, plan);
      ctx.plan = plan;
      next(ctx);
    });
  }
  const plan = planGatewayL4(ctx.tables, gw.names, gw.port, s.random);
  if (plan.kind === 'error') return noRoute(ctx, plan);
  ctx.plan = plan;
  next(ctx);
};
