/**
 * L4 route at the ingress: a connection to a Gateway's TCP server port is
 * routed by the tcp[] rules of the VirtualServices bound to that Gateway
 * (Istio's "TCP traffic shifting" task: `match: [{ port: 31400 }]`).
 */
import { planGatewayL4 } from '../routing/l4Plan';
import type { L4Filter } from './context';

export const l4GatewayRoute = (s: { random: () => number }): L4Filter => (next) => (ctx) => {
  const gw = ctx.gateway!;
  const plan = planGatewayL4(ctx.tables, gw.names, gw.port, s.random);
  if (plan.kind === 'error') return ctx.fail({ flag: plan.flag, reason: plan.reason, message: plan.message });
  ctx.plan = plan;
  next(ctx);
};
