/**
 * Builds a RequestContext from a downstream request and writes the answer
 * back: response header operations from the route, hop-by-hop stripping,
 * `x-devmesh-proxy-error` + response flags on proxy-made responses, and one
 * access-log call when the exchange ends (finished or aborted). What Envoy's
 * connection manager does to every request and response of a listener
 * happens here too, per the defaults table's proxy headers: x-request-id,
 * the Server header (OVERWRITE: `envoy` on the sidecar's outbound listener,
 * `istio-envoy` on inbound and the ingress), x-forwarded-client-cert
 * sanitized where the downstream is not a verified mTLS peer,
 * x-forwarded-for appended at the ingress (use_remote_address), and
 * x-envoy-overloaded on circuit-breaker refusals.
 * HTTP/2 and gRPC, as a proxy must carry them: trailers forwarded when the
 * body ends, a bodiless answer as one HEADERS frame (a gRPC trailers-only
 * response), an upstream's mid-body reset passed on as a reset, and the
 * proxy's own errors to a gRPC caller as a gRPC status (Envoy's gRPC local
 * reply).
 *
 * HTTP/2 requests come as Node's core streams (`H2Request`: the stream is
 * the request body and the response), not through Node's HTTP/2
 * compatibility layer: its request and response wrappers, a Readable and a
 * Stream per call with their listeners and socket proxies, cost ~11 µs a
 * stream end and ~10 KB of garbage per call (BENCHMARKS.md, h2s branch).
 */
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { constants as http2Constants, type IncomingHttpHeaders as IncomingHttp2Headers, type ServerHttp2Stream } from 'node:http2';
import { randomUUID, X509Certificate } from 'node:crypto';
import { Readable, type Writable } from 'node:stream';
import type { RequestContext, Source } from './context';
import { PROXY_ERROR_HEADER, RESPONSE_FLAGS_HEADER, ProxyError, formatFlags } from './errors';
import { applyHeaderOps, type HeaderMap } from './routing/headerOps';
import type { MeshTables } from './tables';
import type { ListenerClass } from '../policy/defaults';
import { grpcLocalReply } from './grpc/localReply';
import { grpcStatusOf, isGrpc } from './grpc/status';
import { resetStream } from './upstream/h2Reset';
import { gatewayXfcc } from './security/xfcc';
import { filtersSee, mutateRequestHeaders } from './connectionManager';
import type { TLSSocket } from 'node:tls';
import { endToEndHeaders, endToEndResponseHeaders, isHttp2Stream, mayHaveTrailers, onTrailers } from './upstream/hopByHop';
import { relay } from './upstream/relay';

/** An HTTP/2 request as Node's core `'stream'` event gives it (h2Streams.ts): one stream is the request body and the response. */
export interface H2Request {
  readonly stream: ServerHttp2Stream;
  /** Pseudo-headers included; a header sent several times is joined, as Node does (`rawHeaders` keeps each). */
  readonly headers: IncomingHttp2Headers;
  readonly rawHeaders?: readonly string[];
}

/** An HTTP/1.1 request and its response. */
export interface H1Request {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
}

/** What a listener hands the chain: an HTTP/1.1 request and response, or an HTTP/2 stream. */
export type Downstream = H1Request | H2Request;

export const isH2 = (d: Downstream): d is H2Request => 'stream' in d;

/** The connection a request came on (an HTTP/2 stream's: its session's socket), for its addresses and TLS peer. */
export function socketOf(d: Downstream): TLSSocket | undefined {
  return (isH2(d) ? d.stream.session?.socket : d.req.socket) as TLSSocket | undefined;
}

const ignore = () => undefined;

export interface Exchange {
  ctx: RequestContext;
  status: number;
  durationMs: number;
  proxyError?: string;
  aborted: boolean;
  /** The call's gRPC status (trailers, or a trailers-only answer's headers); undefined for non-gRPC exchanges or when none came. */
  grpcStatus?: number;
}

