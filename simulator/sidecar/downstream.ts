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
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { constants as http2Constants, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
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
import { forwardedClientCert, gatewayXfcc } from './security/xfcc';
import type { TLSSocket } from 'node:tls';
import { endToEndHeaders, endToEndResponseHeaders, isHttp2Stream, onTrailers } from './upstream/hopByHop';
import { relay } from './upstream/relay';

export type AnyRequest = IncomingMessage | Http2ServerRequest;
export type AnyResponse = ServerResponse | Http2ServerResponse;

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
  req: AnyRequest,
  res: AnyResponse,
  target: { method: string; path: string; authority: string; proxyForm: boolean; listener: ListenerClass; gatewayListener?: RequestContext['gatewayListener'] },
  source: Source,
  onDone: (e: Exchange) => void,
  worker = 0,
): RequestContext {
  const headers = endToEndHeaders(req.headers, req.rawHeaders);
  const proxyHeaders = tables.defaults.proxyHeaders;
  let requestId = req.headers['x-request-id'];
  if (typeof requestId !== 'string' || requestId.length === 0) {
    requestId = proxyHeaders.requestId ? randomUUID() : '';
    if (requestId) headers['x-request-id'] = requestId;
  }
  if (target.listener === 'gateway') {
    // The gateway's mode (SANITIZE_SET unless gatewayTopology says otherwise) over what the client sent and the certificate the listener verified (MUTUAL, OPTIONAL_MUTUAL).
    const incoming = headers['x-forwarded-client-cert'];
    const xfcc = forwardedClientCert(proxyHeaders.forwardedClientCert.gateway, typeof incoming === 'string' ? incoming : undefined, verifiedClientXfcc(req.socket));
    if (xfcc === undefined) delete headers['x-forwarded-client-cert'];
    else headers['x-forwarded-client-cert'] = xfcc;
  } else if (target.listener !== 'inbound') {
    // The app's connection to its sidecar is plaintext: Envoy's SANITIZE / SANITIZE_SET drop its XFCC.
    delete headers['x-forwarded-client-cert'];
  }
  if (target.listener === 'gateway' && proxyHeaders.xForwardedForAtGateway && source.address) {
    const had = headers['x-forwarded-for'];
    const ip = source.address.replace(/^::ffff:/, '');
    headers['x-forwarded-for'] = typeof had === 'string' && had !== '' ? `${had}, ${ip}` : ip;
  }
  if (proxyHeaders.xForwardedPort && headers['x-forwarded-port'] === undefined && req.socket?.localPort) headers['x-forwarded-port'] = String(req.socket.localPort);
  const server = proxyHeaders.server[target.listener];
  let answered = false;
  let proxyError: string | undefined;
  let abortCb: (() => void) | undefined;
  let grpcStatus: number | undefined;
  const startedAt = performance.now();
  const h2 = req.httpVersionMajor === 2;
  /** Set when this proxy cuts a started response short: the exchange then ended here, not by the client going away. */
  let cutShort = false;
  const resetDownstream = (code: number | undefined) => {
    cutShort = true;
    if (h2) resetStream((res as Http2ServerResponse).stream, code);
    else res.destroy();
  };
  /** The upstream reset a response that had started (Envoy: flag UR, upstream_reset_after_response_started). */
  const upstreamResetMidBody = (code: number | undefined) => {
    if (!ctx.flags.includes('UR')) ctx.flags.push('UR');
    proxyError ??= 'upstream_reset_after_response_started{remote_reset}';
    resetDownstream(code);
  };

  const ctx: RequestContext = {
    tables,
    downstream: { headers: req.headers, body: req as unknown as Readable, httpVersion: req.httpVersion, worker },
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
      const out = endToEndResponseHeaders(upstreamHeaders) as HeaderMap;
      // ServerHeaderTransformation OVERWRITE (null: PASS_THROUGH, the upstream's stays).
      if (server !== null) out.server = server;
      for (const ops of ctx.responseHeaderOps) applyHeaderOps(out, ops);
      if (ctx.flags.length > 0 && proxyError !== undefined) out[RESPONSE_FLAGS_HEADER] = formatFlags(ctx.flags);
      if (typeof body === 'string') out['content-length'] = Buffer.byteLength(body);
      grpcStatus = grpcStatusOf(out);
      try {
        if (body === null && h2) {
          // Headers and END_STREAM in one HEADERS frame: how a trailers-only gRPC answer must arrive.
          res.statusCode = status;
          for (const name in out) res.setHeader(name, out[name] as string | string[]);
        } else (res as ServerResponse).writeHead(status, out as OutgoingHttpHeaders);
      } catch (err) {
        // An upstream header Node refuses to forward: say so rather than crash.
        if (body instanceof Readable) body.destroy();
        answered = false;
        ctx.fail(new ProxyError(502, 'UC', 'bad-upstream-header', `devmesh: upstream sent a header that cannot be forwarded: ${(err as Error).message}\n`));
        return;
      }
      if (body === null || typeof body === 'string') {
        if (body === null) res.end();
        else res.end(body);
        return;
      }
      // Trailers (grpc-status and the app's metadata) go out when the body ends; registered before the relay's own 'end'.
      onTrailers(body, (trailers) => {
        const t = endToEndResponseHeaders(trailers);
        grpcStatus ??= grpcStatusOf(t);
        try { res.addTrailers(t); } catch { /* a trailer Node refuses: the body still completes */ }
      });
      if (isHttp2Stream(body)) {
        // Node ends an HTTP/2 stream's readable side on RST_STREAM too: only its close tells a clean end
        // (NO_ERROR) from a reset, which goes on as a reset with the same code (CANCEL stays CANCELLED to gRPC).
        body.on('error', () => undefined);
        body.once('close', () => {
          if (body.rstCode === http2Constants.NGHTTP2_NO_ERROR && body.readableEnded) res.end();
          else upstreamResetMidBody(body.rstCode);
        });
        relay(body, res as unknown as Writable, false);
        return;
      }
      // An HTTP/1.1 body cut short (the app's connection died): cut ours short too.
      body.once('close', () => { if (!body.readableEnded) upstreamResetMidBody(undefined); });
      body.on('error', () => upstreamResetMidBody(undefined));
      relay(body, res as unknown as Writable);
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
      const grpc = isGrpc(req.headers);
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
      res.destroy();
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
    onDone({ ctx, status: aborted && !res.headersSent ? 0 : res.statusCode, durationMs: performance.now() - startedAt, proxyError, aborted, grpcStatus });
  };
  // Node's HTTP/2 compat layer emits 'finish' on every stream close, a reset
  // one too: a caller's RST_STREAM before our response ended is an abort, or
  // the app behind an inbound sidecar kept a half-sent request open forever.
  res.once('finish', () => finish((req as { aborted?: boolean }).aborted === true));
  res.once('close', () => finish(!res.writableFinished));
  return ctx;
}

/** The gateway's x-forwarded-client-cert for a connection whose client certificate was verified, or undefined (plaintext, no or unverified certificate). */
function verifiedClientXfcc(socket: unknown): string | undefined {
  const tls = socket as Partial<Pick<TLSSocket, 'authorized' | 'getPeerCertificate' | 'getCertificate'>> | undefined;
  if (!tls?.authorized || typeof tls.getPeerCertificate !== 'function') return undefined;
  const peer = tls.getPeerCertificate();
  if (!peer?.raw) return undefined;
  const local = tls.getCertificate?.();
  // A certificate Node verified but X509Certificate cannot read is left out of the header rather than failing the request.
  try { return gatewayXfcc({ raw: peer.raw, subject: new X509Certificate(peer.raw).subject, subjectaltname: peer.subjectaltname }, local && 'subjectaltname' in local ? local : undefined); } catch { return undefined; }
}
