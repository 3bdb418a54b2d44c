/**
 * External authorization: AuthorizationPolicy `action: CUSTOM`, before DENY
 * and ALLOW as in Istio. When a CUSTOM policy's rules match, the named
 * provider decides: allowed requests go on (with the headers it returns),
 * denied ones get its answer with flag UAEX, and a provider that cannot be
 * reached answers `statusOnError` (UAEX) unless `failOpen`. A provider that
 * is unknown or unusable turns its policies into DENY policies (403 `RBAC:
 * access denied`), as pilot does.
 *
 * An `envoyExtAuthzHttp` provider gets an HTTP check request
 * (security/extAuthz.ts); an `envoyExtAuthzGrpc` one a CheckRequest with the
 * request's attributes (security/extAuthzGrpc.ts); either gets the request's
 * body when the provider includes it (buffered up to maxRequestBytes, 413
 * beyond unless allowPartialMessage).
 */
import { setRequestHeader, type Filter, type RequestContext } from '../context';
import { ProxyError } from '../errors';
import { customDecision, policiesFor, type AuthzRequest, type CustomDecision } from '../security/authorization';
import { checkRequest, checkVerdict, resolveProviders, type ProviderResolution, type ResolvedProvider } from '../security/extAuthz';
import { encodeCheckRequest, grpcCheckVerdict, httpCheckAttributes, type HeaderOption } from '../security/extAuthzGrpc';
import { proxyTarget } from '../security/proxyTarget';
import type { MeshTables } from '../tables';
import type { Stats } from '../stats';
import type { AuthzCall } from '../upstream/authzCall';
import type { GrpcAuthzCall } from '../upstream/authzGrpcCall';
import { readBodyHead, type BodyHead } from '../upstream/bodyHead';
import { hasBody } from '../upstream/hopByHop';
import { authzRequest } from './authz';

export interface ExtAuthzDeps {
  call: AuthzCall;
  grpcCall: GrpcAuthzCall;
  stats?: Stats;
  log?: (level: 'info' | 'warn', message: string) => void;
}

const resolved = new WeakMap<MeshTables, Map<string, ProviderResolution>>();

/** The Mesh's extension providers, resolved once per snapshot (the HTTP and the network ext_authz share them). */
export function providers(t: MeshTables): Map<string, ProviderResolution> {
  let map = resolved.get(t);
  if (!map) resolved.set(t, (map = resolveProviders(t.snapshot.extensionProviders ?? [], t)));
  return map;
}

/** What this proxy's CUSTOM policies decide for a request: ask a provider, deny without asking, or nothing (explain calls it too). */
export function customDecisionAt(t: MeshTables, req: AuthzRequest): CustomDecision {
  if (!t.snapshot.authorizationPolicies.some((p) => p.spec.action === 'CUSTOM')) return { kind: 'none' };
  const policies = policiesFor(t.snapshot.authorizationPolicies, proxyTarget(t), t.snapshot.namespace, t.rootNamespace);
  const byName = providers(t);
  const usable = (name: string) => {
    const r = byName.get(name);
    if (!r) return `extension provider "${name}" is not defined in the Mesh (spec.extensionProviders)`;
    return 'problem' in r ? r.problem : undefined;
  };
  return customDecision(policies, req, t.snapshot.namespace, usable);
}

/** The provider a CUSTOM decision asks, resolved (its address). */
export function providerAt(t: MeshTables, name: string): ResolvedProvider | undefined {
  const r = providers(t).get(name);
  return r && 'provider' in r ? r.provider : undefined;
}

/** What the provider's answer comes to, whichever API asked: headers to apply and go on, an answer to send back, or a failure. */
type Outcome =
  | { kind: 'allow'; apply: () => void }
  | { kind: 'deny'; status: number; headers: Record<string, string | string[]>; body: string }
  | { kind: 'error'; why: string };

export const extAuthz = (deps: ExtAuthzDeps): Filter => (next) => (ctx) => {
  const t = ctx.tables;
  const areq = authzRequest(ctx);
  const decision = customDecisionAt(t, areq);
  if (decision.kind === 'none') return next(ctx);
  if (decision.kind === 'deny') {
    deps.stats?.inc('ext_authz.bad_custom_action');
    deps.log?.('warn', `ext_authz: ${decision.policy} denies ${ctx.method} ${ctx.path}: ${decision.why} (pilot turns such a CUSTOM policy into a DENY)`);
    return ctx.fail(new ProxyError(403, 'UAEX', 'ext-authz-bad-provider', 'RBAC: access denied'));
  }
  const provider = providerAt(t, decision.provider);
  if (!provider) return next(ctx); // unreachable: customDecision asks only a usable provider
  // A client that leaves while the authorizer decides gets nothing sent on its behalf.
  let gone = false;
  const cancel = new AbortController();
  ctx.onAbort(() => {
    gone = true;
    cancel.abort();
  });
  const asked = provider.api === 'grpc' ? askGrpc(deps.grpcCall, provider, ctx, areq.peer, cancel.signal) : askHttp(deps.call, provider, ctx);
  asked.then((outcome) => {
    if (gone) return;
    switch (outcome.kind) {
      case 'allow':
        deps.stats?.inc('ext_authz.ok');
        outcome.apply();
        return next(ctx);
      case 'deny':
        deps.stats?.inc('ext_authz.denied');
        return ctx.fail(new ProxyError(outcome.status, 'UAEX', 'ext-authz-denied', outcome.body, { headers: outcome.headers, verbatim: true }));
      case 'error':
        deps.stats?.inc('ext_authz.error');
        deps.log?.('warn', `ext_authz: provider ${provider.name} (${provider.address}) failed for ${ctx.method} ${ctx.path}: ${outcome.why}${provider.failOpen ? '; failOpen lets the request through' : ''}`);
        if (provider.failOpen) {
          deps.stats?.inc('ext_authz.failure_mode_allowed');
          return next(ctx);
        }
        return ctx.fail(new ProxyError(provider.statusOnError, 'UAEX', 'ext-authz-error', `devmesh: external authorizer ${provider.name} (${provider.address}) failed: ${outcome.why}\n`));
    }
  }, (err: Error) => {
    // The body could not be read for the check: too large (413), or the client stopped sending it.
    if (!gone) ctx.fail(err instanceof ProxyError ? err : new ProxyError(400, 'DC', 'ext-authz-body', `devmesh: ${err.message}\n`));
  });
};

