/**
 * Authz: Istio's inbound RBAC. DENY then ALLOW policies selecting this
 * workload decide; a denial is a 403 `RBAC: access denied`, as Envoy answers.
 */
import type { Filter } from '../context';
import { ProxyError } from '../errors';
import { authorize, policiesFor } from '../security/authorization';
import { namespaceOf } from '../security/peerIdentity';
import { splitPath } from '../routing/match';

export const authz = (): Filter => (next) => (ctx) => {
  const t = ctx.tables;
  if (!t.self || t.snapshot.authorizationPolicies.length === 0) return next(ctx);
  const policies = policiesFor(t.snapshot.authorizationPolicies, { namespace: t.self.namespace, labels: t.self.labels }, t.snapshot.namespace);
  if (policies.length === 0) return next(ctx);
  const decision = authorize(policies, {
    peer: ctx.source.spiffeId,
    peerNamespace: namespaceOf(ctx.source.spiffeId),
    sourceIp: ctx.source.address,
    method: ctx.method,
    path: splitPath(ctx.path).path,
    host: ctx.authority,
    port: t.self.appPort,
    headers: ctx.downstream.headers,
  }, t.snapshot.namespace);
  if (decision.allowed) return next(ctx);
  ctx.fail(new ProxyError(403, 'UAEX', 'rbac-access-denied', `RBAC: access denied (${decision.policy})\n`));
};
