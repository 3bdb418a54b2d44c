/**
 * Calls a gRPC external authorizer's Check (envoy.service.auth.v3.Authorization)
 * for the network ext_authz filter: directly over HTTP/2 to a process on
 * 127.0.0.1, or through this proxy's cluster part to a Mesh service (endpoint
 * pick, DestinationRule, mTLS with the proxy's identity — Envoy's ext_authz
 * cluster is an outbound cluster). The provider's timeout bounds the call
 * and cancels it; `cancel` (the client went away) does too.
 *
 * A local authorizer gets one HTTP/2 session per host:port, kept across
 * Checks as Envoy keeps one gRPC connection per cluster: a cancelled or
 * timed-out Check resets its own stream (RST_STREAM CANCEL), not the
 * session; a session that is closed, fails or receives GOAWAY is forgotten
 * and the next Check connects again.
 */
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { Readable } from 'node:stream';
import type { Handler, RequestContext } from '../context';
import { grpcStatusOf } from '../grpc/status';
import { sourceOf } from '../listeners/outbound';
import { CHECK_PATH, firstGrpcMessage, grpcFrame } from '../security/extAuthzGrpc';
import type { ResolvedProvider } from '../security/extAuthz';
import type { MeshTables } from '../tables';
import { readCapped } from './authzCall';
import { SessionSet } from './sessionSet';

/** What the call brought back: the gRPC status and the first message (the CheckResponse), or why there is none. */
export type GrpcCheckAnswer = { grpcStatus: number; grpcMessage?: string; message?: Buffer } | { error: string };

export type GrpcAuthzCall = (p: ResolvedProvider, checkRequest: Buffer, t: MeshTables, cancel: AbortSignal) => Promise<GrpcCheckAnswer>;

/** The most of an authorizer's answer read (a CheckResponse is small). */
const MAX_ANSWER = 1 << 20;

/** The HTTP/2 sessions to local gRPC authorizers, one per host:port (the sidecar closes them when it stops). */
export class AuthzGrpcSessions extends SessionSet<string> {
  session(host: string, port: number): http2.ClientHttp2Session {
    const key = `${host}:${port}`;
    const existing = this.live(key, 'the ext_authz gRPC client');
    if (existing) return existing;
    // noDelay: on a kept connection Nagle holds each small Check behind the previous one's delayed ACK (~40 ms).
    return this.keep(key, http2.connect(`http://${host.includes(':') ? `[${host}]` : host}:${port}`, {
      settings: { enablePush: false },
      createConnection: () => net.connect({ host, port, noDelay: true }),
    }));
  }
}

export function grpcAuthzCaller(deps: { cluster?: Handler; sessions: AuthzGrpcSessions }): GrpcAuthzCall {
  return (p, checkRequest, t, cancel) => {
    const abort = new AbortController();
    const onCancel = () => abort.abort();
    cancel.addEventListener('abort', onCancel, { once: true });
    const body = grpcFrame(checkRequest);
    const call = p.target.kind === 'local' ? callLocal(deps.sessions, p.target.host, p.target.port, body, p.timeoutMs, abort.signal) : callMesh(p, body, t, deps.cluster, abort.signal);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<GrpcCheckAnswer>((resolve) => {
      timer = setTimeout(() => {
        resolve({ error: `no decision within ${p.timeoutMs} ms (timeout)` });
        abort.abort();
      }, p.timeoutMs);
    });
    return Promise.race([call.catch((err: Error) => ({ error: err.message })), timeout]).finally(() => {
      clearTimeout(timer);
      cancel.removeEventListener('abort', onCancel);
    });
  };
}

const grpcHeaders = (timeoutMs: number): Record<string, string> => ({
  'content-type': 'application/grpc',
  te: 'trailers',
  'grpc-timeout': `${Math.max(1, Math.ceil(timeoutMs))}m`,
});