export function newContext(
  tables: MeshTables,
  down: Downstream,
  target: { method: string; path: string; authority: string; proxyForm: boolean; listener: ListenerClass; gatewayListener?: RequestContext['gatewayListener'] },
  source: Source,
  onDone: (e: Exchange) => void,
  worker = 0,
): RequestContext {
  // One of the two: an HTTP/2 stream (request body and response in one), or an HTTP/1.1 request and response.
  const stream = isH2(down) ? down.stream : undefined;
  const req = isH2(down) ? undefined : down.req;
  const res = isH2(down) ? undefined : down.res;
  const reqHeaders = isH2(down) ? down.headers : down.req.headers;
  const headers = endToEndHeaders(reqHeaders, isH2(down) ? down.rawHeaders : down.req.rawHeaders);
  const proxyHeaders = tables.defaults.proxyHeaders;
  const sent = reqHeaders['x-request-id'];
  const requestId = typeof sent === 'string' && sent.length > 0 ? sent : proxyHeaders.requestId ? randomUUID() : '';
  const socket = socketOf(down);
  const chunked = reqHeaders['transfer-encoding'] !== undefined;
  mutateRequestHeaders(headers, proxyHeaders, {
    listener: target.listener,
    sourceAddress: source.address,
    verifiedClientXfcc: target.listener === 'gateway' ? verifiedClientXfcc(socket) : undefined,
    localPort: socket?.localPort,
    tls: target.gatewayListener?.scheme === 'https' || socket?.encrypted === true,
    generatedRequestId: requestId,
  });
  // The filters (jwt_authn, ext_authz, RBAC, the route match and hash policy) see the headers after these mutations, as Envoy's do.
  filtersSee(reqHeaders, headers);
  const server = proxyHeaders.server[target.listener];
  let answered = false;
  /** The status of the answer sent (200 until one is). */
  let sentStatus = 200;
  let proxyError: string | undefined;
  let abortCb: (() => void) | undefined;
  let grpcStatus: number | undefined;
  const startedAt = performance.now();
  /** Set when this proxy cuts a started response short: the exchange then ended here, not by the client going away. */
  let cutShort = false;
  const resetDownstream = (code: number | undefined) => {
    cutShort = true;
    if (stream) resetStream(stream, code);
    else res!.destroy();
  };
  /** The upstream reset a response that had started (Envoy: flag UR, upstream_reset_after_response_started). */
  const upstreamResetMidBody = (code: number | undefined) => {
    if (!ctx.flags.includes('UR')) ctx.flags.push('UR');
    proxyError ??= 'upstream_reset_after_response_started{remote_reset}';
    resetDownstream(code);
  };

  const ctx: RequestContext = {
    tables,
    downstream: { headers: reqHeaders, body: (stream ?? req) as Readable, httpVersion: stream ? '2.0' : req!.httpVersion, worker, ...(chunked ? { chunked } : {}) },
    startedAt,
    method: target.method,
    path: target.path,
    authority: target.authority,
    proxyForm: target.proxyForm,
    ...(target.gatewayListener ? { gatewayListener: target.gatewayListener } : {}),
    headers,
    requestId,
    source,
    responseHeaderOps: [],
    flags: [],
    // One object the filters note their decisions in, shared by the contexts derived for attempts.
    notes: {},
    respond(status, upstreamHeaders, body) {
      if (answered) {
        if (body instanceof Readable) body.destroy();
        return;
      }
      answered = true;
      // The caller reset the stream before the answer: nothing to send; the abort (at its close) cancels the upstream.
      if (stream && (stream.destroyed || stream.closed)) return;
      const out = endToEndResponseHeaders(upstreamHeaders) as HeaderMap;
      // ServerHeaderTransformation OVERWRITE (null: PASS_THROUGH, the upstream's stays).
      if (server !== null) out.server = server;
      for (const ops of ctx.responseHeaderOps) applyHeaderOps(out, ops);
      if (ctx.flags.length > 0 && proxyError !== undefined) out[RESPONSE_FLAGS_HEADER] = formatFlags(ctx.flags);
      if (typeof body === 'string') out['content-length'] = Buffer.byteLength(body);
      grpcStatus = grpcStatusOf(out);
      // A streamed body that may end with trailers: they are sent when Node asks for them (below).
      const withTrailers = body !== null && typeof body !== 'string' && mayHaveTrailers(body, upstreamHeaders);
      try {
        if (stream) {
          out[':status'] = status;
          // No body: headers and END_STREAM in one HEADERS frame, how a trailers-only gRPC answer must arrive.
          stream.respond(out as OutgoingHttpHeaders, { endStream: body === null, waitForTrailers: withTrailers });
        } else res!.writeHead(status, out as OutgoingHttpHeaders);
      } catch (err) {
        // An upstream header Node refuses to forward: say so rather than crash.
        if (body instanceof Readable) body.destroy();
        answered = false;
        ctx.fail(new ProxyError(502, 'UC', 'bad-upstream-header', `devmesh: upstream sent a header that cannot be forwarded: ${(err as Error).message}\n`));
        return;
      }
      sentStatus = status;
      // Bytes sent downstream (the access log's, istio_response_bytes): the connection manager's figure, as Envoy's, whichever filters run.
      const obs = (ctx.observed ??= {});
      const declared = body === null || typeof body === 'string' ? -1 : Number(upstreamHeaders['content-length']);
      obs.responseBytes = body === null ? 0 : typeof body === 'string' ? Buffer.byteLength(body) : declared >= 0 ? declared : 0;
      /** A streamed body of no declared length: its bytes are added up as they pass. */
      const counted = body !== null && typeof body !== 'string' && !(declared >= 0) ? obs : undefined;
      if (body === null) {
        if (!stream) res!.end();
        return;
      }
      if (typeof body === 'string') {
        // A HEAD request, 204, 205 or 304 ended an HTTP/2 stream with its headers: the body is not sent.
        if (!stream) res!.end(body);
        else if (!stream.writableEnded) stream.end(body);
        return;
      }
      const to: Writable = stream ?? res!;
      // Trailers (grpc-status and the app's metadata) go out when the body ends; registered before the relay's own 'end'.
      let trailers: OutgoingHttpHeaders | undefined;
      onTrailers(body, (received) => {
        const t = endToEndResponseHeaders(received);
        grpcStatus ??= grpcStatusOf(t);
        if (stream) trailers = t;
        else try { res!.addTrailers(t); } catch { /* a trailer Node refuses: the body still completes */ }
      });
      if (stream && withTrailers) stream.on('wantTrailers', () => sendTrailers(stream, trailers));
      if (stream?.writableEnded) {
        // Headers only (HEAD, 204, 304): whatever body the upstream has is read and dropped.
        if (counted) body.on('data', (c: Buffer) => { counted.responseBytes! += c.length; });
        body.resume();
      }
      if (isHttp2Stream(body)) {
        // Node ends an HTTP/2 stream's readable side on RST_STREAM too: only its close tells a clean end
        // (NO_ERROR) from a reset, which goes on as a reset with the same code (CANCEL stays CANCELLED to gRPC).
        body.on('error', ignore);
        body.on('close', () => {
          if (body.rstCode === http2Constants.NGHTTP2_NO_ERROR && body.readableEnded) to.end();
          else upstreamResetMidBody(body.rstCode);
        });
        if (!stream?.writableEnded) relay(body, to, false, counted);
        return;
      }
      // An HTTP/1.1 body cut short (the app's connection died): cut ours short too.
      body.once('close', () => { if (!body.readableEnded) upstreamResetMidBody(undefined); });
      body.on('error', () => upstreamResetMidBody(undefined));
      if (!stream?.writableEnded) relay(body, to, true, counted);
    },
    fail(err: ProxyError) {
      if (answered) {
        // Headers are out: all we can do is cut the response short, as Envoy resets the stream.
        proxyError ??= err.reason;
        if (err.flag && !ctx.flags.includes(err.flag)) ctx.flags.push(err.flag);
        resetDownstream(http2Constants.NGHTTP2_INTERNAL_ERROR);
        return;
      }
      proxyError = err.reason;
      if (err.flag && !ctx.flags.includes(err.flag)) ctx.flags.push(err.flag);
      // A gRPC caller gets the error as a gRPC status (Envoy's local reply for gRPC), not as an HTTP error page.
      const grpc = isGrpc(reqHeaders);
      const local: OutgoingHttpHeaders = grpc
        ? { ...err.headers, ...grpcLocalReply(err), [PROXY_ERROR_HEADER]: err.reason }
        : { 'content-type': 'text/plain; charset=utf-8', ...err.headers, [PROXY_ERROR_HEADER]: err.reason };
      // Envoy's router marks a circuit-breaker refusal (Envoy docs, router filter, x-envoy-overloaded).
      if (err.flag === 'UO' && proxyHeaders.envoyDebugHeaders) local['x-envoy-overloaded'] = 'true';
      if (grpc) return ctx.respond(200, local, null);
      const body = err.verbatim || err.message.endsWith('\n') ? err.message : `${err.message}\n`;
      ctx.respond(err.status, local, body);
    },
    reset() {
      answered = true;
      if (stream) stream.destroy();
      else res!.destroy();
    },
    onAbort(cb) {
      abortCb = cb;
    },
  };

  let done = false;
  const finish = (aborted: boolean) => {
    if (done) return;
    done = true;
    if (aborted && !cutShort) {
      if (!ctx.flags.includes('DC')) ctx.flags.push('DC');
      abortCb?.();
    }
    const headersSent = stream ? stream.headersSent : res!.headersSent;
    onDone({ ctx, status: aborted && !headersSent ? 0 : sentStatus, durationMs: performance.now() - startedAt, proxyError, aborted, grpcStatus });
  };
  if (stream) {
    // A stream closes once, reset or not; Node marks it aborted when it closed before our side ended:
    // a caller's RST_STREAM before our response ended is an abort, as is the app behind an inbound
    // sidecar keeping a half-sent request open forever.
    stream.on('close', () => finish(stream.aborted));
  } else {
    res!.once('finish', () => finish(req!.aborted === true));
    res!.once('close', () => finish(!res!.writableFinished));
  }
  return ctx;
}

