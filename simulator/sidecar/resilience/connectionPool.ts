/**
 * Circuit breaking per destination cluster (host + subset), as an Envoy
 * sidecar keeps it for each cluster it calls. No sockets here: the state is
 * a small model of Envoy's HTTP/1.1 connection pool, driven by the filter
 * and by tests with a fake clock.
 *
 * - A request needs a connection. An idle one is reused; otherwise a new one
 *   is opened if fewer than `tcp.maxConnections` exist, and the request waits
 *   (pending) until it is established — as in Envoy, where a request waits in
 *   the pending queue while its connection connects.
 * - With every connection busy, a request waits if fewer than
 *   `http.http1MaxPendingRequests` wait already; else it is refused at once:
 *   503 with flag UO (overflow), never queued invisibly.
 * - `http.http2MaxRequests` caps requests in flight on the cluster (Envoy's
 *   max_requests); `http.maxRetries` caps retries in flight.
 * - A connection closes after `maxRequestsPerConnection` requests, or when it
 *   sat idle for `idleTimeout` (default 1h).
 *
 * - Envoy keeps one pool per worker thread (an Istio sidecar runs 2 workers;
 *   a downstream connection stays on one worker), while the limits are the
 *   cluster's, shared by all workers: pending requests and connections are
 *   counted across workers, but a worker with no connection may always open
 *   one, whatever `maxConnections` says (Envoy's rule, so a request is never
 *   stuck on a worker that could not connect). This is why Istio's
 *   circuit-breaking task sees 503s at concurrency 2 with maxConnections 1:
 *   each client lands on its own worker, every request needs a new
 *   connection (maxRequestsPerConnection 1) and is pending while it connects,
 *   and when both workers are connecting at once the shared pending limit of
 *   1 overflows.
 *
 * Between sidecars devmesh really multiplexes one HTTP/2 session per peer, so
 * these connections are the accounting Envoy would do for its HTTP/1.1 pool
 * (Istio's default between sidecars), which is what the limits mean to users.
 * A gRPC or HTTP/2 port is different: Istio gives its cluster HTTP/2
 * upstream (http2_protocol_options), and Envoy's HTTP/2 pool multiplexes —
 * a ready connection takes every request of its worker (`multiplexed`), and
 * one that served `maxRequestsPerConnection` drains: no new requests, closed
 * when its last one ends. Requests still wait (pending) while it connects.
 * The filter makes "connecting" last as long as a real TCP + mTLS handshake
 * to the peer (circuitBreaker.ts), as it does for Envoy.
 */
import type { ConnectionPoolSettings } from '../../policy/model';
import { parseDuration } from '../../policy/duration';
import type { ConnectionPoolDefaults } from '../../policy/defaults';

/** Envoy/Istio's "unlimited": 2^32 - 1. */
export const UNLIMITED = 2 ** 32 - 1;

/** Worker threads of an Istio sidecar (proxy concurrency 2 by default), each with its own pools. */
export const ENVOY_WORKERS = 2;

export interface PoolLimits {
  maxConnections: number;
  maxPending: number;
  maxRequests: number;
  maxRetries: number;
  /** 0 = unlimited. */
  maxRequestsPerConnection: number;
  idleTimeoutMs: number;
  connectTimeoutMs: number;
  /** HTTP/2 to the destination (a gRPC or HTTP/2 port): connections carry many requests at once. */
  multiplexed: boolean;
}

/** The DestinationRule's connectionPool over the defaults table's (Istio: every threshold MaxUint32, pilot getDefaultCircuitBreakerThresholds). */
export function poolLimits(cp: ConnectionPoolSettings | undefined, d: ConnectionPoolDefaults, multiplexed = false): PoolLimits {
  const pos = (n: number | undefined, dflt: number) => (typeof n === 'number' && n > 0 ? n : dflt);
  return {
    maxConnections: pos(cp?.tcp?.maxConnections, d.maxConnections),
    maxPending: pos(cp?.http?.http1MaxPendingRequests, d.http1MaxPendingRequests),
    maxRequests: pos(cp?.http?.http2MaxRequests, d.http2MaxRequests),
    maxRetries: pos(cp?.http?.maxRetries, d.maxRetries),
    maxRequestsPerConnection: cp?.http?.maxRequestsPerConnection ?? d.maxRequestsPerConnection,
    idleTimeoutMs: (cp?.http?.idleTimeout ? parseDuration(cp.http.idleTimeout) : undefined) ?? (cp?.tcp?.idleTimeout ? parseDuration(cp.tcp.idleTimeout) : undefined) ?? d.idleTimeoutMs,
    connectTimeoutMs: connectTimeoutMs(cp?.tcp?.connectTimeout, d),
    multiplexed,
  };
}

