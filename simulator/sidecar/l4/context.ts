/**
 * The connection context and the filter shape of the L4 chain: what the
 * HTTP chain's RequestContext is to a request, this is to one TCP
 * connection (Envoy's network filters: tcp_proxy, network RBAC, the TCP
 * stats filter). A handler either fails the connection (`fail`: closed, the
 * access log says why) or connects it (`relay`: bytes flow both ways,
 * half-closes included, until either side closes). Exactly one `onDone` per
 * connection, when it is over.
 */
import type { Duplex } from 'node:stream';
import type { Endpoint, ServiceInfo, ServicePortInfo } from '../../protocol';
import type { Source } from '../context';
import type { ResponseFlag } from '../errors';
import type { L4ForwardPlan, L4PlanError } from '../routing/l4Plan';
import type { EffectivePolicy } from '../routing/trafficPolicy';
import type { InboundPort, MeshTables } from '../tables';
import type { AuthzDecision } from '../security/authorization';

/** Why a connection ends early. `status` is what an inbound tunnel answers the caller's sidecar (HTTP CONNECT status). */
export interface L4Error {
  flag?: ResponseFlag;
  /** Stable reason (`rbac-access-denied`, `upstream-connect-failure`, ...): the access log's details. */
  reason: string;
  message: string;
  status?: number;
  /** Reset the connection without an answer, even to a sidecar's tunnel (a port whose mTLS mode refuses the peer). */
  reset?: boolean;
}

export type L4Listener = 'outbound' | 'inbound' | 'ingress';

export interface L4Context {
  /** The snapshot in force when the connection arrived; it keeps it for its lifetime. */
  readonly tables: MeshTables;
  readonly listener: L4Listener;
  /** Outbound: the app's connection. Inbound: the tunnel from the caller's sidecar (or a plaintext client). */
  readonly downstream: Duplex;
  readonly startedAt: number;
  source: Source;
  /** The service port addressed: outbound, what the app named; inbound, what the caller's sidecar named (none for a raw plaintext client). */
  destination?: { service: ServiceInfo; port: ServicePortInfo; authority: string };
  /** Inbound: the `<fqdn>:<port>` the caller's sidecar named in its CONNECT. */
  requested?: string;
  /** Inbound: the headers of the caller's CONNECT (peer metadata); none for a plaintext client. */
  tunnelHeaders?: Record<string, string | string[] | undefined>;
  /** The server name of the app's TLS ClientHello (tls ports). */
  sni?: string;
  /** Set by the route filter. */
  plan?: L4ForwardPlan;
  /** Set by the endpoint filter: the picked workload (or a ServiceEntry host's endpoint) and the DestinationRule policy in force for it. */
  endpoint?: Endpoint;
  policy?: EffectivePolicy;
  /** Inbound: the port of this workload the connection is for. */
  inbound?: InboundPort;
  /**
   * How long the connection may carry no bytes, either way, once it relays (Envoy's tcp_proxy idle_timeout; 0 = never).
   * Set by toPeer from the destination's `connectionPool.tcp.idleTimeout`; else the defaults table's (1h), set when it relays.
   */
  idleTimeoutMs?: number;
  /** It sat idle for idleTimeoutMs and the proxy closed both sides (tcp_proxy's idle_timeout stat, the access log's details). */
  idleTimedOut?: boolean;
  /** Set by the chaos filter: connect here (a toxic relay) instead of the peer's inbound port. */
  upstreamPort?: number;
  /** Outbound: whether the hop to the peer is mTLS. Inbound: whether the peer came over mTLS. */
  mtls: boolean;
  flags: ResponseFlag[];
  /** Why it ended (Envoy's %RESPONSE_CODE_DETAILS%), when a proxy decided it. */
  proxyError?: string;
  /** `127.0.0.1:<port>` of what it connected to. */
  upstreamHost?: string;
  /** The route filter found no route (NR, NC, UH): its plan error, for the route record (l4/decisions.ts). */
  planError?: L4PlanError;
  /** Set when it connected upstream (relay): what a later verdict on the first bytes closed had connected first. */
  upstreamConnected?: boolean;
  /** Inbound: what the network RBAC decided, rule indexes as written (l4/authz.ts), for the authz record. */
  authz?: AuthzDecision;
  /** The first error the connection failed with. */
  failure?: L4Error;
  /**
   * The connection's id: made by the sidecar it left from (outbound, ingress)
   * and carried in the tunnel's CONNECT as x-request-id, so both ends' access-log
   * entries name it (trace_id: a connection has no span) and `devmesh explain --trace <id>` finds them.
   */
  id?: string;
  /** At the ingress: the Gateway server port the connection came to, and the Gateways with a TCP (or, `tls`, a TLS passthrough) server there. */
  gateway?: { names: string[]; port: number; tls?: boolean };
  /** A CONNECT to a host outside the mesh: `host:port` (Istio's PassthroughCluster). */
  passthrough?: string;
  /** A CONNECT to a host outside the registry under REGISTRY_ONLY: `host:port` (Istio's BlackHoleCluster). */
  blackhole?: string;
  /** Closes the connection with an error, before or after it connected. */
  fail(err: L4Error): void;
  /** Connected: relays bytes both ways until either side closes. */
  relay(upstream: Duplex): void;
  /** Called once when the connection is over (failed, closed or reset). */
  onClose(cb: () => void): void;
  /**
   * A check made on the client's first bytes, once the upstream connected
   * (Envoy's network ext_authz and RBAC decide in onData, not at accept):
   * the bytes are held until every check, in the order added, calls
   * `proceed`; a check that denies calls `fail` instead, and they never
   * reach the upstream. A client that half-closes without a byte is
   * checked then (onData with end_stream); one that never sends, never.
   */
  onFirstBytes(check: FirstBytesCheck): void;
  /** Inbound: the peer's sidecar is told the tunnel is up (HTTP 200), just before relaying. */
  accept?(): void;
  /** Inbound: the peer's sidecar is told why not (HTTP status + x-devmesh-proxy-error) instead of a bare close. */
  refuse?(err: L4Error): void;
}

/** A first-bytes check (L4Context.onFirstBytes): calls `proceed` to let the bytes on, or fails the connection. */
export type FirstBytesCheck = (proceed: () => void) => void;

export type L4Handler = (ctx: L4Context) => void;
export type L4Filter = (next: L4Handler) => L4Handler;

/** Composes filters so that the first in the list sees the connection first. */
export function composeL4(filters: L4Filter[], terminal: L4Handler): L4Handler {
  return filters.reduceRight<L4Handler>((next, filter) => filter(next), terminal);
}

/** A finished (or live) connection, as observers see it. */
export interface L4Exchange {
  ctx: L4Context;
  durationMs: number;
  /** Bytes received from the downstream (the app, or the caller's sidecar). */
  bytesReceived: number;
  /** Bytes sent to the downstream. */
  bytesSent: number;
  /** true once it connected to its upstream; false again if the mesh then closed it (ext_authz or RBAC on the first bytes). */
  connected: boolean;
}
