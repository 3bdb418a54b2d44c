/**
 * Retry: re-runs the cluster part of the chain (endpoint pick -> circuit
 * breaker -> outlier -> upstream) per the route's retry policy — the
 * defaults table's when the rule has no `retries`. Each attempt carries
 * `x-envoy-attempt-count` (unless proxyHeaders.attemptCount is disabled),
 * may have its own `perTryTimeout`, waits a jittered
 * exponential backoff, avoids hosts already tried, and replays the body from
 * a bounded buffer (a larger body is not retried). A retriable answer with no
 * retries left goes to the caller with flag URX. Retries in flight per
 * cluster are capped by `connectionPool.http.maxRetries`.
 */
import type { Filter, RequestContext } from '../context';
import { ProxyError } from '../errors';
import { derive, discard, type Derived } from '../resilience/attempt';
import { replayableBody, type ReplayableBody } from '../resilience/bodyBuffer';
import { poolLimits } from '../resilience/connectionPool';
import { backoffMs, retriable, retryPolicyFor, type AttemptOutcome, type RetryPolicy } from '../resilience/retryPolicy';
import { grpcStatusOf, isGrpc } from '../grpc/status';
import { GRPC_TIMEOUT_HEADER, formatGrpcTimeout, parseGrpcTimeout } from '../grpc/timeout';
import { clusterName, type ResilienceState } from '../resilience/state';
import { PER_TRY_TIMEOUT_HEADER, headerMs } from '../resilience/timeoutPolicy';
import { effectiveTrafficPolicy, type EffectivePolicy } from '../routing/trafficPolicy';
import type { ForwardPlan } from '../routing/plan';
import type { MeshTables } from '../tables';
import { hasBody } from '../upstream/hopByHop';
import { Readable } from 'node:stream';

export const ATTEMPT_COUNT_HEADER = 'x-envoy-attempt-count';

/** The retry policy of a routed request at this proxy, and the traffic policy it was read with (explain calls it too). */
export function retryPolicyOf(t: MeshTables, plan: ForwardPlan): { policy: RetryPolicy | undefined; traffic: EffectivePolicy } {
  const traffic = effectiveTrafficPolicy(t.destinationRules.get(plan.host), plan.subset, plan.port);
  // pilot route.go:686-689: only a route with one destination carries its consistent hash into the retry policy.
  const consistentHash = plan.rule?.route?.length === 1 && !!traffic.loadBalancer?.consistentHash;
  return { policy: retryPolicyFor(plan.rule, t.defaults, consistentHash), traffic };
}

