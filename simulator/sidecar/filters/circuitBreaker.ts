/**
 * Circuit breaker: the DestinationRule's `connectionPool` for the picked
 * cluster. A request takes a connection, waits for one (pending), or — when
 * the limits are reached — gets 503 with flag UO at once, as Envoy answers an
 * overflow. No `connectionPool` = Istio's defaults, which never trip.
 */
import type { Filter, RequestContext } from '../context';
import { ProxyError } from '../errors';
import { derive, type Derived } from '../resilience/attempt';
import { poolLimits, type Connection } from '../resilience/connectionPool';
import { clusterName, type ResilienceState } from '../resilience/state';
import { protocolOf, speaksHttp2 } from '../routing/servicePorts';

export const overflow = (what: string) => new ProxyError(503, 'UO', 'upstream-overflow', `upstream connect error or disconnect/reset before headers. reset reason: overflow (${what})`);

/**
 * How a new upstream connection gets "established": `connect` performs what
 * opening one costs for real (a TCP + mTLS handshake to the picked
 * endpoint's sidecar) and resolves when it is done, failed or not — the
 * request itself then reports any failure on its own path. Without it (unit
 * tests) a connection is established on the next turn of the event loop.
 */
export interface CircuitBreakerOptions {
  connect?: (ctx: RequestContext) => Promise<void>;
}

export const circuitBreaker = (state: ResilienceState, opts: CircuitBreakerOptions = {}): Filter => (next) => (ctx) => {
  const plan = ctx.plan;
  const cp = ctx.policy?.connectionPool;
  if (plan?.kind !== 'forward' || !cp) return next(ctx);
  // gRPC and HTTP/2 ports get Envoy's HTTP/2 pool (requests multiplexed on a connection), others the HTTP/1.1 one.
  const limits = poolLimits(cp, ctx.tables.defaults.connectionPool, speaksHttp2(protocolOf(plan.service, plan.port)));
  const entry = state.pool(clusterName(plan));
  const { pool } = entry;
  const worker = ctx.downstream.worker ?? 0;
  const adm = pool.admit(limits, state.now(), worker);

  // Each worker's waiting requests take its own pool's connections, oldest first.
  const drain = () => {
    for (let i = 0; i < entry.waiting.length;) {
      const w = entry.waiting[i];
      const c = pool.dequeue(w.worker, limits);
      if (!c) { i++; continue; }
      entry.waiting.splice(i, 1);
      w.take(c);
    }
  };
  const establish = (c: Connection) => {
    const done = () => { pool.established(c, state.now()); drain(); };
    if (opts.connect) opts.connect(ctx).then(done, done);
    else setImmediate(done);
  };

  const run = (c: Connection) => {
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      const r = pool.release(c, limits, state.now());
      if (r.opened) establish(r.opened);
      drain();
    };
    const d: Derived = derive(ctx, {
      respond(status, headers, body) {
        if (body !== null && typeof body !== 'string') {
          body.once('end', release);
          body.once('close', release);
          body.once('error', release);
        } else release();
        ctx.respond(status, headers, body);
      },
      fail(err) {
        release();
        ctx.fail(err);
      },
    });
    ctx.onAbort(() => { d.abort(); release(); });
    next(d.ctx);
  };

  switch (adm.kind) {
    case 'overflow':
      state.stats.inc(adm.reason === 'pending' ? 'upstream_rq_pending_overflow' : 'upstream_rq_overflow');
      return ctx.fail(overflow(adm.reason === 'pending' ? 'http1MaxPendingRequests' : 'http2MaxRequests'));
    case 'go':
      return run(adm.connection);
    case 'wait': {
      let waiting = true;
      const waiter = { worker, take: (c: Connection) => { waiting = false; run(c); } };
      entry.waiting.push(waiter);
      ctx.onAbort(() => {
        if (!waiting) return;
        const i = entry.waiting.indexOf(waiter);
        if (i >= 0) entry.waiting.splice(i, 1);
        pool.abandon(worker);
      });
      if (adm.opened) establish(adm.opened);
    }
  }
};