/** envoyExtAuthzHttp: the check request over HTTP (with the buffered body when included), its status and headers. */
async function askHttp(call: AuthzCall, provider: ResolvedProvider, ctx: RequestContext): Promise<Outcome> {
  // A request without a body has nothing buffered: the check has none either, nor x-envoy-auth-partial-body.
  const body = provider.requestBody && hasBody(ctx.downstream) ? await bufferedBody(ctx, provider.requestBody.maxBytes, provider.requestBody.allowPartial) : undefined;
  const check = checkRequest(provider, { method: ctx.method, path: ctx.path, authority: ctx.authority, headers: ctx.downstream.headers }, body);
  const answer = await call(provider, check, ctx).catch((err: Error) => ({ error: err.message }));
  const verdict = checkVerdict(provider, answer);
  if (verdict.kind !== 'allow') return verdict;
  return {
    kind: 'allow',
    apply: () => {
      for (const [name, value] of Object.entries(verdict.upstream)) setRequestHeader(ctx, name, value);
      if (Object.keys(verdict.downstream).length > 0) ctx.responseHeaderOps.push({ set: verdict.downstream });
    },
  };
}

/** Headers the authorizer may not remove from the request (Envoy keeps pseudo-headers and Host). */
const KEPT = new Set(['host']);

/** envoyExtAuthzGrpc: a CheckRequest with the request's attributes (and body), the CheckResponse's status and HTTP parts. */
async function askGrpc(call: GrpcAuthzCall, provider: ResolvedProvider, ctx: RequestContext, peer: string | undefined, cancel: AbortSignal): Promise<Outcome> {
  const t = ctx.tables;
  const body = provider.requestBody ? await bufferedBody(ctx, provider.requestBody.maxBytes, provider.requestBody.allowPartial) : undefined;
  const headers = ctx.downstream.headers as Record<string, string | string[] | undefined>;
  const scheme = typeof headers[':scheme'] === 'string' ? headers[':scheme'] : ctx.gatewayListener?.scheme ?? (ctx.source.tls || ctx.source.sni ? 'https' : 'http');
  const attributes = httpCheckAttributes({
    requestId: ctx.requestId, method: ctx.method, path: ctx.path, authority: ctx.authority, scheme, httpVersion: ctx.downstream.httpVersion, headers,
    source: { address: ctx.source.address, principal: peer },
    destination: { address: '127.0.0.1', port: ctx.gatewayListener?.port ?? ctx.inbound?.number, principal: t.identity.spiffeId },
    ...(!t.self && ctx.source.sni ? { sni: ctx.source.sni } : {}),
    ...(body && provider.requestBody ? { body: { head: body.head, complete: body.complete, asBytes: provider.requestBody.asBytes } } : {}),
  });
  const verdict = grpcCheckVerdict(await call(provider, encodeCheckRequest(attributes), t, cancel));
  switch (verdict.kind) {
    case 'error':
      return verdict;
    case 'deny':
      return { kind: 'deny', status: verdict.status, headers: headerRecord(verdict.headers), body: verdict.body };
    case 'allow':
      return {
        kind: 'allow',
        apply: () => {
          for (const h of verdict.upstream) {
            const current = h.append ? ctx.downstream.headers[h.name] : undefined;
            setRequestHeader(ctx, h.name, current === undefined ? h.value : `${Array.isArray(current) ? current.join(',') : current},${h.value}`);
          }
          for (const name of verdict.remove) if (!name.startsWith(':') && !KEPT.has(name)) setRequestHeader(ctx, name, undefined);
          if (verdict.downstream.length > 0) ctx.responseHeaderOps.push(responseOps(verdict.downstream));
        },
      };
  }
}

/** The body read up to the provider's limit (with_request_body); a larger one without allowPartialMessage is refused with 413, as Envoy's buffer limit does. */
async function bufferedBody(ctx: RequestContext, max: number, allowPartial: boolean): Promise<BodyHead | undefined> {
  if (!hasBody(ctx.downstream)) return { head: Buffer.alloc(0), complete: true, body: ctx.downstream.body };
  const read = await readBodyHead(ctx.downstream.body, max);
  (ctx.downstream as { body: typeof read.body }).body = read.body;
  if (!read.complete && !allowPartial) throw new ProxyError(413, undefined, 'ext-authz-body-too-large', 'Payload Too Large');
  return read;
}

/** A denial's headers for the client (repeated names kept). */
function headerRecord(list: HeaderOption[]): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const h of list) {
    const had = out[h.name];
    out[h.name] = had === undefined || !h.append ? h.value : [...(Array.isArray(had) ? had : [had]), h.value];
  }
  return out;
}

/** response_headers_to_add: `append` adds a value, otherwise the header is set. */
function responseOps(list: HeaderOption[]): { set?: Record<string, string>; add?: Record<string, string> } {
  const set: Record<string, string> = {};
  const add: Record<string, string> = {};
  for (const h of list) (h.append ? add : set)[h.name] = h.value;
  return { ...(Object.keys(set).length ? { set } : {}), ...(Object.keys(add).length ? { add } : {}) };
}