/** connectionPool.tcp.connectTimeout, else the defaults table's (meshConfig.connectTimeout, Istio 10s). */
export function connectTimeoutMs(connectTimeout: string | undefined, d: Pick<ConnectionPoolDefaults, 'connectTimeoutMs'>): number {
  return (connectTimeout ? parseDuration(connectTimeout) : undefined) || d.connectTimeoutMs;
}

/**
 * How long a TCP connection through the mesh may carry no bytes, either way,
 * before it is closed (Envoy's tcp_proxy idle_timeout, as pilot's
 * buildOutboundNetworkFilters sets it from the destination's
 * `connectionPool.tcp.idleTimeout`); else the defaults table's (Envoy: 1h).
 * An explicit `0s` disables it (0), as in Envoy.
 */
export function tcpIdleTimeoutMs(cp: ConnectionPoolSettings | undefined, d: Pick<ConnectionPoolDefaults, 'tcpIdleTimeoutMs'>): number {
  const set = cp?.tcp?.idleTimeout !== undefined ? parseDuration(cp.tcp.idleTimeout) : undefined;
  return set ?? d.tcpIdleTimeoutMs;
}

export interface Connection {
  id: number;
  /** The worker whose pool holds it. */
  worker: number;
  ready: boolean;
  busy: boolean;
  served: number;
  /** Requests on it now (more than one only when multiplexed). */
  streams: number;
  idleSince: number;
}

export type Admission =
  /** Use this connection now. */
  | { kind: 'go'; connection: Connection }
  /** Wait; `opened` is a new connection to establish (call `established` when it is). */
  | { kind: 'wait'; opened?: Connection }
  | { kind: 'overflow'; reason: 'pending' | 'requests' };

/**
 * What the pool does with one more request while `inFlight` requests of the
 * same worker already hold or wait for connections (explain's assumption of
 * load, run through the very state the circuit breaker keeps).
 */
export function admissionUnder(limits: PoolLimits, inFlight: number): Admission {
  const s = new ConnectionPoolState();
  for (let i = 0; i < inFlight; i++) {
    const a = s.admit(limits, 0);
    if (a.kind === 'wait' && a.opened) {
      s.established(a.opened, 0);
      s.dequeue(0, limits);
    }
  }
  return s.admit(limits, 0);
}

export class ConnectionPoolState {
  /** Every worker's connections. */
  readonly connections: Connection[] = [];
  /** Requests holding a connection. */
  active = 0;
  /** Requests waiting for a connection, all workers together (the limit is the cluster's). */
  pending = 0;
  private readonly pendingByWorker = new Map<number, number>();
  retriesActive = 0;
  private nextId = 1;
  /** Counters in Envoy's words, for /stats and /clusters. */
  readonly counters = { upstream_rq_pending_overflow: 0, upstream_rq_overflow: 0, upstream_cx_total: 0, upstream_cx_idle_timeout: 0, upstream_cx_max_requests: 0, upstream_rq_retry_overflow: 0 };

  /** A new request arrives on a worker (the one its downstream connection belongs to). */
  admit(limits: PoolLimits, now: number, worker = 0): Admission {
    this.closeIdle(limits, now);
    if (this.active >= limits.maxRequests) {
      this.counters.upstream_rq_overflow++;
      return { kind: 'overflow', reason: 'requests' };
    }
    const idle = this.connections.find((c) => c.worker === worker && c.ready && !c.busy);
    if (idle && this.pendingOn(worker) === 0) return { kind: 'go', connection: this.take(idle, limits) };
    if (this.pending >= limits.maxPending) {
      this.counters.upstream_rq_pending_overflow++;
      return { kind: 'overflow', reason: 'pending' };
    }
    this.pending++;
    this.pendingByWorker.set(worker, this.pendingOn(worker) + 1);
    return { kind: 'wait', opened: this.openFor(worker, limits, now) };
  }

  /** A connection finished connecting; a waiting request of its worker may take it (call `dequeue`). */
  established(c: Connection, now: number): void {
    c.ready = true;
    c.idleSince = now;
  }

