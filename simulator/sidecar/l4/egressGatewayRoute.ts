/**
 * L4 route at the egress gateway: a connection a sidecar tunnelled to one
 * of its Gateway server ports. A TLS passthrough server (Istio's "Egress Gateways" task
 * for HTTPS, `tls.mode: PASSTHROUGH`) reads the ClientHello's server name
 * without consuming it and routes by the tls[] rules of the VirtualServices
 * bound to the Gateways on that port whose hosts the server serves
 * (`match: [{ gateways: [istio-egressgateway], port: 443, sniHosts: [...] }]`);
 * a TCP server, and a TLS server that terminates (`ISTIO_MUTUAL`: the
 * sidecar's tunnel is its handshake), routes by tcp[]. The app's TLS reaches
 * the external host untouched.
 */
import { planGatewayL4, type L4Plan } from '../routing/l4Plan';
import type { MeshTables } from '../tables';
import type { L4Filter } from './context';
import { noRoute, peekServerName } from './route';

/**
 * The Gateway servers on the port a sidecar tunnelled to (the Service port), of every Gateway selecting the egress
 * gateway, and whether the port routes by the ClientHello's server name (a TLS or passthrough server there); none:
 * no server on the port. Pure: the filter and `devmesh explain` (walkL4.ts) read the port the same way.
 */
export function egressGatewayServers(t: MeshTables, port: number): { names: string[]; tls: boolean } | undefined {
  const here = [...t.gateways].flatMap(([name, g]) => g.servers.filter((srv) => srv.port === port).map((server) => ({ name, server })));
  if (here.length === 0) return undefined;
  // Every Gateway with a server on the port: Envoy picks among the filter chains of all of them by the server name
  // (a chain keyed by tls[] sniHosts, built only for VirtualServices whose hosts the server serves: l4Plan.ts), so a
  // ClientHello without a name still finds a chain of sniHosts "*".
  // A TLS server that terminates (ISTIO_MUTUAL from the sidecar) routes the stream by tcp[], as a TCP server does
  // (pilot createGatewayTCPFilterChainOpts); a passthrough one by tls[] on the app's ClientHello.
  return { names: [...new Set(here.map((h) => h.name))], tls: here.some((h) => h.server.passthrough || (h.server.protocol === 'TLS' && !h.server.terminatedTcp)) };
}

/** The egress gateway's route for a connection to `port`, given the ClientHello's server name on a TLS port: the plan both the filter and explain use. */
export function planEgressGateway(t: MeshTables, servers: { names: string[]; tls: boolean }, port: number, sni: string | undefined, random: () => number): L4Plan {
  return planGatewayL4(t, servers.names, port, random, servers.tls ? { sni } : undefined);
}

export const noEgressGatewayServer = (port: number | undefined) => `no Gateway selecting the egress gateway has a server on port ${port ?? '(none)'}`;

export const l4EgressGatewayRoute = (s: { random: () => number }): L4Filter => (next) => (ctx) => {
  const port = ctx.inbound?.servicePort;
  const servers = port === undefined ? undefined : egressGatewayServers(ctx.tables, port);
  if (port === undefined || !servers) return ctx.fail({ flag: 'NR', reason: 'no-gateway-route', status: 404, message: noEgressGatewayServer(port) });
  const route = (sni?: string) => {
    ctx.gateway = { names: servers.names, port };
    const plan = planEgressGateway(ctx.tables, servers, port, sni, s.random);
    if (plan.kind === 'error') return noRoute(ctx, plan);
    ctx.plan = plan;
    next(ctx);
  };
  if (!servers.tls) return route();
  // The caller's sidecar relays the app's ClientHello once the tunnel is up: answer it first, then read the server name.
  ctx.accept?.();
  peekServerName(ctx, (sni) => {
    ctx.sni = sni;
    route(sni);
  });
};
