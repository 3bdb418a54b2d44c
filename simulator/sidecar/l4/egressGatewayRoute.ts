/**
 * L4 route at the egress gateway: a connection a sidecar tunnelled to one
 * of its Gateway server ports. A TLS server (Istio's "Egress Gateways" task
 * for HTTPS, `tls.mode: PASSTHROUGH`) reads the ClientHello's server name
 * without consuming it and routes by the tls[] rules of the VirtualServices
 * bound to the Gateways on that port whose hosts the server serves
 * (`match: [{ gateways: [istio-egressgateway], port: 443, sniHosts: [...] }]`);
 * a TCP server routes by tcp[]. The app's TLS reaches the external host untouched.
 */
import { planGatewayL4 } from '../routing/l4Plan';
import type { L4Filter } from './context';
import { noRoute, peekServerName } from './route';

export const l4EgressGatewayRoute = (s: { random: () => number }): L4Filter => (next) => (ctx) => {
  const t = ctx.tables;
  const port = ctx.inbound?.servicePort;
  const here = port === undefined ? [] : [...t.gateways].flatMap(([name, g]) => g.servers.filter((srv) => srv.port === port).map((server) => ({ name, server })));
  if (port === undefined || here.length === 0) {
    return ctx.fail({ flag: 'NR', reason: 'no-gateway-route', status: 404, message: `no Gateway selecting the egress gateway has a server on port ${port ?? '(none)'}` });
  }
  // Every Gateway with a server on the port: Envoy picks among the filter chains of all of them by the server name
  // (a chain keyed by tls[] sniHosts, built only for VirtualServices whose hosts the server serves: l4Plan.ts), so a
  // ClientHello without a name still finds a chain of sniHosts "*".
  const names = [...new Set(here.map((h) => h.name))];
  const route = (sni?: string) => {
    const tls = here.some((h) => h.server.protocol === 'TLS' || h.server.passthrough);
    ctx.gateway = { names, port };
    const plan = planGatewayL4(t, names, port, s.random, tls ? { sni } : undefined);
    if (plan.kind === 'error') return noRoute(ctx, plan);
    ctx.plan = plan;
    next(ctx);
  };
  if (!here.some((h) => h.server.protocol === 'TLS' || h.server.passthrough)) return route();
  // The caller's sidecar relays the app's ClientHello once the tunnel is up: answer it first, then read the server name.
  ctx.accept?.();
  peekServerName(ctx, (sni) => {
    ctx.sni = sni;
    route(sni);
  });
};
