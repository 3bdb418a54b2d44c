/**
 * The L4 outbound terminal: a tunnel to the picked workload's sidecar
 * (upstream/tunnel.ts), mTLS unless the DestinationRule says `tls.mode:
 * DISABLE`, within `connectionPool.tcp.connectTimeout` (default 10s); then
 * the bytes flow. A failure closes the app's connection (flag UF), as
 * Envoy's tcp_proxy does when it cannot connect upstream. A ServiceEntry
 * host's endpoint has no sidecar: a TCP connection to its address, plain
 * (the app's own TLS passes through untouched) unless the DestinationRule's
 * `tls` is SIMPLE or MUTUAL: then the proxy originates TLS (the cluster's
 * upstream TLS context, which Envoy applies to tcp_proxy as to HTTP: the
 * egress gateway's tcp[] leg of Istio's TLS-origination task for TCP).
 */
import { PEER_HEADER } from '../filters/peerMetadata';
import { poolLimits, tcpIdleTimeoutMs } from '../resilience/connectionPool';
import { externalTarget } from '../routing/externalEndpoints';
import { openTunnel, type TunnelDeps, type TunnelTransport } from '../upstream/tunnel';
import type { TcpTunnel } from '../../policy/model';
import type { ClientCredential } from '../../protocol';
import { tlsOrigination } from '../security/tlsOrigination';
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
  /** A gateway (the ingress, the egress gateway): reads a DestinationRule's credentialName for TLS origination. */
  gateway?: boolean;
  /** The credentials the control plane gave this proxy, by credentialName. */
  credentials?: () => Readonly<Record<string, ClientCredential>> | undefined;
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
    // The server name: the rule's sni, else the ServiceEntry host (a connection has no Host header to take it from).
    const site = { gateway: deps.gateway === true, selectedRule: !!ctx.tables.destinationRules.get(plan.host)?.workloadSelector, credentials: deps.credentials?.() };
    const origination = tlsOrigination(ctx.policy?.tls, plan.host, plan.service.entry?.subjectAltNames, site);
    if (origination && 'error' in origination) return ctx.fail({ flag: 'UF', reason: 'upstream-tls-config', message: `TLS origination to ${plan.host}: ${origination.error}` });
    // No ALPN on a TCP cluster's TLS: the bytes are the app's, not HTTP/1.1 of the proxy's.
    const { ALPNProtocols: _alpn, ...options } = origination?.options ?? {};
    return connectDirect(ctx, to.host, to.port, timeoutMs, origination ? options : undefined);
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