function callLocal(sessions: AuthzGrpcSessions, host: string, port: number, body: Buffer, timeoutMs: number, signal: AbortSignal): Promise<GrpcCheckAnswer> {
  return new Promise((resolve, reject) => {
    const stream = sessions.session(host, port).request({ ':method': 'POST', ':path': CHECK_PATH, ':authority': `${host}:${port}`, ...grpcHeaders(timeoutMs) });
    let settled = false;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      reject(err);
    };
    // A stream that could not start because the connect failed carries the connect error as its cause.
    stream.on('error', (err: NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException }) => fail(new Error(refused(err) ? `connection refused by ${host}:${port}` : err.message)));
    stream.on('close', () => {
      if (stream.rstCode === http2.constants.NGHTTP2_NO_ERROR && stream.readableEnded) return; // the answer is read
      if (signal.aborted) return fail(new Error('the Check was cancelled'));
      fail(new Error(stream.rstCode === http2.constants.NGHTTP2_CANCEL ? `the connection to ${host}:${port} closed before the authorizer answered` : `the authorizer reset the stream (HTTP/2 error ${stream.rstCode})`));
    });
    // The timeout or a client that left: this Check's stream only; the session serves the next one.
    signal.addEventListener('abort', () => stream.close(http2.constants.NGHTTP2_CANCEL), { once: true });
    let headers: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    stream.on('response', (h) => { headers = h; });
    stream.on('trailers', (h) => { trailers = h; });
    readAll(stream).then((data) => {
      if (settled) return;
      settled = true;
      resolve(answerOf(headers, trailers, data));
    }, fail);
    stream.end(body);
  });
}

const refused = (err: NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException }) => err.code === 'ECONNREFUSED' || err.cause?.code === 'ECONNREFUSED';

function callMesh(p: ResolvedProvider, body: Buffer, t: MeshTables, cluster: Handler | undefined, signal: AbortSignal): Promise<GrpcCheckAnswer> {
  if (p.target.kind !== 'mesh' || !cluster) return Promise.reject(new Error('this proxy has no route to the mesh'));
  const { service, port } = p.target;
  const authority = `${service.fqdn}:${port}`;
  return new Promise((resolve, reject) => {
    const headers = grpcHeaders(p.timeoutMs);
    const call: RequestContext = {
      tables: t,
      downstream: { headers: { ...headers }, body: Readable.from([body]), httpVersion: '2.0' },
      startedAt: performance.now(),
      method: 'POST',
      path: CHECK_PATH,
      authority,
      headers,
      requestId: '',
      source: sourceOf(t, '127.0.0.1'),
      proxyForm: false,
      plan: { kind: 'forward', service, host: service.fqdn, port, path: CHECK_PATH, authority, requestHeaderOps: [], responseHeaderOps: [], routeName: `ext-authz|${p.name}` },
      responseHeaderOps: [],
      flags: [],
      respond(status, h, answer) {
        const head = h as http2.IncomingHttpHeaders;
        if (status !== 200) return resolve({ error: `the authorizer answered HTTP ${status}` });
        if (answer === null || typeof answer === 'string') return resolve(answerOf(head, {}, Buffer.from(answer ?? '')));
        let trailers: http2.IncomingHttpHeaders = {};
        answer.on('trailers', (tr: http2.IncomingHttpHeaders) => { trailers = tr; });
        readAll(answer).then((data) => {
          // An HTTP/1-style message keeps its trailers on itself.
          const own = (answer as Readable & { trailers?: http2.IncomingHttpHeaders }).trailers;
          resolve(answerOf(head, Object.keys(trailers).length ? trailers : own ?? {}, data));
        }, reject);
      },
      fail(err) {
        reject(new Error(err.message.trim()));
      },
      onAbort: (cb) => signal.addEventListener('abort', cb, { once: true }),
    };
    cluster(call);
  });
}

/** The call's status: trailers, or the headers of a trailers-only answer; none at all (a body cut short) is an error. */
function answerOf(headers: http2.IncomingHttpHeaders, trailers: http2.IncomingHttpHeaders, data: Buffer): GrpcCheckAnswer {
  const status = grpcStatusOf(trailers) ?? grpcStatusOf(headers);
  if (status === undefined) return { error: 'the authorizer\'s answer carried no grpc-status' };
  const text = trailers['grpc-message'] ?? headers['grpc-message'];
  const message = firstGrpcMessage(data);
  return { grpcStatus: status, ...(typeof text === 'string' ? { grpcMessage: decodeURIComponent(text) } : {}), ...(message ? { message } : {}) };
}

const readAll = (stream: Readable) => readCapped(stream, MAX_ANSWER);
