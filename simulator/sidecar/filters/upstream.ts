/**
 * Upstream: sends the request to the picked workload's sidecar (or, for an
 * endpoint outside the mesh, to its address, with TLS when a DestinationRule
 * originates it). mTLS over
 * the shared HTTP/2 session, or plaintext HTTP/1.1 keep-alive when the
 * DestinationRule says `tls.mode: DISABLE` or auto mTLS finds the endpoint's
 * PeerAuthentication DISABLE (security/upstreamTls.ts). Bodies stream both ways; the
 * active-request count feeds LEAST_REQUEST.
 */
import type { Agent } from 'node:http';
import * as http2 from 'node:http2';
import type { Handler, RequestContext } from '../context';
import { upstreamConnectFailure } from '../errors';
import { connectTimeoutMs } from '../resilience/connectionPool';
import { sendsMtls } from '../security/upstreamTls';
import type { LbStats } from '../routing/loadBalancer';
import { DESTINATION_HEADER, destinationOf } from './servicePort';
import type { Stats } from '../stats';
import { forwardHttp1, markServiceTime } from '../upstream/http1';
import { exchangeH2 } from '../upstream/h2Exchange';
import { H2Pool } from '../upstream/h2Pool';
import { stripPort } from '../../policy/hosts';
import { ProxyError } from '../errors';
import { externalTarget } from '../routing/externalEndpoints';
import type { ForwardPlan } from '../routing/plan';
import { tlsOrigination } from '../security/tlsOrigination';
import type { ClientCredential } from '../../protocol';

export interface UpstreamDeps {
  pool: () => H2Pool;
  plaintextAgent: Agent;
  /** A gateway (ingress or egress) reads DestinationRule credentialNames; a sidecar does not. */
  gateway?: boolean;
  /** The credentials the control plane gave this proxy, by credentialName. */
  credentials?: () => Readonly<Record<string, ClientCredential>> | undefined;
  lb: LbStats;
  stats: Stats;
}

export const upstream = (deps: UpstreamDeps): Handler => (ctx) => {
  const ep = ctx.endpoint!;
  const active = deps.lb.activeRequests;
  active.set(ep.name, (active.get(ep.name) ?? 0) + 1);
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    active.set(ep.name, (active.get(ep.name) ?? 1) - 1);
  };
  // Outside the mesh: straight to the address, in plaintext or with the DestinationRule's TLS origination.
  if (ep.external) return forwardExternal(ctx, deps, release);
  // The callee's sidecar learns which service port this is for (its inbound listener serves them all).
  if (ctx.plan?.kind === 'forward') ctx.headers[DESTINATION_HEADER] = destinationOf(ctx.plan);
  if (!sendsMtls(ctx.tables, ep, ctx.policy, ctx.plan)) {
    deps.stats.inc('upstream_rq_plaintext');
    forwardHttp1(ctx, ctx.upstreamPort ?? ep.sidecar.inboundPort, deps.plaintextAgent, release);
  } else {
    deps.stats.inc('upstream_rq_mtls');
    forwardHttp2(ctx, deps.pool(), release);
  }
};

function forwardExternal(ctx: RequestContext, deps: UpstreamDeps, release: () => void): void {
  const plan = ctx.plan as ForwardPlan;
  const to = externalTarget(ctx.endpoint!, plan);
  const site = { gateway: deps.gateway === true, selectedRule: !!ctx.tables.destinationRules.get(plan.service.fqdn)?.workloadSelector, credentials: deps.credentials?.() };
  const origination = tlsOrigination(ctx.policy?.tls, stripPort(ctx.authority), plan.service.entry?.subjectAltNames, site);
  if (origination && 'error' in origination) {
    release();
    return ctx.fail(new ProxyError(503, 'UF', 'upstream-tls-config', `devmesh: TLS origination to ${plan.host}: ${origination.error}\n`));
  }
  deps.stats.inc(origination ? 'upstream_rq_tls_origination' : 'upstream_rq_external');
  forwardHttp1(ctx, { ...to, tls: origination?.options }, origination?.agent ?? deps.plaintextAgent, release, `${to.host}:${to.port}`);
}

function forwardHttp2(ctx: RequestContext, pool: H2Pool, release: () => void): void {
  const ep = ctx.endpoint!;
  let session: http2.ClientHttp2Session;
  try {
    // A toxic relay (runtime chaos) may stand in for the peer's port; TLS still runs end to end.
    session = pool.session({ port: ctx.upstreamPort ?? ep.sidecar.inboundPort, spiffeId: ep.spiffeId });
  } catch (err) {
    release();
    return ctx.fail(upstreamConnectFailure(`devmesh: cannot reach ${ep.name}: ${(err as Error).message}\n`));
  }
  const sent = performance.now();
  exchangeH2(ctx, session, {
    who: ep.name,
    scheme: 'https',
    connected: () => H2Pool.connected(session),
    // connectionPool.tcp.connectTimeout (else meshConfig.connectTimeout, Istio's 10s): a session that does not connect in time is a connect failure.
    connectTimeoutMs: connectTimeoutMs(ctx.policy?.connectionPool?.tcp?.connectTimeout, ctx.tables.defaults.connectionPool),
    onClose: release,
    onResponse: (h) => markServiceTime(ctx, h, sent),
  });
}
