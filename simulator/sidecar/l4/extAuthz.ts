/**
 * AuthorizationPolicy `action: CUSTOM` on a TCP connection: Envoy's network
 * ext_authz filter, as pilot builds it (pilot/pkg/security/authz/builder
 * buildTCP, extauthz.go generateGRPCConfig), before the network RBAC of DENY
 * and ALLOW (networkfilter.go: the CUSTOM filters come first):
 *
 * - the CUSTOM rules are read for TCP as a DENY policy's are (HTTP-only
 *   fields drop out, so a rule of only `paths` matches every connection);
 * - only an `envoyExtAuthzGrpc` provider has a network filter: pilot builds
 *   none for an `envoyExtAuthzHttp` one ("ignored CUSTOM action with HTTP
 *   provider on TCP filter chain"), so its policies do not apply to TCP;
 * - a provider that is unknown or unusable (and CUSTOM policies naming two
 *   providers on one proxy) turns the policies into network RBAC DENY rules;
 * - a matching connection is checked once (envoy.service.auth.v3.Authorization/Check,
 *   the connection's addresses, principals and SNI, no HTTP request): OK
 *   lets it on, a denial closes it (flag UAEX, envoyproxy/envoy#18740), and so does an authorizer
 *   that fails or times out unless `failOpen` (`statusOnError` is HTTP's:
 *   a connection has no status to send).
 *
 * The check is made on the client's first bytes, as Envoy's Filter::onData
 * makes it (onNewConnection returns Continue, "wait till onData() happens"):
 * tcp_proxy has connected the upstream by then, a server-first protocol's
 * greeting reaches the client before the decision, and the bytes are held
 * until the authorizer answers (l4/connection.ts onFirstBytes).
 */
import { customDecision, type AuthzRequest, type CustomDecision } from '../security/authorization';
import { encodeCheckRequest, grpcCheckVerdict, type CheckAttributes } from '../security/extAuthzGrpc';
import { forTcp } from '../security/tcpAuthorization';
import { authzPoliciesAt } from '../filters/authz';
import { providers } from '../filters/extAuthz';
import type { ResolvedProvider } from '../security/extAuthz';
import type { GrpcAuthzCall } from '../upstream/authzGrpcCall';
import type { Stats } from '../stats';
import type { MeshTables } from '../tables';
import type { L4Context, L4Filter } from './context';
import { tcpAuthzRequest } from './authz';

/** What the CUSTOM policies decide for a connection: as for a request, or `ignored` (their provider is HTTP-only: no network filter). */
export type TcpCustomDecision = CustomDecision | { kind: 'ignored'; provider: string; policies: string[] };

/** The CUSTOM decision of a proxy on one connection, pure (explain's walks call it too). */
export function tcpCustomDecision(t: MeshTables, req: AuthzRequest): TcpCustomDecision {
  const written = authzPoliciesAt(t);
  if (!written.some((p) => p.spec.action === 'CUSTOM')) return { kind: 'none' };
  const byName = providers(t);
  const usable = (name: string) => {
    const r = byName.get(name);
    return !r ? `extension provider "${name}" is not defined in the Mesh (spec.extensionProviders)` : 'problem' in r ? r.problem : undefined;
  };
  const decision = customDecision(forTcp(written), req, t.snapshot.namespace, usable);
  if (decision.kind !== 'ask') return decision;
  const provider = providerOf(t, decision.provider);
  return provider?.api === 'http' ? { kind: 'ignored', provider: decision.provider, policies: decision.policies } : decision;
}

function providerOf(t: MeshTables, name: string): ResolvedProvider | undefined {
  const r = providers(t).get(name);
  return r && 'provider' in r ? r.provider : undefined;
}

/** The attributes Envoy's createTcpCheck sends: both ends' addresses and principals, and the SNI the client sent. */
export function tcpCheckAttributes(ctx: Pick<L4Context, 'tables' | 'source' | 'sni' | 'gateway' | 'inbound'>, localPort: number | undefined): CheckAttributes {
  const t = ctx.tables;
  return {
    source: { address: ctx.source.address, principal: ctx.gateway ? ctx.source.clientPrincipal : ctx.source.spiffeId },
    destination: { address: '127.0.0.1', ...(localPort ? { port: localPort } : {}), principal: t.identity.spiffeId },
    ...(ctx.sni ? { sni: ctx.sni } : {}),
  };
}

