/**
 * The timeout of a gRPC call, pure, as Istio configures Envoy's route and
 * Envoy's router applies it (istio/istio pilot/pkg/networking/core/route/
 * route.go setTimeout; Envoy router filter, RouteAction.max_grpc_timeout):
 * Istio sets `max_grpc_timeout` to the route's `timeout` (0 when the rule
 * has none). For a gRPC request Envoy then takes the client's `grpc-timeout`
 * header (none: infinity) instead of the route timeout, capped by
 * `max_grpc_timeout` unless that is 0 — so a route timeout caps the
 * client's deadline, and without one the client's deadline alone applies.
 * Envoy passes the timeout it enforces upstream as a new `grpc-timeout`.
 */
import type { HTTPRoute } from '../../policy/model';
import { TIMEOUT_HEADER, headerMs, routeTimeoutMs } from '../resilience/timeoutPolicy';
import { isGrpc } from './status';

export const GRPC_TIMEOUT_HEADER = 'grpc-timeout';

const UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 };

/** `grpc-timeout` (1-8 digits and a unit H M S m u n) in milliseconds, or undefined when absent or malformed (Envoy ignores it then). */
export function parseGrpcTimeout(v: unknown): number | undefined {
  const s = Array.isArray(v) ? v[0] : v;
  if (typeof s !== 'string') return undefined;
  const m = /^(\d{1,8})([HMSmun])$/.exec(s.trim());
  return m ? Number(m[1]) * UNIT_MS[m[2]] : undefined;
}

/** Milliseconds as a `grpc-timeout` value (whole milliseconds; at least 1). */
export function formatGrpcTimeout(ms: number): string {
  const whole = Math.max(1, Math.ceil(ms));
  return whole < 1e8 ? `${whole}m` : `${Math.ceil(whole / 1000)}S`;
}

/**
 * Envoy's final timeout for a gRPC request: the client's grpc-timeout
 * (undefined: none) capped by the route's max_grpc_timeout (Istio: the
 * route timeout; undefined or 0: no cap). undefined = no timeout.
 */
export function grpcCallTimeoutMs(clientMs: number | undefined, routeMs: number | undefined): number | undefined {
  const cap = routeMs !== undefined && routeMs > 0 ? routeMs : undefined;
  if (clientMs === undefined || clientMs <= 0) return cap;
  return cap === undefined ? clientMs : Math.min(clientMs, cap);
}

/**
 * The timeout of one call (Envoy's router finalTimeout): the route's, or the
 * caller's x-envoy-upstream-rq-timeout-ms, which wins over everything; for a
 * gRPC call without that header, the client's grpc-timeout capped by the route's.
 */
export function callTimeoutMs(rule: HTTPRoute | undefined, headers: Record<string, unknown>, defaultMs = 0): number | undefined {
  const route = routeTimeoutMs(rule, headers, defaultMs);
  if (!isGrpc(headers) || headerMs(headers[TIMEOUT_HEADER]) !== undefined) return route;
  return grpcCallTimeoutMs(parseGrpcTimeout(headers[GRPC_TIMEOUT_HEADER]), route);
}
