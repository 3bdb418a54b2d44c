/**
 * L4 authz: Istio's network RBAC, once per connection, on the client's
 * first bytes (Envoy's rbac_filter.cc decides in onData; tcp_proxy has
 * connected the upstream by then, l4/connection.ts). The policies that
 * select this workload are rewritten for TCP as pilot does (HTTP-only fields
 * ignore an ALLOW rule and drop out of a DENY rule, security/tcpAuthorization.ts),
 * then DENY, then ALLOW decide on the verified peer identity, its namespace,
 * its address and the port. A denial closes the connection (Envoy's
 * `rbac_access_denied_matched_policy[...]`); the caller's app sees it
 * close. AUDIT and dry-run are counted and logged, as on the HTTP path.
 *
 * The same filter runs at the ingress gateway, on the connections its
 * Gateway TCP and TLS servers take (Envoy's network RBAC on the gateway
 * listener): the policies selecting the gateway (and the root namespace's),
 * the source principal from the client certificate a MUTUAL server verified
 * (none for a plain client: never the gateway's own), `destination.port` the
 * Gateway server port and `connection.sni` the server name the client asked for.
 */
import { authorize } from '../security/authorization';
import { ISTIO_IDENTITY, type IdentityFormat } from '../../policy/flavors';
import { authzPoliciesAt } from '../filters/authz';
import { asWritten, forTcp } from '../security/tcpAuthorization';
import type { Stats } from '../stats';
import type { L4Filter } from './context';
import type { Source } from '../context';
import type { AuthzDecision, AuthzRequest } from '../security/authorization';
import type { Resource } from '../../policy/model';
import type { MeshTables } from '../tables';

/**
 * What network RBAC sees of a connection: the verified peer, its namespace, its address, the port and the TLS server name
 * (no HTTP attributes). `identity`: the flavor's format (`tables.flavor.identity`) that reads the peer's principal and namespace.
 */
export function tcpAuthzRequest(source: Pick<Source, 'spiffeId' | 'address'>, port: number, sni?: string, identity: IdentityFormat = ISTIO_IDENTITY): AuthzRequest {
  return { peer: source.spiffeId, peerNamespace: identity.namespace(source.spiffeId), identity, sourceIp: source.address, method: '', path: '', host: '', port, headers: {}, ...(sni !== undefined ? { sni } : {}) };
}

export interface L4AuthzDeps {
  stats: Stats;
  log: (level: 'info' | 'warn', message: string) => void;
}

/**
 * The network RBAC decision of a proxy (a workload, or the ingress gateway)
 * on one connection, with its rule as written, and the policies as written
 * that select the proxy; none when no policy does. Pure: explain's walks
 * call it too.
 */
export function tcpAuthorize(t: MeshTables, req: AuthzRequest): { decision: AuthzDecision; written: readonly Resource<'AuthorizationPolicy'>[] } | undefined {
  const written = authzPoliciesAt(t);
  if (written.length === 0) return undefined;
  const policies = forTcp(written);
  return { decision: asWritten(authorize(policies, req, t.snapshot.namespace), policies, t.snapshot.namespace), written };
}

export const l4Authz = (deps: L4AuthzDeps): L4Filter => (next) => (ctx) => {
  // No policy selects the proxy: pilot builds no network RBAC filter at all.
  if (authzPoliciesAt(ctx.tables).length === 0) return next(ctx);
  // Envoy's network RBAC decides in onData (onNewConnection returns Continue): on the client's first bytes, after tcp_proxy connected.
  ctx.onFirstBytes((proceed) => {
    const t = ctx.tables;
    // At a workload the peer is the calling sidecar and the port its container port; at the ingress, the client and the Gateway server port.
    const gateway = ctx.gateway;
    const port = gateway?.port ?? ctx.inbound?.number ?? t.self?.appPort ?? 0;
    const peer = { spiffeId: gateway ? ctx.source.clientPrincipal : ctx.source.spiffeId, address: ctx.source.address };
    const decision = tcpAuthorize(t, tcpAuthzRequest(peer, port, ctx.sni, t.flavor.identity))!.decision;
    ctx.authz = decision;
    const who = peer.spiffeId ?? ctx.source.address ?? 'unknown peer';
    if (decision.audited) {
      deps.stats.inc('rbac.tcp.audit');
      deps.log('info', `rbac audit: TCP connection to port ${port} from ${who} matched ${decision.audited.join(', ')}`);
    }
    if (decision.dryRun) {
      deps.stats.inc(decision.dryRun.allowed ? 'rbac.tcp.shadow_allowed' : 'rbac.tcp.shadow_denied');
      deps.log('info', `rbac dry-run: TCP connection to port ${port} from ${who} would be ${decision.dryRun.allowed ? 'allowed' : 'DENIED'} (${decision.dryRun.policy}); enforced decision: ${decision.allowed ? 'allowed' : 'denied'}`);
    }
    deps.stats.inc(decision.allowed ? 'rbac.tcp.allowed' : 'rbac.tcp.denied');
    if (decision.allowed) return proceed();
    deps.stats.inc(`rbac.tcp.denied_by.${decision.policy}`);
    // setConnectionTerminationDetails, then close(NoFlush): the held bytes never reach the upstream, which tcp_proxy closes too.
    ctx.fail({ reason: `rbac_access_denied_matched_policy[${decision.policy}]`, status: 403, message: 'RBAC: access denied' });
  });
  next(ctx);
};