export interface L4ExtAuthzDeps {
  call: GrpcAuthzCall;
  stats: Stats;
  log: (level: 'info' | 'warn', message: string) => void;
}

/** The connection's port as network RBAC reads it (the Gateway server port at the ingress, the container port at a workload). */
const portOf = (ctx: L4Context) => ctx.gateway?.port ?? ctx.inbound?.number ?? ctx.tables.self?.appPort ?? 0;

export const l4ExtAuthz = (deps: L4ExtAuthzDeps): L4Filter => (next) => (ctx) => {
  const t = ctx.tables;
  const peer = { spiffeId: ctx.gateway ? ctx.source.clientPrincipal : ctx.source.spiffeId, address: ctx.source.address };
  const port = portOf(ctx);
  const decision = tcpCustomDecision(t, tcpAuthzRequest(peer, port, ctx.sni, t.flavor.identity));
  if (decision.kind === 'none') return next(ctx);
  if (decision.kind === 'ignored') {
    deps.stats.inc('ext_authz.tcp.ignored_http_provider');
    return next(ctx);
  }
  const who = peer.spiffeId ?? peer.address ?? 'unknown peer';
  if (decision.kind === 'deny') {
    // Pilot's network RBAC DENY in the CUSTOM filter's place: it decides on the first bytes too.
    ctx.onFirstBytes(() => {
      deps.stats.inc('ext_authz.tcp.bad_custom_action');
      deps.log('warn', `ext_authz: ${decision.policy} closes a TCP connection to port ${port} from ${who}: ${decision.why} (pilot turns such a CUSTOM policy into a network RBAC DENY)`);
      ctx.authz = { allowed: false, policy: decision.policy };
      ctx.fail({ reason: `rbac_access_denied_matched_policy[${decision.policy}]`, status: 403, message: `RBAC: access denied (${decision.why})` });
    });
    return next(ctx);
  }
  const provider = providerOf(t, decision.provider)!;
  // Envoy's Filter::onData calls the authorizer on the first bytes (onNewConnection: "Wait till onData() happens") and holds them until it answers.
  ctx.onFirstBytes((proceed) => {
    const cancel = new AbortController();
    let gone = false;
    ctx.onClose(() => {
      gone = true;
      cancel.abort();
    });
    const socket = ctx.downstream as Partial<{ localPort: number }>;
    const checkRequest = encodeCheckRequest(tcpCheckAttributes(ctx, socket.localPort));
    deps.stats.inc('ext_authz.tcp.total');
    deps.call(provider, checkRequest, t, cancel.signal).then((answer) => {
      if (gone) return;
      const verdict = grpcCheckVerdict(answer);
      switch (verdict.kind) {
        case 'allow':
          deps.stats.inc('ext_authz.tcp.ok');
          return proceed();
        case 'deny':
          deps.stats.inc('ext_authz.tcp.denied');
          deps.stats.inc('ext_authz.tcp.cx_closed');
          return ctx.fail({ flag: 'UAEX', status: 403, reason: 'ext_authz_denied', message: `denied by the external authorizer ${provider.name} (${provider.address})${verdict.message ? `: ${verdict.message}` : ''}` });
        case 'error':
          deps.stats.inc('ext_authz.tcp.error');
          deps.log('warn', `ext_authz: provider ${provider.name} (${provider.address}) failed for a TCP connection to port ${port} from ${who}: ${verdict.why}${provider.failOpen ? '; failOpen lets the connection through' : ''}`);
          if (provider.failOpen) {
            deps.stats.inc('ext_authz.tcp.failure_mode_allowed');
            return proceed();
          }
          deps.stats.inc('ext_authz.tcp.cx_closed');
          return ctx.fail({ flag: 'UAEX', status: 403, reason: 'ext_authz_error', message: `the external authorizer ${provider.name} (${provider.address}) failed: ${verdict.why}` });
      }
    });
  });
  next(ctx);
};
