/**
 * One request on an HTTP/2 session: to a peer sidecar over mTLS (the
 * upstream filter) or to an app over h2c (gRPC and HTTP/2 ports). The body
 * streams both ways with HTTP/2 flow control as the back-pressure; a
 * trailers-only response (HEADERS with END_STREAM, what a gRPC error before
 * any message is) is answered with no body, so it leaves this proxy as one
 * HEADERS frame again; trailers travel on the body stream ('trailers') for
 * the downstream edge to send on. A caller that goes away cancels the stream
 * with RST_STREAM CANCEL, what gRPC reads as CANCELLED. A failure before the
 * session connected is a connect failure (UF), after it a reset (UC), and a
 * REFUSED_STREAM stays one (Istio's default retries replay it).
 */
import * as http2 from 'node:http2';
import type { Readable } from 'node:stream';
import type { RequestContext } from '../context';
import { refusedStream, upstreamConnectFailure, upstreamReset } from '../errors';
import { resetStream } from './h2Reset';
import { hasBody } from './hopByHop';

export interface H2Target {
  /** Who the request goes to, for error messages (`reviews-v1`, `app ratings-v1 at 127.0.0.1:9190`). */
  who: string;
  scheme: 'https' | 'http';
  /** Whether the session's connection is up: what a failure counts as (UF before, UC after). */
  connected(): boolean;
  /** How long a session that is not connected yet may take (connectionPool.tcp.connectTimeout). */
  connectTimeoutMs: number;
  /** Called once when the stream is closed, answered or not. */
  onClose?: () => void;
  /** Called with the response headers before they are handed on. */
  onResponse?: (headers: http2.IncomingHttpHeaders) => void;
}

const REFUSED = http2.constants.NGHTTP2_REFUSED_STREAM;

/**
 * `session.request()` options with Node's own priority defaults spelled out
 * (weight 16, no parent, not exclusive, not silent: what it would fill in),
 * so Node only checks them: filling them in grew a fresh copy of the options
 * by four properties per stream, ~7 % of Node's cost for an HTTP/2 request
 * and response in one process (BENCHMARKS.md, grpc9 branch). Node copies the
 * options it is given, so one object serves every stream.
 */
const PRIORITY = { weight: http2.constants.NGHTTP2_DEFAULT_WEIGHT, parent: 0, exclusive: false, silent: false } as const;
const WITH_BODY: http2.ClientSessionRequestOptions = Object.freeze({ ...PRIORITY, endStream: false });
const WITHOUT_BODY: http2.ClientSessionRequestOptions = Object.freeze({ ...PRIORITY, endStream: true });

export function exchangeH2(ctx: RequestContext, session: http2.ClientHttp2Session, target: H2Target): void {
  const headers: http2.OutgoingHttpHeaders = ctx.headers;
  headers[':method'] = ctx.method;
  headers[':path'] = ctx.path;
  headers[':authority'] = ctx.authority;
  headers[':scheme'] = target.scheme;
  const body = ctx.downstream.body;
  const withBody = hasBody(ctx.downstream);
  let stream: http2.ClientHttp2Stream;
  try {
    stream = session.request(headers, withBody ? WITH_BODY : WITHOUT_BODY);
  } catch (err) {
    target.onClose?.();
    return ctx.fail(upstreamReset(`devmesh: request to ${target.who} could not start: ${(err as Error).message}\n`));
  }
  let responded = false;
  let connectTimer: NodeJS.Timeout | undefined;
  if (!target.connected()) {
    const ms = target.connectTimeoutMs;
    connectTimer = setTimeout(() => {
      if (responded || target.connected()) return;
      responded = true;
      resetStream(stream);
      session.destroy();
      ctx.fail(upstreamConnectFailure(`devmesh: connection to ${target.who} timed out after ${ms} ms (connectTimeout)\n`));
    }, ms);
  }
  // on(), not once(): each of these fires at most once on a stream, and once() wraps every listener in a closure and a
  // state object (onceWrapper + _addListener: ~24 µs of a gRPC call's self time in its profile, every caller together).
  stream.on('response', (h, flags) => {
    clearTimeout(connectTimer);
    responded = true;
    target.onResponse?.(h);
    // Trailers-only: nothing more will come, and a body stream here would turn into an empty DATA frame downstream.
    const trailersOnly = (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0;
    if (trailersOnly) stream.resume();
    ctx.respond(Number(h[':status']), h, trailersOnly ? null : stream);
  });
  const failed = (cause: string) => {
    clearTimeout(connectTimer);
    if (responded) return;
    responded = true;
    // Node reports a peer's REFUSED_STREAM as a stream 'error' before 'close': it must stay a
    // refused stream (the peer never processed it, Istio's default retries replay it), not a
    // reset. Seen under load when a session is replaced (certificate rotation, peer restart).
    if (stream.rstCode === REFUSED) return ctx.fail(refusedStream(`devmesh: ${target.who} refused the stream (REFUSED_STREAM)\n`));
    if (!target.connected()) ctx.fail(upstreamConnectFailure(`devmesh: connection to ${target.who} failed: ${cause}\n`));
    else ctx.fail(upstreamReset(`devmesh: ${target.who} reset the request: ${cause}\n`));
  };
  let stopBody: (() => void) | undefined;
  stream.on('error', (err: NodeJS.ErrnoException) => failed(((err.cause as Error | undefined) ?? err).message));
  stream.on('close', () => {
    target.onClose?.();
    // Answered (every call that went well): no message to build.
    if (responded) clearTimeout(connectTimer);
    else failed(`stream closed without a response (code ${stream.rstCode})`);
    stopBody?.();
  });
  // RST_STREAM CANCEL, never END_STREAM first (h2Reset.ts); not request({ signal }): an AbortController per request cost ~3 % of a gRPC call's CPU.
  ctx.onAbort(() => resetStream(stream));
  if (withBody) stopBody = sendBody(body, stream);
}

/**
 * The request body onto the upstream stream, with HTTP/2 flow control as the
 * back-pressure: what `pipe()` does for one source and one destination,
 * without the five listeners it puts on the stream and takes off again for
 * every call (every gRPC call has a body; two of these run per call). A
 * stream that closes first (reset, answered early) stops taking the body and
 * leaves it paused, as `unpipe()` does: the returned function, called on the stream's close.
 */
function sendBody(body: Readable, stream: http2.ClientHttp2Stream): () => void {
  const resume = () => body.resume();
  const onData = (chunk: Buffer) => {
    if (!stream.write(chunk) && !stream.destroyed) {
      body.pause();
      stream.once('drain', resume);
    }
  };
  const onEnd = () => stream.end();
  body.on('data', onData);
  if (body.readableEnded) stream.end();
  else body.on('end', onEnd);
  // The filters that listen to the body (metrics, the retry buffer) keep it paused until its reader starts it.
  body.resume();
  return () => {
    // A body that has ended has nothing left to take (a unary call's, by the time its answer closes the stream).
    if (body.readableEnded) return;
    body.off('data', onData);
    body.off('end', onEnd);
    stream.off('drain', resume);
    body.pause();
  };
}