/**
 * An HTTP/2 response's trailers, when Node asks for them (its body has
 * ended). None: an empty trailing frame ends the stream, as Node's
 * compatibility layer always ended it; a trailer Node refuses is left out,
 * and the body still completes.
 */
function sendTrailers(stream: ServerHttp2Stream, trailers: OutgoingHttpHeaders | undefined): void {
  try {
    stream.sendTrailers(trailers ?? {});
  } catch {
    if (trailers) try { stream.sendTrailers({}); } catch { /* the stream is gone */ }
  }
}

/** The gateway's x-forwarded-client-cert for a connection whose client certificate was verified, or undefined (plaintext, no or unverified certificate). */
export function verifiedClientXfcc(socket: unknown): string | undefined {
  const tls = socket as Partial<Pick<TLSSocket, 'authorized' | 'getPeerCertificate' | 'getCertificate'>> | undefined;
  if (!tls?.authorized || typeof tls.getPeerCertificate !== 'function') return undefined;
  const peer = tls.getPeerCertificate();
  if (!peer?.raw) return undefined;
  const local = tls.getCertificate?.();
  // A certificate Node verified but X509Certificate cannot read is left out of the header rather than failing the request.
  try { return gatewayXfcc({ raw: peer.raw, subject: new X509Certificate(peer.raw).subject, subjectaltname: peer.subjectaltname }, local && 'subjectaltname' in local ? local : undefined); } catch { return undefined; }
}
