/**
 * Builds an L4Context over one connection and runs its lifecycle: counting
 * bytes both ways once it relays, propagating half-closes (a FIN from one
 * side ends the other side's writes, as Envoy's tcp_proxy does), tearing
 * both sides down when either goes away, and telling the observer exactly
 * once when it is over. Live connections stay in `live`, so telemetry can
 * report the bytes of long connections while they last.
 */
import type { Duplex } from 'node:stream';
import { TLSSocket } from 'node:tls';
import { randomBytes } from 'node:crypto';
import type { Source } from '../context';
import type { MeshTables } from '../tables';
import type { FirstBytesCheck, L4Context, L4Error, L4Exchange, L4Listener } from './context';

/** What Envoy names a tcp_proxy idle close (StreamInfo::LocalCloseReasons TcpSessionIdleTimeout): the access log's proxy_error. */
export const IDLE_TIMEOUT_DETAILS = 'tcp_session_idle_timeout';

export interface L4Observer {
  /**
   * A connection opened (istio_tcp_connections_opened_total): told once its
   * labels are known — when it connects, or when it fails before that — as
   * Istio's stats filter waits for the peer's metadata before it reports.
   */
  opened?(e: L4Exchange): void;
  /** It is over: access log, metrics, topology. */
  done(e: L4Exchange): void;
  /** Connections in progress, their bytes updated as they flow. */
  live?: Set<L4Exchange>;
}

export interface TunnelEnds {
  accept?(): void;
  refuse?(err: L4Error): void;
}

export function newL4Context(tables: MeshTables, listener: L4Listener, downstream: Duplex, source: Source, observer: L4Observer, ends: TunnelEnds = {}): L4Context {
  const startedAt = performance.now();
  let upstream: Duplex | undefined;
  let over = false;
  let told = false;
  const tellOpened = () => {
    if (told) return;
    told = true;
    observer.opened?.(exchange);
  };
  const closers: (() => void)[] = [];
  const firstBytesChecks: FirstBytesCheck[] = [];
  const exchange: L4Exchange = { ctx: undefined as unknown as L4Context, durationMs: 0, bytesReceived: 0, bytesSent: 0, connected: false };

  /** `refused`: the downstream was just told why (a CONNECT answer): let that reach it before the socket goes. */
  const finish = (refused = false) => {
    if (over) return;
    over = true;
    upstream?.destroy();
    if (!refused) downstream.destroy();
    else if (downstream.writableFinished) downstream.destroy();
    else {
      downstream.once('finish', () => downstream.destroy());
      setTimeout(() => downstream.destroy(), 1000).unref();
    }
    observer.live?.delete(exchange);
    exchange.durationMs = performance.now() - startedAt;
    for (const c of closers) c();
    tellOpened();
    observer.done(exchange);
  };
  downstream.on('error', () => downstream.destroy());
  downstream.once('close', () => {
    // The downstream went away first: whatever the upstream still sends has nowhere to go.
    if (!upstream || upstream.destroyed) return finish();
    upstream.destroy();
  });
  const finishNow = () => finish();

  // Envoy's tcp_proxy idle_timeout, armed once it connected upstream: one timer per connection, and a byte
  // either way only stamps the time (no timer reset per chunk); the timer, when it fires, looks at the stamp
  // and either closes both sides or waits out the rest.
  let lastActive = 0;
  let idle: NodeJS.Timeout | undefined;
  const idleTimer = (dflt: number) => {
    const ms = ctx.idleTimeoutMs ??= dflt;
    if (!(ms > 0)) return;
    lastActive = performance.now();
    const check = () => {
      idle = undefined;
      if (over) return;
      const quiet = performance.now() - lastActive;
      if (quiet < ms) {
        idle = setTimeout(check, ms - quiet);
        idle.unref();
        return;
      }
      // No flag (Envoy sets none), a local close reason, both sides closed without a flush.
      ctx.idleTimedOut = true;
      ctx.proxyError ??= IDLE_TIMEOUT_DETAILS;
      finish();
    };
    idle = setTimeout(check, ms);
    idle.unref();
  };
  closers.push(() => { if (idle) clearTimeout(idle); });

  const ctx: L4Context = {
    tables, listener, downstream, startedAt, source, mtls: false, flags: [],
    // Inbound, the caller's sidecar names it (x-request-id on the tunnel).
    id: listener === 'inbound' ? undefined : nextConnectionId(),
    fail(err: L4Error) {
      if (over) return;
      if (err.flag && !ctx.flags.includes(err.flag)) ctx.flags.push(err.flag);
      ctx.failure ??= err;
      ctx.proxyError ??= err.reason;
      if (ends.refuse && !exchange.connected && !err.reset) {
        ends.refuse(err);
        return finish(true);
      }
      // Closed by the mesh after it connected (its network ext_authz or RBAC, on the client's first bytes):
      // no answer to send any more, and it ends as a failed connection (cx_failed, its rule's errors) as one refused before.
      exchange.connected = false;
      finish();
    },
    relay(up: Duplex) {
      if (over) {
        up.destroy();
        return;
      }
      upstream = up;
      exchange.connected = true;
      ctx.upstreamConnected = true;
      idleTimer(tables.defaults.connectionPool.tcpIdleTimeoutMs);
      tellOpened();
      ends.accept?.();
      up.on('error', () => up.destroy());
      up.once('close', () => {
        if (downstream.destroyed) return finish();
        // Let what the upstream sent drain to the downstream, then close it (Envoy flushes before closing).
        if (downstream.writableEnded) downstream.destroy();
        else downstream.end(() => downstream.destroy());
        downstream.once('close', finishNow);
        setTimeout(finishNow, 2000).unref();
      });
      const forward = () => pump(downstream, up, (n) => { exchange.bytesReceived += n; lastActive = performance.now(); });
      const back = () => pump(up, downstream, (n) => { exchange.bytesSent += n; lastActive = performance.now(); });
      if (firstBytesChecks.length === 0) {
        forward();
        back();
        return;
      }
      // Envoy's tcp_proxy connected at accept; what the server says first (a greeting) reaches the
      // client at once, while the client's own first bytes wait for the network ext_authz and RBAC (onData).
      back();
      awaitFirstBytes(downstream, (ended) => runChecks(firstBytesChecks, () => over, () => {
        // Allowed: the held bytes go on first, then the rest in order (or the client's FIN, when it sent none).
        if (!ended) forward();
        else if (!up.destroyed) up.end();
      }));
    },
    onClose(cb) {
      closers.push(cb);
    },
    onFirstBytes(check) {
      firstBytesChecks.push(check);
    },
  };
  if (ends.accept) ctx.accept = ends.accept;
  if (ends.refuse) ctx.refuse = ends.refuse;
  exchange.ctx = ctx;
  observer.live?.add(exchange);
  return ctx;
}

