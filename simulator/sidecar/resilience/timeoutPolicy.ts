/**
 * The route timeout for one request, pure. Istio: the rule's `timeout`, else
 * the defaults table's (none: pilot route.go setTimeout, Notimeout); "0s"
 * means off. A rule with a `fault` keeps its timeout (pilot sets it
 * regardless); the fault filter runs first, so an injected delay is not
 * counted, as Envoy's router starts the timer after it. The app may override
 * per request with `x-envoy-upstream-rq-timeout-ms` (0 = none), as Envoy
 * honours it from a trusted (in-mesh) caller.
 */
import type { HTTPRoute } from '../../policy/model';
import { parseDuration } from '../../policy/duration';

export const TIMEOUT_HEADER = 'x-envoy-upstream-rq-timeout-ms';
export const PER_TRY_TIMEOUT_HEADER = 'x-envoy-upstream-rq-per-try-timeout-ms';

/** Milliseconds, or undefined for no timeout. */
export function routeTimeoutMs(rule: HTTPRoute | undefined, headers: Record<string, unknown>, defaultMs = 0): number | undefined {
  const override = headerMs(headers[TIMEOUT_HEADER]);
  if (override !== undefined) return override > 0 ? override : undefined;
  const ms = rule?.timeout ? parseDuration(rule.timeout) : defaultMs;
  return ms !== undefined && ms > 0 ? ms : undefined;
}

/** A non-negative integer header value, or undefined when absent or malformed (Envoy ignores it then). */
export function headerMs(v: unknown): number | undefined {
  const s = Array.isArray(v) ? v[0] : v;
  if (typeof s !== 'string' || !/^\d+$/.test(s.trim())) return undefined;
  return Number(s.trim());
}
