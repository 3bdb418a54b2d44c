/**
 * Retry decisions, pure. Istio's semantics:
 * - no `retries` on the rule: Istio's default policy — 2 retries on
 *   connect-failure, refused-stream, unavailable, cancelled and
 *   retriable-status-codes (503), preferring hosts not tried yet;
 * - `attempts` counts retries (not the first try); 0 disables retries;
 *   `retryOn` unset keeps the default conditions;
 * - a rule with a `fault` gets no retries;
 * - bare status codes in `retryOn` become retriable status codes;
 * - backoff: Envoy's jittered exponential backoff from 25 ms (or `backoff`),
 *   each wait uniform in [0, base * 2^(n-1)), capped at 10x base.
 */
import type { HTTPRoute } from '../../policy/model';
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
  /** The source of the policy, for config dumps: `default` or `route`. */
  origin: 'default' | 'route';
}

export const DEFAULT_RETRY_ON = 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes';
export const DEFAULT_BACKOFF_MS = 25;

/**
 * The policy in force for a rule, or undefined when the route does not retry.
 * Memoised per rule object (rules are immutable within a snapshot; a new
 * snapshot brings new objects): parsing `retryOn` on every request was a
 * measurable part of the request path (issue 8). Callers must not mutate it.
 */
export function retryPolicyFor(rule: HTTPRoute | undefined): RetryPolicy | undefined {
  if (!rule) return (defaultPolicy ??= { value: computeRetryPolicy(undefined) }).value;
  if (memo.has(rule)) return memo.get(rule);
  const p = computeRetryPolicy(rule);
  memo.set(rule, p);
  return p;
}

const memo = new WeakMap<HTTPRoute, RetryPolicy | undefined>();
let defaultPolicy: { value: RetryPolicy | undefined } | undefined;

function computeRetryPolicy(rule: HTTPRoute | undefined): RetryPolicy | undefined {
  if (rule?.fault) return undefined;
  const r = rule?.retries;
  const attempts = r?.attempts ?? 2;
  if (!(attempts > 0)) return undefined;
  const on = new Set<string>();
  const statusCodes = new Set<number>();
  const spec = r?.retryOn && r.retryOn.trim() !== '' ? r.retryOn : DEFAULT_RETRY_ON;
  for (const raw of spec.split(',')) {
    const c = raw.trim();
    if (c === '') continue;
    if (/^\d{3}$/.test(c)) {
      statusCodes.add(Number(c));
      on.add('retriable-status-codes');
    } else on.add(c);
  }
  // Istio adds 503 as the retriable status code of its default policy.
  if (spec === DEFAULT_RETRY_ON) statusCodes.add(503);
  const perTry = r?.perTryTimeout ? parseDuration(r.perTryTimeout) : undefined;
  const base = (r?.backoff ? parseDuration(r.backoff) : undefined) || DEFAULT_BACKOFF_MS;
  return {
    retries: attempts,
    on,
    statusCodes,
    perTryTimeoutMs: perTry && perTry > 0 ? perTry : undefined,
    ignorePreviousHosts: r?.retryIgnorePreviousHosts ?? true,
    backoffBaseMs: base,
    backoffMaxMs: base * 10,
    origin: r ? 'route' : 'default',
  };
}

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

/** The wait before retry number `n` (1-based), jittered: uniform in [0, min(base * 2^(n-1), max)). */
export function backoffMs(p: Pick<RetryPolicy, 'backoffBaseMs' | 'backoffMaxMs'>, n: number, random: () => number): number {
  const ceiling = Math.min(p.backoffBaseMs * 2 ** Math.max(0, n - 1), p.backoffMaxMs);
  return Math.floor(random() * ceiling);
}

/** The `grpc-status` of a trailers-only gRPC response, if the headers carry one. */
export function grpcStatusOf(headers: Record<string, unknown>): number | undefined {
  const v = headers['grpc-status'];
  const s = Array.isArray(v) ? v[0] : v;
  return typeof s === 'string' && /^\d+$/.test(s) ? Number(s) : undefined;
}
