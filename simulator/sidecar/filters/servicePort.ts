/**
 * Which of its workload's ports a call is for. Envoy's inbound listener
 * knows the port a connection was sent to; here every call arrives on one
 * inbound port, so the caller's sidecar names the service host and port it
 * routed to (`x-devmesh-destination: reviews.default.svc.cluster.local:9080`).
 * The callee's sidecar looks it up among the ports its workload serves
 * (service port -> targetPort -> the app's local port), strips the header,
 * and refuses the call when that port's PeerAuthentication mode does not
 * admit the peer (portLevelMtls), as Envoy has no filter chain for it.
 * Without the header (a client outside the mesh) the Host names the port;
 * failing that, the workload's first port.
 */
import { authorityPort, qualifyHost, stripPort } from '../../policy/hosts';
import type { Filter } from '../context';
import { ProxyError } from '../errors';
import type { ForwardPlan } from '../routing/plan';
import { requestedPort } from '../routing/servicePorts';
import { admits } from '../security/peerAuthentication';
import { routeKey, serviceForAuthority, type InboundPort, type MeshTables } from '../tables';

export const DESTINATION_HEADER = 'x-devmesh-destination';

/** Outbound: the value the caller's sidecar sends with a routed request. */
export function destinationOf(plan: Pick<ForwardPlan, 'host' | 'port'>): string {
  return routeKey(plan.host, plan.port);
}

/** Inbound: the port a call is for, from the destination the caller named or the Host. */
export function inboundPortFor(t: MeshTables, destination: string | undefined, authority: string): InboundPort | undefined {
  if (!t.inbound) return undefined;
  if (destination) {
    const named = t.inbound.byDestination.get(destination.toLowerCase());
    if (named) return named;
  }
  const service = serviceForAuthority(t, authority) ?? (t.self ? t.serviceByHost.get(qualifyHost(stripPort(authority), t.self.namespace)) : undefined);
  const port = service && requestedPort(service, authorityPort(authority));
  return (service && port !== undefined ? t.inbound.byDestination.get(routeKey(service.fqdn, port)) : undefined) ?? t.inbound.primary;
}

export const servicePort = (): Filter => (next) => (ctx) => {
  const named = ctx.headers[DESTINATION_HEADER];
  delete ctx.headers[DESTINATION_HEADER];
  const port = inboundPortFor(ctx.tables, typeof named === 'string' ? named : undefined, ctx.authority);
  ctx.inbound = port;
  if (port && !admits(port.mtls.mode, { tls: ctx.source.tls !== false, spiffeId: ctx.source.spiffeId })) {
    if (ctx.reset) return ctx.reset();
    return ctx.fail(new ProxyError(503, 'UF', 'mtls-mode-refused', `devmesh: port ${port.number} of ${ctx.tables.identity.name} is ${port.mtls.mode} (${port.mtls.source})\n`));
  }
  next(ctx);
};
