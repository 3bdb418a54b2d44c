/**
 * CORS as Envoy's cors filter answers it for a route's `corsPolicy`, pure.
 * Only requests with an `Origin` are concerned. A preflight (OPTIONS with
 * Access-Control-Request-Method) from an allowed origin is answered by the
 * caller's sidecar itself and never reaches the service; from another origin
 * it is forwarded (`unmatchedPreflights: FORWARD`, the default) or answered
 * without CORS headers (`IGNORE`). Actual requests from an allowed origin get
 * the allow-origin / credentials / expose headers on their response.
 */
import type { CorsPolicy } from '../../policy/model';
import { parseDuration } from '../../policy/duration';
import { compileStringMatch } from './stringMatch';

export type CorsDecision =
  | { kind: 'none' }
  /** Answer the preflight here with these headers (status 200). */
  | { kind: 'preflight'; headers: Record<string, string> }
  /** Pass the request on; add these headers to its response. */
  | { kind: 'actual'; headers: Record<string, string> };

export function originAllowed(policy: CorsPolicy, origin: string): boolean {
  return (policy.allowOrigins ?? []).some((m) => compileStringMatch(m)(origin));
}

export function corsDecision(policy: CorsPolicy | undefined, method: string, headers: Record<string, string | string[] | undefined>): CorsDecision {
  const origin = first(headers.origin);
  if (!policy || !origin) return { kind: 'none' };
  const allowed = originAllowed(policy, origin);
  const preflight = method === 'OPTIONS' && first(headers['access-control-request-method']) !== undefined;
  if (preflight) {
    if (!allowed) return policy.unmatchedPreflights === 'IGNORE' ? { kind: 'preflight', headers: {} } : { kind: 'none' };
    const out: Record<string, string> = { 'access-control-allow-origin': origin };
    if (policy.allowMethods?.length) out['access-control-allow-methods'] = policy.allowMethods.join(',');
    if (policy.allowHeaders?.length) out['access-control-allow-headers'] = policy.allowHeaders.join(',');
    const maxAge = policy.maxAge ? parseDuration(policy.maxAge) : undefined;
    if (maxAge !== undefined) out['access-control-max-age'] = String(Math.floor(maxAge / 1000));
    if (policy.allowCredentials) out['access-control-allow-credentials'] = 'true';
    return { kind: 'preflight', headers: out };
  }
  if (!allowed) return { kind: 'none' };
  const out: Record<string, string> = { 'access-control-allow-origin': origin };
  if (policy.allowCredentials) out['access-control-allow-credentials'] = 'true';
  if (policy.exposeHeaders?.length) out['access-control-expose-headers'] = policy.exposeHeaders.join(',');
  return { kind: 'actual', headers: out };
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}
