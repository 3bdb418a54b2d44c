/**
 * Retry decisions, pure, as pilot's retry.ConvertPolicy and Envoy's router
 * make them (istio/istio@release-1.30 pilot/pkg/networking/core/route/retry/retry.go):
 * - no `retries` on the rule: the Mesh's `meshConfig.defaultHttpRetryPolicy`
 *   if set, else the flavor's default policy (Istio: 2 retries on
 *   connect-failure, refused-stream, unavailable, cancelled and
 *   retriable-status-codes with no status code — an app's 503 is returned as
 *   is since 1.24; `compatibilityVersion` 1.23 brings back the 503);
 * - `attempts` counts retries (not the first try); 0 or unset disables
 *   retries (retry.go:105); `retryOn` unset keeps the default conditions and
 *   codes (retry.go:111-124); bare status codes in `retryOn` become
 *   retriable status codes;
 * - a rule with a `fault` keeps its retries (pilot sets them regardless): an
 *   aborted request never reaches the router, a spared one is retried;
 * - retries avoid hosts already tried unless the route's single destination
 *   hashes consistently (retry.go:52-57), or `retryIgnorePreviousHosts` says;
 * - backoff: Envoy's fully jittered exponential back-off from 25 ms (or
 *   `backoff`), retry N waits uniform in [0, (2^N - 1) * base), capped at 10x base.
 */
import type { HTTPRetry, HTTPRoute } from '../../policy/model';
import type { ResolvedDefaults } from '../../policy/defaults';
import { parseDuration } from '../../policy/duration';
import type { ResponseFlag } from '../errors';

export type RetryCondition =
  | '5xx' | 'gateway-error' | 'reset' | 'reset-before-request' | 'connect-failure' | 'retriable-4xx' | 'refused-stream'
  | 'retriable-status-codes' | 'retriable-headers' | 'envoy-ratelimited'
  | 'cancelled' | 'deadline-exceeded' | 'internal' | 'resource-exhausted' | 'unavailable';

export interface RetryPolicy {
  /** Retries after the first try. */
  retries: number;
  on: Set<string>;
  statusCodes: Set<number>;
  perTryTimeoutMs?: number;
  ignorePreviousHosts: boolean;
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** The source of the policy, for config dumps: the flavor's `default`, the Mesh's `meshConfig`, or the `route`. */
  origin: 'default' | 'meshConfig' | 'route';
}

/**
 * The policy in force for a rule (undefined: the route does not retry).
 * Memoised per defaults table and rule (both immutable within a snapshot; a
 * new snapshot brings new objects): parsing `retryOn` on every request was a
 * measurable part of the request path (issue 8). Callers must not mutate it.
 *
 * @param consistentHash the route has one destination whose load balancer hashes consistently
 */
export function retryPolicyFor(rule: HTTPRoute | undefined, d: ResolvedDefaults, consistentHash = false): RetryPolicy | undefined {
  let perDefaults = memo.get(d);
  if (!perDefaults) memo.set(d, (perDefaults = { byRule: new WeakMap(), none: undefined }));
  const slot = consistentHash ? 1 : 0;
  const cached = rule ? perDefaults.byRule.get(rule) : perDefaults.none;
  if (cached && slot in cached) return cached[slot];
  const entry = cached ?? {};
  entry[slot] = computeRetryPolicy(rule, d, consistentHash);
  if (rule) perDefaults.byRule.set(rule, entry);
  else perDefaults.none = entry;
  return entry[slot];
}

type Entry = { 0?: RetryPolicy | undefined; 1?: RetryPolicy | undefined };
const memo = new WeakMap<ResolvedDefaults, { byRule: WeakMap<HTTPRoute, Entry>; none: Entry | undefined }>();

export function computeRetryPolicy(rule: HTTPRoute | undefined, d: ResolvedDefaults, consistentHash: boolean): RetryPolicy | undefined {
  const own: HTTPRetry | undefined = rule?.retries ?? d.defaultHttpRetryPolicy ?? undefined;
  const origin = rule?.retries ? 'route' : own ? 'meshConfig' : 'default';
  const base = (own?.backoff ? parseDuration(own.backoff) : undefined) || d.retry.backoffBaseMs;
  const common = { backoffBaseMs: base, backoffMaxMs: base * d.retry.backoffMaxFactor, origin } as const;
  if (!own) {
    return {
      retries: d.retry.attempts,
      ...parseRetryOn(d.retry.retryOn),
      statusCodes: new Set(d.retry.retriableStatusCodes),
      ignorePreviousHosts: d.retry.retryIgnorePreviousHosts && !consistentHash,
      ...common,
    };
  }
  // Attempts unset is 0 in the proto: an explicit policy without attempts disables retries.
  if (!((own.attempts ?? 0) > 0)) return undefined;
  const conditions = own.retryOn !== undefined && own.retryOn !== '' ? parseRetryOn(own.retryOn) : { ...parseRetryOn(d.retry.retryOn), statusCodes: new Set(d.retry.retriableStatusCodes) };
  const perTry = own.perTryTimeout ? parseDuration(own.perTryTimeout) : undefined;
  return {
    retries: own.attempts!,
    ...conditions,
    perTryTimeoutMs: perTry && perTry > 0 ? perTry : undefined,
    ignorePreviousHosts: own.retryIgnorePreviousHosts ?? (d.retry.retryIgnorePreviousHosts && !consistentHash),
    ...common,
  };
}