export const retry = (state: ResilienceState): Filter => (next) => (ctx) => {
  const plan = ctx.plan;
  if (plan?.kind !== 'forward') return next(ctx);
  const perTryOverride = headerMs(ctx.downstream.headers[PER_TRY_TIMEOUT_HEADER]);
  delete ctx.headers[PER_TRY_TIMEOUT_HEADER];
  const defaults = ctx.tables.defaults;
  const countAttempts = defaults.proxyHeaders.attemptCount;
  const { policy, traffic } = retryPolicyOf(ctx.tables, plan);
  if (!policy) {
    if (countAttempts) ctx.headers[ATTEMPT_COUNT_HEADER] = '1';
    return next(ctx);
  }
  const perTryMs = perTryOverride || policy.perTryTimeoutMs;
  const body: ReplayableBody | undefined = hasBody(ctx.downstream) ? replayableBody(ctx.downstream.body) : undefined;
  const cluster = state.pool(clusterName(plan));
  const limits = poolLimits(traffic.connectionPool, defaults.connectionPool);
  const tried = new Set<string>();
  let attempt = 0;
  let current: Derived | undefined;
  let perTry: NodeJS.Timeout | undefined;
  let backoff: NodeJS.Timeout | undefined;
  let gone = false;
  let retrying = false;
  // The attempt in flight, until it settles: an abort from above (the route timeout, the caller gone) ends it.
  let inFlight: Derived | undefined;
  ctx.onAbort(() => {
    gone = true;
    clearTimeout(perTry);
    clearTimeout(backoff);
    current?.abort();
    endRetry();
    if (inFlight) cutShort(inFlight.ctx);
  });
  /** The attempt an abort cut short, in the records as what cut it (UT) or as the caller gone (DC); its endpoint is the request's. */
  function cutShort(a: RequestContext): void {
    inFlight = undefined;
    if (a.endpoint) { ctx.endpoint = a.endpoint; ctx.policy = a.policy; }
    if (ctx.notes && a.endpoint) (ctx.notes.attempts ??= []).push({ endpoint: a.endpoint.name, result: ctx.notes.cut ?? 'DC', retried: false });
  }
  function endRetry(): void {
    if (retrying) { retrying = false; cluster.pool.endRetry(); }
  }

  const run = () => {
    attempt++;
    const n = attempt;
    let settled = false;
    const downstream = !body ? ctx.downstream : { ...ctx.downstream, body: n === 1 ? body.takeLive() : body.replay() ?? Readable.from([]) };
    const a = derive(ctx, {
      respond(status, headers, b) {
        if (settled || n !== attempt || gone) return discard(b);
        settled = true;
        settle(a.ctx, { kind: 'response', status, grpcStatus: grpcStatusOf(headers as Record<string, unknown>) }, () => ctx.respond(status, headers, b), () => discard(b));
      },
      fail(err) {
        if (settled || n !== attempt || gone) return;
        settled = true;
        // An injected abort on the workload (runtime chaos) is judged as the status it answers with.
        // So is a local reply without a flag: the proxy answered, nothing failed upstream.
        const outcome: AttemptOutcome = err.flag === 'FI' || err.flag === undefined ? { kind: 'response', status: err.status } : { kind: 'error', flag: err.flag, reason: err.reason };
        settle(a.ctx, outcome, () => ctx.fail(err), () => undefined);
      },
    });
    const c = a.ctx;
    c.headers = countAttempts ? { ...ctx.headers, [ATTEMPT_COUNT_HEADER]: String(n) } : { ...ctx.headers };
    // A gRPC callee learns the per-try deadline when it is the shorter one, as Envoy rewrites grpc-timeout.
    if (perTryMs && isGrpc(ctx.downstream.headers)) c.headers[GRPC_TIMEOUT_HEADER] = formatGrpcTimeout(Math.min(perTryMs, parseGrpcTimeout(ctx.headers[GRPC_TIMEOUT_HEADER]) ?? Infinity));
    (c as { downstream: RequestContext['downstream'] }).downstream = downstream;
    c.endpoint = undefined;
    c.policy = undefined;
    c.avoidEndpoints = policy.ignorePreviousHosts && tried.size > 0 ? new Set(tried) : undefined;
    current = a;
    inFlight = a;
    if (perTryMs) {
      perTry = setTimeout(() => {
        if (n !== attempt) return;
        state.stats.inc('upstream_rq_per_try_timeout');
        a.abort();
        a.ctx.fail(new ProxyError(504, 'UT', 'upstream-per-try-timeout', 'upstream request timeout'));
      }, perTryMs);
    }
    next(a.ctx);
  };

  /** One attempt ended: retry it, or hand its answer to the caller. */
  function settle(a: RequestContext, outcome: AttemptOutcome, deliver: () => void, drop: () => void): void {
    inFlight = undefined;
    clearTimeout(perTry);
    endRetry();
    if (a.endpoint) {
      tried.add(a.endpoint.name);
      ctx.endpoint = a.endpoint;
      ctx.policy = a.policy;
    }
    const note = { endpoint: a.endpoint?.name, result: outcome.kind === 'response' ? String(outcome.status) : outcome.flag, retried: false };
    // An unknown subset (NR) is no cluster: the router failed before any attempt, as without a retry policy.
    if (ctx.notes && !(outcome.kind === 'error' && outcome.flag === 'NR')) (ctx.notes.attempts ??= []).push(note);
    if (retriable(policy!, outcome)) {
      const left = attempt <= policy!.retries;
      const bodyOk = !body || body.replayable;
      if (left && bodyOk && cluster.pool.startRetry(limits)) {
        retrying = true;
        note.retried = true;
        drop();
        state.stats.inc('upstream_rq_retry');
        backoff = setTimeout(run, backoffMs(policy!, attempt, state.random));
        return;
      }
      if (!left) state.stats.inc('upstream_rq_retry_limit_exceeded');
      else if (!bodyOk) state.stats.inc('upstream_rq_retry_skipped_body');
      else state.stats.inc('upstream_rq_retry_overflow');
      if (!ctx.flags.includes('URX')) ctx.flags.push('URX');
    } else if (attempt > 1) {
      state.stats.inc(outcome.kind === 'response' && outcome.status < 500 ? 'upstream_rq_retry_success' : 'upstream_rq_retry_gave_up');
    }
    deliver();
  }

  run();
};
