/**
 * External authorization: AuthorizationPolicy `action: CUSTOM`, before DENY
 * and ALLOW as in Istio. When a CUSTOM policy's rules match, the named
 * provider decides: allowed requests go on (with the headers it returns),
 * denied ones get its answer with flag UAEX, and a provider that cannot be
 * reached answers `statusOnError` (UAEX) unless `failOpen`. A provider that
 * is unknown or unusable turns its policies into DENY policies (403 `RBAC:
 * access denied`), as pilot does.
 */
import { setRequestHeader, type Filter, type RequestContext } from '../context';
import { ProxyError } from '../errors';
import { customDecision, policiesFor, type AuthzRequest, type CustomDecision } from '../security/authorization';
import { checkRequest, checkVerdict, resolveProviders, type ProviderResolution, type ResolvedProvider } from '../security/extAuthz';
import { proxyTarget } from '../security/proxyTarget';
import type { MeshTables } from '../tables';
import type { Stats } from '../stats';
import type { AuthzCall } from '../upstream/authzCall';
import { authzRequest } from './authz';

export interface ExtAuthzDeps {
  call: AuthzCall;
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
    if ('problem' in r) return r.problem;
    // The HTTP ext_authz filter's gRPC API is not simulated yet (the network one is, l4/extAuthz.ts): its policies deny what they match.
    return r.provider.api === 'grpc' ? `envoyExtAuthzGrpc is not simulated on HTTP requests yet (provider ${name})` : undefined;
  };
  return customDecision(policies, req, t.snapshot.namespace, usable);
}

/** The provider a CUSTOM decision asks, resolved (its address). */
export function providerAt(t: MeshTables, name: string): ResolvedProvider | undefined {
  const r = providers(t).get(name);
  return r && 'provider' in r ? r.provider : undefined;
}

export const extAuthz = (deps: ExtAuthzDeps): Filter => (next) => (ctx) => {
  const t = ctx.tables;
  const decision = customDecisionAt(t, authzRequest(ctx));
  if (decision.kind === 'none') return next(ctx);
  const byName = providers(t);
  if (decision.kind === 'deny') {
    deps.stats?.inc('ext_authz.bad_custom_action');
    deps.log?.('warn', `ext_authz: ${decision.policy} denies ${ctx.method} ${ctx.path}: ${decision.why} (pilot turns such a CUSTOM policy into a DENY)`);
    return ctx.fail(new ProxyError(403, 'UAEX', 'ext-authz-bad-provider', 'RBAC: access denied'));
  }
  const resolution = byName.get(decision.provider);
  if (!resolution || 'problem' in resolution) return next(ctx); // unreachable: customDecision asks only a usable provider
  const provider = resolution.provider;
  const check = checkRequest(provider, { method: ctx.method, path: ctx.path, authority: ctx.authority, headers: ctx.downstream.headers });
  // A client that leaves while the authorizer decides gets nothing sent on its behalf.
  let gone = false;
  ctx.onAbort(() => { gone = true; });
  deps.call(provider, check, ctx).then((answer) => answer, (err: Error) => ({ error: err.message })).then((answer) => {
    if (gone) return;
    const verdict = checkVerdict(provider, answer);
    switch (verdict.kind) {
      case 'allow':
        deps.stats?.inc('ext_authz.ok');
        for (const [name, value] of Object.entries(verdict.upstream)) setRequestHeader(ctx, name, value);
        if (Object.keys(verdict.downstream).length > 0) ctx.responseHeaderOps.push({ set: verdict.downstream });
        return next(ctx);
      case 'deny':
        deps.stats?.inc('ext_authz.denied');
        return ctx.fail(new ProxyError(verdict.status, 'UAEX', 'ext-authz-denied', verdict.body, { headers: verdict.headers, verbatim: true }));
      case 'error':
        deps.stats?.inc('ext_authz.error');
        deps.log?.('warn', `ext_authz: provider ${provider.name} (${provider.address}) failed for ${ctx.method} ${ctx.path}: ${verdict.why}${provider.failOpen ? '; failOpen lets the request through' : ''}`);
        if (provider.failOpen) {
          deps.stats?.inc('ext_authz.failure_mode_allowed');
          return next(ctx);
        }
        return ctx.fail(new ProxyError(provider.statusOnError, 'UAEX', 'ext-authz-error', `devmesh: external authorizer ${provider.name} (${provider.address}) failed: ${verdict.why}\n`));
    }
  });
};