/** `retryOn` as pilot's parseRetryOn reads it: HTTP status codes apart, and `retriable-status-codes` added when there are any. */
export function parseRetryOn(spec: string): { on: Set<string>; statusCodes: Set<number> } {
  const on = new Set<string>();
  const statusCodes = new Set<number>();
  for (const raw of spec.split(',')) {
    const c = raw.trim();
    if (c === '') continue;
    if (/^\d+$/.test(c) && Number(c) >= 100 && Number(c) <= 599) statusCodes.add(Number(c));
    else on.add(c);
  }
  if (statusCodes.size > 0) on.add('retriable-status-codes');
  return { on, statusCodes };
}

/**
 * The inbound route's retry to the app (pilot route.go:1305-1313: 2 retries
 * on reset-before-request since Istio 1.24, none for gRPC), or undefined.
 */
export function inboundRetryPolicy(d: ResolvedDefaults, grpc: boolean): RetryPolicy | undefined {
  if (!d.inboundRetry || grpc) return undefined;
  let p = inboundMemo.get(d);
  if (!p) {
    p = { retries: d.inboundRetry.attempts, ...parseRetryOn(d.inboundRetry.retryOn), ignorePreviousHosts: false, backoffBaseMs: d.retry.backoffBaseMs, backoffMaxMs: d.retry.backoffBaseMs * d.retry.backoffMaxFactor, origin: 'default' };
    inboundMemo.set(d, p);
  }
  return p;
}

const inboundMemo = new WeakMap<ResolvedDefaults, RetryPolicy>();

/** What one attempt ended with. */
export type AttemptOutcome =
  | { kind: 'response'; status: number; grpcStatus?: number }
  /** A proxy-made failure: connect failure (UF), reset (UC, maybe refused-stream), per-try timeout (UT), overflow (UO), ... */
  | { kind: 'error'; flag: ResponseFlag; reason: string };

const GRPC_CONDITION: Record<number, string> = { 1: 'cancelled', 4: 'deadline-exceeded', 13: 'internal', 8: 'resource-exhausted', 14: 'unavailable' };

/** Whether the policy retries this outcome (ignoring how many retries are left). */
export function retriable(p: RetryPolicy, o: AttemptOutcome): boolean {
  const on = p.on;
  if (o.kind === 'error') {
    switch (o.flag) {
      case 'UF': return on.has('connect-failure') || on.has('5xx') || on.has('reset-before-request');
      case 'UC':
        if (o.reason === 'refused-stream') return on.has('refused-stream') || on.has('5xx');
        if (o.reason === 'reset-before-request') return on.has('reset-before-request') || on.has('reset') || on.has('5xx');
        return on.has('reset') || on.has('5xx');
      // A per-try timeout is "no response": Envoy retries it under 5xx, gateway-error and reset.
      case 'UT': return on.has('5xx') || on.has('gateway-error') || on.has('reset');
      // Overflow (UO), no healthy upstream (UH), no route (NR): never retried, as in Envoy.
      default: return false;
    }
  }
  const s = o.status;
  if (o.grpcStatus !== undefined && GRPC_CONDITION[o.grpcStatus] && on.has(GRPC_CONDITION[o.grpcStatus])) return true;
  if (s >= 500 && on.has('5xx')) return true;
  if ((s === 502 || s === 503 || s === 504) && on.has('gateway-error')) return true;
  if (s === 409 && on.has('retriable-4xx')) return true;
  if (on.has('retriable-status-codes') && p.statusCodes.has(s)) return true;
  return false;
}

/**
 * The wait before retry number `n` (1-based), fully jittered: uniform in
 * [0, min((2^n - 1) * base, max)) — Envoy docs, router filter,
 * x-envoy-max-retries: "the first retry will be delayed randomly by 0-24ms,
 * the 2nd by 0-74ms, the 3rd by 0-174ms".
 */
export function backoffMs(p: Pick<RetryPolicy, 'backoffBaseMs' | 'backoffMaxMs'>, n: number, random: () => number): number {
  return Math.floor(random() * backoffCeilingMs(p, n));
}

/** The longest wait before retry number `n` (explain reads the odds of a route timeout passing during the waits from it). */
export function backoffCeilingMs(p: Pick<RetryPolicy, 'backoffBaseMs' | 'backoffMaxMs'>, n: number): number {
  return Math.min(p.backoffBaseMs * (2 ** Math.max(1, n) - 1), p.backoffMaxMs);
}
