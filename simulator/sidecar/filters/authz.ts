/**
 * Authz: Istio's RBAC, at a workload's inbound and at the ingress gateway,
 * on the path the normalize filter left (as Envoy's connection manager
 * normalizes before any filter), so the app sees exactly the path that was
 * authorized. DENY then ALLOW policies selecting this proxy decide (CUSTOM
 * ran before, in extAuthz); a denial is a 403
 * `RBAC: access denied`, as Envoy answers. AUDIT matches and dry-run
 * (`istio.io/dry-run: "true"`) decisions are counted and logged, never enforced.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Resource } from '../../policy/model';
import type { Filter, RequestContext } from '../context';
import type { MeshTables } from '../tables';
import { ProxyError } from '../errors';
import { authorize, policiesFor, type AuthzRequest } from '../security/authorization';
import { proxyTarget } from '../security/proxyTarget';
import { splitPath } from '../routing/match';
import type { Stats } from '../stats';

export interface AuthzDeps {
  /** rbac.allowed / denied / audit / shadow_* counters (admin /stats). */
  stats: Stats;
  /** AUDIT and dry-run lines for the control plane. */
  log: (level: 'info' | 'warn', message: string) => void;
}

const selected = new WeakMap<MeshTables, Resource<'AuthorizationPolicy'>[]>();

/**
 * The AuthorizationPolicies that select this proxy (explain lists them with
 * their verdicts): chosen once per tables (they are immutable), not per
 * request; callers share the array and do not change it.
 */
export function authzPoliciesAt(t: MeshTables): Resource<'AuthorizationPolicy'>[] {
  let policies = selected.get(t);
  if (policies === undefined) {
    policies = t.snapshot.authorizationPolicies.length === 0 ? [] : policiesFor(t.snapshot.authorizationPolicies, proxyTarget(t), t.snapshot.namespace, t.rootNamespace);
    selected.set(t, policies);
  }
  return policies;
}

export const authz = (deps: AuthzDeps): Filter => (next) => (ctx) => {
  const t = ctx.tables;
  const policies = authzPoliciesAt(t);
  if (policies.length === 0) return next(ctx);
  const decision = authorize(policies, authzRequest(ctx), t.snapshot.namespace);
  if (ctx.notes) ctx.notes.authz = decision;
  const who = ctx.source.spiffeId ?? ctx.source.address ?? 'unknown peer';
  if (decision.audited) {
    deps.stats.inc('rbac.audit');
    deps.log('info', `rbac audit: ${ctx.method} ${ctx.path} from ${who} matched ${decision.audited.join(', ')}`);
  }
  if (decision.dryRun) {
    deps.stats.inc(decision.dryRun.allowed ? 'rbac.shadow_allowed' : 'rbac.shadow_denied');
    deps.log('info', `rbac dry-run: ${ctx.method} ${ctx.path} from ${who} would be ${decision.dryRun.allowed ? 'allowed' : 'DENIED'} (${decision.dryRun.policy}); enforced decision: ${decision.allowed ? 'allowed' : 'denied'}`);
  }
  deps.stats.inc(decision.allowed ? 'rbac.allowed' : 'rbac.denied');
  if (decision.allowed) return next(ctx);
  // Envoy's exact body; which policy decided stays on this side (admin /stats), not told to the caller.
  deps.stats.inc(`rbac.denied_by.${decision.policy}`);
  ctx.fail(new ProxyError(403, 'UAEX', 'rbac-access-denied', 'RBAC: access denied'));
};

/** What authorization reads of a request: a RequestContext, or the request explain walks. */
export type AuthzInput = Pick<RequestContext, 'tables' | 'source' | 'method' | 'path' | 'authority' | 'inbound' | 'auth'> & { downstream: { headers: IncomingHttpHeaders } };

/** The request as AuthorizationPolicy sees it, at a workload's inbound or at the ingress gateway. */
export function authzRequest(ctx: AuthzInput): AuthzRequest {
  // The workload (container) port, as Envoy's inbound listener sees it; `ports` in policies name these.
  const target = proxyTarget(ctx.tables, ctx.inbound);
  // At a workload the peer is the calling sidecar; at a gateway, the client's own connection (Envoy's
  // source.principal is the downstream's mTLS identity: none for a plain client, not the gateway's own).
  const peer = ctx.tables.self ? ctx.source.spiffeId : ctx.source.clientPrincipal;
  // The flavor reads principals and namespaces out of the id (policy/flavors), not this filter.
  const identity = ctx.tables.flavor.identity;
  return {
    peer,
    peerNamespace: identity.namespace(peer),
    identity,
    sourceIp: ctx.source.address,
    method: ctx.method,
    path: splitPath(ctx.path).path,
    host: ctx.authority,
    port: target.port,
    headers: ctx.downstream.headers,
    auth: ctx.auth,
    // At a gateway that terminated the client's TLS: the server name it asked for (none on plain HTTP, and at a workload).
    ...(!ctx.tables.self && ctx.source.sni ? { sni: ctx.source.sni } : {}),
  };
}
