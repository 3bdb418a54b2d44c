/**
 * L4 authz: Istio's network RBAC, once per connection. The policies that
 * select this workload are rewritten for TCP as pilot does (HTTP-only fields
 * ignore an ALLOW rule and drop out of a DENY rule, security/tcpAuthorization.ts),
 * then DENY, then ALLOW decide on the verified peer identity, its namespace,
 * its address and the port. A denial closes the connection (Envoy's
 * `rbac_access_denied_matched_policy[...]`); the caller's app sees it
 * close. AUDIT and dry-run are counted and logged, as on the HTTP path.
 */
import { authorize, policiesFor } from '../security/authorization';
import { namespaceOf } from '../security/peerIdentity';
import { asWritten, forTcp } from '../security/tcpAuthorization';
import type { Stats } from '../stats';
import type { L4Filter } from './context';
import type { Source } from '../context';
import type { AuthzRequest } from '../security/authorization';

/** What network RBAC sees of a connection: the verified peer, its namespace, its address and the port (no HTTP attributes). */
export function tcpAuthzRequest(source: Pick<Source, 'spiffeId' | 'address'>, port: number): AuthzRequest {
  return { peer: source.spiffeId, peerNamespace: namespaceOf(source.spiffeId), sourceIp: source.address, method: '', path: '', host: '', port, headers: {} };
}

export interface L4AuthzDeps {
  stats: Stats;
  log: (level: 'info' | 'warn', message: string) => void;
}

export const l4Authz = (deps: L4AuthzDeps): L4Filter => (next) => (ctx) => {
  const t = ctx.tables;
  if (!t.self || t.snapshot.authorizationPolicies.length === 0) return next(ctx);
  const policies = forTcp(policiesFor(t.snapshot.authorizationPolicies, { namespace: t.self.namespace, labels: t.self.labels }, t.snapshot.namespace, t.rootNamespace));
  if (policies.length === 0) return next(ctx);
  const port = ctx.inbound?.number ?? t.self.appPort;
  const decision = asWritten(authorize(policies, tcpAuthzRequest(ctx.source, port), t.snapshot.namespace), policies, t.snapshot.namespace);
  ctx.authz = decision;
  const who = ctx.source.spiffeId ?? ctx.source.address ?? 'unknown peer';
  if (decision.audited) {
    deps.stats.inc('rbac.tcp.audit');
    deps.log('info', `rbac audit: TCP connection to port ${port} from ${who} matched ${decision.audited.join(', ')}`);
  }
  if (decision.dryRun) {
    deps.stats.inc(decision.dryRun.allowed ? 'rbac.tcp.shadow_allowed' : 'rbac.tcp.shadow_denied');
    deps.log('info', `rbac dry-run: TCP connection to port ${port} from ${who} would be ${decision.dryRun.allowed ? 'allowed' : 'DENIED'} (${decision.dryRun.policy}); enforced decision: ${decision.allowed ? 'allowed' : 'denied'}`);
  }
  deps.stats.inc(decision.allowed ? 'rbac.tcp.allowed' : 'rbac.tcp.denied');
  if (decision.allowed) return next(ctx);
  deps.stats.inc(`rbac.tcp.denied_by.${decision.policy}`);
  ctx.fail({ reason: `rbac_access_denied_matched_policy[${decision.policy}]`, status: 403, message: 'RBAC: access denied' });
};
