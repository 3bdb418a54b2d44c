/**
 * JWT authentication: Envoy's jwt_authn as Istio configures it from the
 * RequestAuthentications selecting this proxy (a workload's inbound, or the
 * ingress gateway). A token found must verify — else 401 with Envoy's reason
 * as the body and a `WWW-Authenticate: Bearer` header (403 for a wrong
 * audience); a request without one passes with no principal. A verified
 * token sets `ctx.auth` for AuthorizationPolicy and claim routes, writes the
 * payload and claim headers, and is removed unless forwardOriginalToken.
 * CORS preflights pass untouched (Istio sets bypass_cors_preflight).
 */
import { setRequestHeader, type Filter, type RequestContext } from '../context';
import { ProxyError } from '../errors';
import { splitPath } from '../routing/match';
import type { JwksStore } from '../security/jwksStore';
import { JWT_STATUS, jwtHttpStatus, jwtReason, wwwAuthenticate, type JwtStatus } from '../security/jwtStatus';
import { verifyProvider, type ProviderResult } from '../security/jwtVerify';
import { proxyTarget } from '../security/proxyTarget';
import { claimHeaderValue, extractTokens, providersFor, requestAuthOf, requirementStatus, type JwtProvider, type RequestAuth } from '../security/requestAuthentication';
import type { MeshTables } from '../tables';
import type { Stats } from '../stats';

export interface JwtDeps {
  store: JwksStore;
  /** Epoch millis (tests pass a fixed clock). */
  now?: () => number;
  stats?: Stats;
  log?: (level: 'info' | 'warn', message: string) => void;
}

// The providers of a snapshot, compiled once per tables object (a config swap makes new tables).
const compiled = new WeakMap<MeshTables, JwtProvider[]>();

export function providersOf(t: MeshTables): JwtProvider[] {
  let providers = compiled.get(t);
  if (!providers) compiled.set(t, (providers = providersFor(t.snapshot.requestAuthentications ?? [], proxyTarget(t), t.snapshot.namespace, t.rootNamespace)));
  return providers;
}

export const jwt = (deps: JwtDeps): Filter => (next) => (ctx) => {
  const providers = providersOf(ctx.tables);
  if (providers.length === 0) return next(ctx);
  if (isCorsPreflight(ctx)) {
    deps.stats?.inc('jwt_authn.cors_preflight_bypassed');
    return next(ctx);
  }
  // The payload and claim headers are the proxy's to write: a client's own are dropped first.
  for (const p of providers) {
    if (p.outputPayloadToHeader) setRequestHeader(ctx, p.outputPayloadToHeader, undefined);
    for (const c of p.outputClaimToHeaders) setRequestHeader(ctx, c.header, undefined);
  }
  const request = { headers: ctx.downstream.headers as Record<string, string | string[] | undefined>, query: splitPath(ctx.path).query };
  const nowSeconds = Math.floor((deps.now ?? Date.now)() / 1000);
  // A client that leaves while keys are fetched gets nothing sent on its behalf.
  let gone = false;
  ctx.onAbort(() => { gone = true; });
  Promise.all(providers.map((p) => verifyProvider(p, extractTokens(p, request), deps.store, nowSeconds))).then((results) => {
    if (gone) return;
    const { status, first, auth } = jwtOutcome(providers, results);
    if (status !== 'Ok') {
      deps.stats?.inc('jwt_authn.denied');
      return ctx.fail(new ProxyError(jwtHttpStatus(status), undefined, jwtReason(status), JWT_STATUS[status], {
        headers: { 'www-authenticate': wwwAuthenticate(status, originalUri(ctx)) },
      }));
    }
    deps.stats?.inc('jwt_authn.allowed');
    results.forEach((r, i) => { if (r.status === 'Ok') applyOutputs(ctx, providers[i], r); });
    if (first !== undefined) ctx.auth = auth;
    next(ctx);
  }, (err: Error) => {
    deps.log?.('warn', `jwt: verification failed unexpectedly: ${err.message}`);
    ctx.fail(new ProxyError(401, undefined, jwtReason('JwtVerificationFail'), JWT_STATUS.JwtVerificationFail));
  });
};

/**
 * What jwt_authn decides from each provider's verdict on the tokens it found
 * (explain runs it over verdicts it got beforehand): the requirement's
 * status, and the end user named by the first provider whose token verified.
 */
export function jwtOutcome(providers: readonly JwtProvider[], results: readonly ProviderResult[]): { status: JwtStatus; first?: number; auth?: RequestAuth } {
  const status = requirementStatus(results.map((r) => r.status));
  if (status !== 'Ok') return { status };
  const first = results.findIndex((r) => r.status === 'Ok');
  if (first < 0) return { status };
  return { status, first, auth: requestAuthOf(results[first].jwt!.payload, providers[first].spaceDelimitedClaims) };
}

/** What a verified token adds to the request, and the token's header removed unless the rule forwards it. */
function applyOutputs(ctx: RequestContext, p: JwtProvider, r: ProviderResult): void {
  const jwt = r.jwt!;
  if (p.outputPayloadToHeader) setRequestHeader(ctx, p.outputPayloadToHeader, jwt.payloadPart);
  for (const c of p.outputClaimToHeaders) {
    const value = claimHeaderValue(jwt.payload, c.claim);
    if (value !== undefined) setRequestHeader(ctx, c.header, value);
  }
  if (!p.forwardOriginalToken && r.found?.location.kind === 'header') setRequestHeader(ctx, r.found.location.name, undefined);
}


function isCorsPreflight(ctx: RequestContext): boolean {
  const h = ctx.downstream.headers;
  return ctx.method === 'OPTIONS' && !!h.origin && !!h['access-control-request-method'];
}

/** `scheme://host/path` as Envoy builds the realm (path cut at 256 characters). */
function originalUri(ctx: RequestContext): string {
  const proto = ctx.downstream.headers['x-forwarded-proto'];
  const scheme = typeof proto === 'string' && proto !== '' ? proto : 'http';
  return `${scheme}://${ctx.authority}${ctx.path.slice(0, 256)}`;
}
