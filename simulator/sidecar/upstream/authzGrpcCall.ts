/**
 * Calls a gRPC external authorizer's Check (envoy.service.auth.v3.Authorization)
 * for the network ext_authz filter: directly over HTTP/2 to a process on
 * 127.0.0.1, or through this proxy's cluster part to a Mesh service (endpoint
 * pick, DestinationRule, mTLS with the proxy's identity — Envoy's ext_authz
 * cluster is an outbound cluster). The provider's timeout bounds the call
 * and cancels it; `cancel` (the client went away) does too.
 */
import * as http2 from 'node:http2';
import { Readable } from 'node:stream';
import type { Handler, RequestContext } from '../context';
import { grpcStatusOf } from '../grpc/status';
import { sourceOf } from '../listeners/outbound';
import { CHECK_PATH, firstGrpcMessage, grpcFrame } from '../security/extAuthzGrpc';
import type { ResolvedProvider } from '../security/extAuthz';
import type { MeshTables } from '../tables';
import { readCapped } from './authzCall';

/** What the call brought back: the gRPC status and the first message (the CheckResponse), or why there is none. */
export type GrpcCheckAnswer = { grpcStatus: number; grpcMessage?: string; message?: Buffer } | { error: string };

export type GrpcAuthzCall = (p: ResolvedProvider, checkRequest: Buffer, t: MeshTables, cancel: AbortSignal) => Promise<GrpcCheckAnswer>;

/** The most of an authorizer's answer read (a CheckResponse is small). */
const MAX_ANSWER = 1 << 20;

export function grpcAuthzCaller(deps: { cluster?: Handler }): GrpcAuthzCall {
  return (p, checkRequest, t, cancel) => {
    const abort = new AbortController();
    const onCancel = () => abort.abort();
    cancel.addEventListener('abort', onCancel, { once: true });
    const body = grpcFrame(checkRequest);
    const call = p.target.kind === 'local' ? callLocal(p.target.host, p.target.port, body, p.timeoutMs, abort.signal) : callMesh(p, body, t, deps.cluster, abort.signal);
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

function callLocal(host: string, port: number, body: Buffer, timeoutMs: number, signal: AbortSignal): Promise<GrpcCheckAnswer> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://${host.includes(':') ? `[${host}]` : host}:${port}`);
    const finish = () => session.close();
    session.on('error', (err: NodeJS.ErrnoException) => reject(new Error(err.code === 'ECONNREFUSED' ? `connection refused by ${host}:${port}` : err.message)));
    signal.addEventListener('abort', () => session.destroy(), { once: true });
    const stream = session.request({ ':method': 'POST', ':path': CHECK_PATH, ':authority': `${host}:${port}`, ...grpcHeaders(timeoutMs) });
    stream.on('error', (err) => reject(err));
    let headers: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    stream.on('response', (h) => { headers = h; });
    stream.on('trailers', (h) => { trailers = h; });
    readAll(stream).then((data) => {
      finish();
      resolve(answerOf(headers, trailers, data));
    }, reject);
    stream.end(body);
  });
}

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
