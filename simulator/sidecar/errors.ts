/**
 * Errors the proxy itself answers with. Each carries an Envoy response flag
 * (so people who read Envoy access logs know it at once) and a short reason
 * that goes out in `x-devmesh-proxy-error`, as linkerd's `l5d-proxy-error`.
 */

/** Envoy's response flags that devmesh produces (subset of Envoy's list). */
export type ResponseFlag =
  | 'NR'   // no route configured for the request
  | 'UH'   // no healthy upstream host
  | 'UF'   // upstream connection failure
  | 'UC'   // upstream connection termination
  | 'UR'   // upstream remote reset (here: of a stream whose response had started)
  | 'URX'  // upstream retry limit exceeded
  | 'UT'   // upstream request timeout
  | 'UO'   // upstream overflow (circuit breaking)
  | 'DC'   // downstream connection termination
  | 'FI'   // fault injected: abort
  | 'DI'   // fault injected: delay
  | 'UAEX' // unauthorized (external authz; used here for RBAC denials too)
  | 'RL'   // rate limited
  | 'NC';  // upstream cluster not found

/** Envoy's order of response flags in %RESPONSE_FLAGS% (source/common/stream_info/utility.h, ALL_RESPONSE_STRINGS_FLAGS). */
const ENVOY_FLAG_ORDER: readonly ResponseFlag[] = ['UH', 'UT', 'UF', 'UC', 'UO', 'NR', 'DI', 'FI', 'RL', 'UAEX', 'DC', 'URX', 'NC'];

/** Flags as Envoy prints them: comma-separated in its fixed order (`UF,URX`), `-` for none. */
export function formatFlags(flags: readonly ResponseFlag[]): string {
  if (flags.length === 0) return '-';
  if (flags.length === 1) return flags[0];
  return [...flags].sort((a, b) => ENVOY_FLAG_ORDER.indexOf(a) - ENVOY_FLAG_ORDER.indexOf(b)).join(',');
}

export const PROXY_ERROR_HEADER = 'x-devmesh-proxy-error';
export const RESPONSE_FLAGS_HEADER = 'x-devmesh-response-flags';

export interface ProxyErrorOptions {
  /** Extra response headers (e.g. `www-authenticate` on a JWT refusal, an external authorizer's headers). */
  headers?: Record<string, string | string[]>;
  /** Send the body exactly as given (an external authorizer's body), without the trailing newline added otherwise. */
  verbatim?: boolean;
}

export class ProxyError extends Error {
  readonly headers?: Record<string, string | string[]>;
  readonly verbatim: boolean;
  constructor(
    readonly status: number,
    /** Undefined for a local reply Envoy gives no flag (jwt_authn's 401). */
    readonly flag: ResponseFlag | undefined,
    /** Stable, machine-readable reason, e.g. `unknown-host`. */
    readonly reason: string,
    /** Human-readable body. */
    message: string,
    options: ProxyErrorOptions = {},
  ) {
    super(message);
    this.headers = options.headers;
    this.verbatim = options.verbatim === true;
  }
}

export const noRoute = (message: string, reason = 'no-route', status = 404) => new ProxyError(status, 'NR', reason, message);
export const noHealthyUpstream = (message: string) => new ProxyError(503, 'UH', 'no-healthy-upstream', message);
export const upstreamConnectFailure = (message: string) => new ProxyError(503, 'UF', 'upstream-connect-failure', message);
export const upstreamReset = (message: string) => new ProxyError(503, 'UC', 'upstream-reset', message);
export const refusedStream = (message: string) => new ProxyError(503, 'UC', 'refused-stream', message);
/** The upstream reset the connection before it read the request (retried under reset-before-request). */
export const resetBeforeRequest = (message: string) => new ProxyError(503, 'UC', 'reset-before-request', message);
