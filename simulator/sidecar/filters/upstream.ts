/**
 * Upstream: sends the request to the picked workload's sidecar. mTLS over
 * the shared HTTP/2 session, or plaintext HTTP/1.1 keep-alive when the
 * DestinationRule says `tls.mode: DISABLE` or auto mTLS finds the endpoint's
 * PeerAuthentication DISABLE (security/upstreamTls.ts). Bodies stream both ways; the
 * active-request count feeds LEAST_REQUEST.
 */
import type { Agent } from 'node:http';
import * as http2 from 'node:http2';
import type { Handler, RequestContext } from '../context';
import { refusedStream, upstreamConnectFailure, upstreamReset } from '../errors';
import { connectTimeoutMs } from '../resilience/connectionPool';
import { sendsMtls } from '../security/upstreamTls';
import type { LbStats } from '../routing/loadBalancer';
import { DESTINATION_HEADER, destinationOf } from './servicePort';
import type { Stats } from '../stats';
import { forwardHttp1, markServiceTime } from '../upstream/http1';
import { hasRequestBody } from '../upstream/hopByHop';
import { CONNECTED, type H2Pool } from '../upstream/h2Pool';

export interface UpstreamDeps {
  pool: () => H2Pool;
  plaintextAgent: Agent;
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
  ctx.headers['x-forwarded-proto'] = 'http';
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
  const headers: http2.OutgoingHttpHeaders = ctx.headers;
  headers[':method'] = ctx.method;
  headers[':path'] = ctx.path;
  headers[':authority'] = ctx.authority;
  headers[':scheme'] = 'https';
  const withBody = hasRequestBody(ctx.downstream.headers, ctx.downstream.httpVersion);
  let stream: http2.ClientHttp2Stream;
  try {
    stream = session.request(headers, { endStream: !withBody });
  } catch (err) {
    release();
    return ctx.fail(upstreamReset(`devmesh: request to ${ep.name} could not start: ${(err as Error).message}\n`));
  }
  let responded = false;
  const sent = performance.now();
  // connectionPool.tcp.connectTimeout (else meshConfig.connectTimeout, Istio's 10s): a session that does not connect in time is a connect failure.
  let connectTimer: NodeJS.Timeout | undefined;
  if (!(session as unknown as Record<symbol, boolean>)[CONNECTED]) {
    const ms = connectTimeoutMs(ctx.policy?.connectionPool?.tcp?.connectTimeout, ctx.tables.defaults.connectionPool);
    connectTimer = setTimeout(() => {
      if (responded || (session as unknown as Record<symbol, boolean>)[CONNECTED]) return;
      responded = true;
      cancel(stream);
      session.destroy();
      ctx.fail(upstreamConnectFailure(`devmesh: connection to ${ep.name} timed out after ${ms} ms (connectTimeout)\n`));
    }, ms);
    session.once('connect', () => clearTimeout(connectTimer));
  }
  stream.once('response', (h) => {
    clearTimeout(connectTimer);
    responded = true;
    markServiceTime(ctx, h, sent);
    ctx.respond(Number(h[':status']), h, stream);
  });
  stream.once('error', (err: NodeJS.ErrnoException) => {
    clearTimeout(connectTimer);
    if (responded) return;
    responded = true;
    const cause = (err.cause as NodeJS.ErrnoException | undefined) ?? err;
    // Node reports a peer's REFUSED_STREAM as a stream 'error' before 'close': it must stay a
    // refused stream (the peer never processed it, Istio's default retries replay it), not a
    // reset. Seen under load when a session is replaced (certificate rotation, peer restart).
    if (stream.rstCode === http2.constants.NGHTTP2_REFUSED_STREAM) return ctx.fail(refusedStream(`devmesh: ${ep.name} refused the stream (REFUSED_STREAM)\n`));
    if (!(session as unknown as Record<symbol, boolean>)[CONNECTED]) ctx.fail(upstreamConnectFailure(`devmesh: connection to ${ep.name} (127.0.0.1:${ep.sidecar.inboundPort}) failed: ${cause.message}\n`));
    else ctx.fail(upstreamReset(`devmesh: ${ep.name} reset the request: ${err.message}\n`));
  });
  stream.once('close', () => {
    release();
    clearTimeout(connectTimer);
    if (!responded) {
      responded = true;
      if (stream.rstCode === http2.constants.NGHTTP2_REFUSED_STREAM) return ctx.fail(refusedStream(`devmesh: ${ep.name} refused the stream (REFUSED_STREAM)\n`));
      ctx.fail(upstreamReset(`devmesh: ${ep.name} closed the stream without a response (code ${stream.rstCode})\n`));
    }
  });
  ctx.onAbort(() => {
    cancel(stream);
  });
  if (withBody) {
    const body = ctx.downstream.body;
    body.pipe(stream);
    stream.once('close', () => body.unpipe(stream));
  }
}

/**
 * Resets an upstream stream whose downstream went away (client reset, a
 * malformed body, a timeout). Not `stream.close(CANCEL)`: on a stream whose
 * body is still open, Node's close() ends the writable side first, which
 * sends END_STREAM before the RST_STREAM, so the callee's sidecar saw the
 * cut-short body as complete and handed it to the app as a whole request.
 * destroy() with an error sends only RST_STREAM (INTERNAL_ERROR).
 */
function cancel(stream: http2.ClientHttp2Stream): void {
  if (!stream.destroyed) stream.destroy(new Error('downstream request cancelled'));
}