  /** A waiting request of this worker takes a free connection of the worker's pool, if one is ready. */
  dequeue(worker = 0, limits?: PoolLimits): Connection | undefined {
    if (this.pendingOn(worker) === 0) return undefined;
    const idle = this.connections.find((c) => c.worker === worker && c.ready && !c.busy);
    if (!idle) return undefined;
    this.unpend(worker);
    return this.take(idle, limits);
  }

  /** A waiting request gave up (the caller went away or timed out). */
  abandon(worker = 0): void {
    if (this.pendingOn(worker) > 0) this.unpend(worker);
  }

  pendingOn(worker: number): number {
    return this.pendingByWorker.get(worker) ?? 0;
  }

  private unpend(worker: number): void {
    this.pending--;
    this.pendingByWorker.set(worker, this.pendingOn(worker) - 1);
  }

  /**
   * A new connection for the worker's waiting requests, if they outnumber its
   * connections still connecting and the cluster allows one more — or the
   * worker has none at all (Envoy opens that one past the limit).
   */
  private openFor(worker: number, limits: PoolLimits, now: number): Connection | undefined {
    const mine = this.connections.filter((c) => c.worker === worker);
    const connecting = mine.filter((c) => !c.ready).length;
    if (connecting >= this.pendingOn(worker)) return undefined;
    if (this.connections.length >= limits.maxConnections && mine.length > 0) return undefined;
    return this.open(now, worker);
  }

  /** A request finished with its connection; the connection is closed if it served its quota. */
  release(c: Connection, limits: PoolLimits, now: number): { closed: boolean; opened?: Connection } {
    c.streams--;
    this.active--;
    if (limits.multiplexed) {
      // Drained (served its quota) and its last request ended: closed; a waiting request gets a new one.
      if (c.busy && c.streams === 0 && this.connections.includes(c)) {
        this.remove(c);
        this.counters.upstream_cx_max_requests++;
        return { closed: true, opened: this.openFor(c.worker, limits, now) };
      }
      if (c.streams === 0) c.idleSince = now;
      return { closed: false };
    }
    c.busy = false;
    c.idleSince = now;
    if (limits.maxRequestsPerConnection > 0 && c.served >= limits.maxRequestsPerConnection) {
      this.remove(c);
      this.counters.upstream_cx_max_requests++;
      // Someone on this worker waits and a connection slot just freed: open a replacement.
      return { closed: true, opened: this.openFor(c.worker, limits, now) };
    }
    return { closed: false };
  }

  /** A connection attempt failed: drop it (the waiting request is answered by the caller). */
  failed(c: Connection): void {
    this.remove(c);
  }

  /** Whether one more retry may start now (Envoy's max_retries); counts it if so. */
  startRetry(limits: PoolLimits): boolean {
    if (this.retriesActive >= limits.maxRetries) {
      this.counters.upstream_rq_retry_overflow++;
      return false;
    }
    this.retriesActive++;
    return true;
  }

  endRetry(): void {
    if (this.retriesActive > 0) this.retriesActive--;
  }

  /** HTTP/1.1: the connection is busy until released. Multiplexed: busy (draining) only once it served its quota. */
  private take(c: Connection, limits?: PoolLimits): Connection {
    c.served++;
    c.streams++;
    c.busy = limits?.multiplexed ? limits.maxRequestsPerConnection > 0 && c.served >= limits.maxRequestsPerConnection : true;
    this.active++;
    return c;
  }

  private open(now: number, worker: number): Connection {
    const c: Connection = { id: this.nextId++, worker, ready: false, busy: false, served: 0, streams: 0, idleSince: now };
    this.connections.push(c);
    this.counters.upstream_cx_total++;
    return c;
  }

  private remove(c: Connection): void {
    const i = this.connections.indexOf(c);
    if (i >= 0) this.connections.splice(i, 1);
  }

  private closeIdle(limits: PoolLimits, now: number): void {
    for (const c of this.connections.slice()) {
      if (c.ready && c.streams === 0 && now - c.idleSince >= limits.idleTimeoutMs) {
        this.remove(c);
        this.counters.upstream_cx_idle_timeout++;
      }
    }
  }

  toJSON() {
    return { connections: this.connections.length, connectionsBusy: this.connections.filter((c) => c.streams > 0).length, active: this.active, pending: this.pending, retriesActive: this.retriesActive, ...this.counters };
  }
}
