/**
 * Timeout: the route's `timeout` (or `x-envoy-upstream-rq-timeout-ms`)
 * bounds every attempt together, as Envoy's route timeout does. When it
 * passes, the attempt in flight is cancelled and the caller gets 504 with
 * flag UT, `upstream request timeout`; a response already streaming is cut.
 * A gRPC call's deadline (grpc-timeout) counts too, capped by the route's,
 * as Istio configures Envoy (max_grpc_timeout = the route timeout).
 */
import type { Readable } from 'node:stream';
import type { Filter } from '../context';
import { ProxyError } from '../errors';
import { derive, discard } from '../resilience/attempt';
import { TIMEOUT_HEADER } from '../resilience/timeoutPolicy';
import type { Stats } from '../stats';
import { isGrpc } from '../grpc/status';
import { GRPC_TIMEOUT_HEADER, callTimeoutMs, formatGrpcTimeout } from '../grpc/timeout';

export const timeout = (s: { stats?: Stats } = {}): Filter => (next) => (ctx) => {
  const plan = ctx.plan;
  if (plan?.kind !== 'forward') return next(ctx);
  const ms = callTimeoutMs(plan.rule, ctx.downstream.headers, ctx.tables.defaults.routeTimeoutMs);
  delete ctx.headers[TIMEOUT_HEADER];
  if (ms === undefined) return next(ctx);
  // One of the router's x-envoy-* headers, off with proxyHeaders.envoyDebugHeaders.disabled.
  if (ctx.tables.defaults.proxyHeaders.envoyDebugHeaders) ctx.headers['x-envoy-expected-rq-timeout-ms'] = String(ms);
  // The callee learns the deadline Envoy enforces, as a new grpc-timeout.
  if (isGrpc(ctx.downstream.headers)) ctx.headers[GRPC_TIMEOUT_HEADER] = formatGrpcTimeout(ms);
  let state: 'waiting' | 'streaming' | 'done' = 'waiting';
  let streaming: Readable | undefined;
  const finish = () => { state = 'done'; clearTimeout(timer); };
  // The endpoint the attempts went to is the request's (access log, metrics, topology edges).
  const adopt = () => { ctx.endpoint = d.ctx.endpoint ?? ctx.endpoint; ctx.policy = d.ctx.policy ?? ctx.policy; };
  const d = derive(ctx, {
    respond(status, headers, body) {
      if (state === 'done') return discard(body);
      adopt();
      if (body !== null && typeof body !== 'string') {
        state = 'streaming';
        streaming = body;
        body.once('end', finish);
        body.once('close', finish);
      } else finish();
      ctx.respond(status, headers, body);
    },
    fail(err) {
      if (state === 'done') return;
      adopt();
      finish();
      ctx.fail(err);
    },
  });
  const timer = setTimeout(() => {
    const wasStreaming = state === 'streaming';
    if (state === 'done') return;
    state = 'done';
    s.stats?.inc('upstream_rq_timeout');
    // The attempt in flight ends as UT in the decision records (the retry filter notes it when aborted).
    if (ctx.notes) ctx.notes.cut = 'UT';
    d.abort();
    adopt();
    if (wasStreaming) streaming?.destroy();
    ctx.fail(new ProxyError(504, 'UT', 'upstream-timeout', 'upstream request timeout'));
  }, ms);
  ctx.onAbort(() => { clearTimeout(timer); d.abort(); });
  next(d.ctx);
};