/**
 * Waits for the downstream's first bytes and leaves them unread (pushed back,
 * the stream paused) for the pump that forwards them once they are allowed:
 * the one read of those bytes on this path, nothing lost or read twice. A FIN
 * before any byte is Envoy's onData with end_stream and an empty buffer: `ended`.
 */
function awaitFirstBytes(downstream: Duplex, then: (ended: boolean) => void): void {
  const onData = (chunk: Buffer) => {
    stop();
    downstream.pause();
    downstream.unshift(chunk);
    then(false);
  };
  const onEnd = () => {
    stop();
    then(true);
  };
  const stop = () => {
    downstream.off('data', onData);
    downstream.off('end', onEnd);
  };
  downstream.on('data', onData);
  downstream.once('end', onEnd);
  downstream.resume();
}

/** Runs the first-bytes checks in order (ext_authz, then RBAC, as pilot orders the filters); `allowed` once all proceed. */
function runChecks(checks: readonly FirstBytesCheck[], isOver: () => boolean, allowed: () => void): void {
  const step = (i: number): void => {
    if (isOver()) return;
    if (i === checks.length) return allowed();
    checks[i](() => step(i + 1));
  };
  step(0);
}

const idPrefix = randomBytes(4).toString('hex');
let idCount = 0;

/** A connection id unique across the mesh: this process's random prefix and a counter (16 hex digits, no syscall per connection). */
export function nextConnectionId(): string {
  idCount = (idCount + 1) >>> 0;
  return idPrefix + idCount.toString(16).padStart(8, '0');
}

/**
 * Copies `from` to `to` as pipe() does (back-pressure, the FIN passed on),
 * but writes the chunks of one read together: a TLS read hands over one
 * 16 KB record at a time (an HTTP/2 stream, 8 KB pieces), all in the same
 * tick, and each write to a loopback socket is a syscall that runs the
 * receiver's TCP stack too. Corked until the next tick, they leave in one
 * writev (BENCHMARKS.md "TCP through the mesh").
 */
/** The most one corked batch holds before the source is paused (a socket read is 64 KB at most; an HTTP/2 stream can hand over its whole backlog at once). */
const MAX_BATCH = 1 << 20;

export function pump(from: Duplex, to: Duplex, count: (bytes: number) => void): void {
  // Only on HTTP/2 tunnels. With a TLS connection per tunnel (tcpTunnel: tls) it
  // was measured again with the back-pressure below (BENCHMARKS.md, issue 15, tcp7):
  // a TLS socket hands over one 16 KB record per read callback and the tick queue
  // runs between callbacks, so a batch held one record; holding it to setImmediate
  // gathered several (~5 % fewer system calls) but cost ~15 % more CPU per MB. A TLS
  // destination allowed past its 16 KB high-water mark (no pause per 64 KB read: 14 %
  // fewer system calls) also cost ~14 % more, likely as reads then queue and leave
  // as one writev, which TLSWrap copies into one buffer before it encrypts.
  const batch = !(to instanceof TLSSocket || from instanceof TLSSocket);
  let corked = false;
  // Back-pressure as pipe() applies it: a destination that buffers past its high-water mark pauses the source until it drains.
  const backOff = () => {
    if (from.isPaused()) return;
    from.pause();
    to.once('drain', () => from.resume());
  };
  const flush = () => {
    corked = false;
    to.uncork();
    if (to.writableNeedDrain) backOff();
  };
  from.on('data', (chunk: Buffer) => {
    count(chunk.length);
    if (to.destroyed) return;
    if (!batch) {
      if (!to.write(chunk)) backOff();
      return;
    }
    if (!corked) {
      corked = true;
      to.cork();
      process.nextTick(flush);
    }
    to.write(chunk);
    // A source that hands over more in one tick than a batch should hold (a stream's buffered backlog) waits too.
    if (to.writableLength >= MAX_BATCH) backOff();
  });
  from.once('end', () => { if (!to.destroyed) to.end(); });
  // As pipe() does: a source paused while its head was read (a tunnel's answer) flows now.
  from.resume();
}
