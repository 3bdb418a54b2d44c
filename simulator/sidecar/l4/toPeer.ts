/**
 * The L4 outbound terminal: a tunnel to the picked workload's sidecar
 * (upstream/tunnel.ts), mTLS unless the DestinationRule says `tls.mode:
 * DISABLE`, within `connectionPool.tcp.connectTimeout` (default 10s); then
 * the bytes flow. A failure closes the app's connection (flag UF), as
 * Envoy's tcp_proxy does when it cannot connect upstream. A ServiceEntry
 * host's endpoint has no sidecar: a plain TCP connection to its address
 * (the app's own TLS passes through untouched).
 */
import { PEER_HEADER } from '../filters/peerMetadata';
import { poolLimits, tcpIdleTimeoutMs } from '../resilience/connectionPool';
import { externalTarget } from '../routing/externalEndpoints';
import { openTunnel, type TunnelDeps, type TunnelTransport } from '../upstream/tunnel';
import type { TcpTunnel } from '../../policy/model';
import type { L4Handler } from './context';

/** The tunnel header that carries the connection's id to the callee's sidecar (its access log's request_id). */
export const CONNECTION_ID_HEADER = 'x-request-id';
import { connectDirect } from './passthrough';

export interface ToPeerDeps extends TunnelDeps {
  /**
   * How mTLS tunnels travel when the Mesh's `spec.tcpTunnel` does not say
   * (BENCHMARKS.md "TCP through the mesh"): a TLS connection each, or a
   * CONNECT stream on the pair's HTTP/2 session.
   */
  transport: TcpTunnel;
}

export const toPeer = (deps: ToPeerDeps): L4Handler => (ctx) => {
  const plan = ctx.plan!;
  const ep = ctx.endpoint!;
  const timeoutMs = poolLimits(ctx.policy?.connectionPool, ctx.tables.defaults.connectionPool).connectTimeoutMs;
  // The destination's DestinationRule sets the caller's tcp_proxy idle_timeout (pilot: buildOutboundNetworkFilters); the relay arms it.
  ctx.idleTimeoutMs = tcpIdleTimeoutMs(ctx.policy?.connectionPool, ctx.tables.defaults.connectionPool);
  if (ep.external) {
    const to = externalTarget(ep, plan);
    ctx.mtls = false;
    return connectDirect(ctx, to.host, to.port, timeoutMs);
  }
  // The snapshot the connection started with decides: a Mesh edit changes new connections only.
  const transport: TunnelTransport = ctx.policy?.tls?.mode === 'DISABLE' ? 'plaintext' : ctx.tables.snapshot.tcpTunnel ?? deps.transport;
  const port = ctx.upstreamPort ?? ep.sidecar.inboundPort;
  ctx.mtls = transport !== 'plaintext';
  ctx.upstreamHost = `127.0.0.1:${ep.sidecar.inboundPort}`;
  openTunnel({ transport, port, spiffeId: ep.spiffeId, authority: `${plan.host}:${plan.port}`, headers: ctx.id ? { [PEER_HEADER]: ctx.tables.identity.name, [CONNECTION_ID_HEADER]: ctx.id } : { [PEER_HEADER]: ctx.tables.identity.name }, timeoutMs }, deps, (r) => {
    if (r.ok) return ctx.relay(r.stream);
    if (r.kind === 'timeout') return ctx.fail({ flag: 'UF', reason: 'connect-timeout', message: `connecting to ${ep.name}: ${r.message}` });
    // The peer answered: it could not reach its app (a connect failure, as HBONE reports it), or it refused the connection (RBAC, mTLS mode).
    if (r.kind === 'refused') return ctx.fail({ flag: r.status === 503 ? 'UF' : undefined, reason: r.reason ?? `peer-status-${r.status}`, status: r.status, message: `${ep.name}: ${r.message}` });
    ctx.fail({ flag: 'UF', reason: 'upstream-connect-failure', message: `connecting to ${ep.name}: ${r.message}` });
  });
};
