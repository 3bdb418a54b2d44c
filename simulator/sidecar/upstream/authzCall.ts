/**
 * Sends an external authorizer its check request and reads the answer:
 * through the mesh to a Mesh service (the cluster part of the sidecar's own
 * outbound chain: endpoint pick, DestinationRule, mTLS with this proxy's
 * identity — as Envoy's ext_authz cluster is an outbound cluster), or
 * directly to a process on 127.0.0.1. The provider's timeout bounds it.
 */
import * as http from 'node:http';
import { Readable } from 'node:stream';
import type { Handler, RequestContext } from '../context';
import type { CheckRequest, CheckResponse, ResolvedProvider } from '../security/extAuthz';

/** The most of an authorizer's body kept (it is sent back to the client on a denial). */
const MAX_BODY = 1 << 20;

export type AuthzCall = (p: ResolvedProvider, check: CheckRequest, ctx: RequestContext) => Promise<CheckResponse>;

export function authzCaller(deps: { cluster?: Handler; agent: http.Agent }): AuthzCall {
  return (p, check, ctx) => {
    // The timeout also cancels the call, so an authorizer that never answers holds no connection.
    const cancel = new AbortController();
    const call = p.target.kind === 'local' ? callLocal(p.target.host, p.target.port, check, deps.agent, cancel.signal) : callMesh(p, check, ctx, deps.cluster, cancel.signal);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new Error(`no decision within ${p.timeoutMs} ms (timeout)`));
        cancel.abort();
      }, p.timeoutMs);
    });
    return Promise.race([call, timeout]).finally(() => clearTimeout(timer));
  };
}

function callLocal(host: string, port: number, check: CheckRequest, agent: http.Agent, signal: AbortSignal): Promise<CheckResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port, method: check.method, path: check.path, headers: { ...check.headers, host: check.authority }, agent, signal }, (res) => {
      readBody(res).then((body) => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }), reject);
    });
    req.on('error', (err: NodeJS.ErrnoException) => reject(new Error(err.code === 'ECONNREFUSED' ? `connection refused by ${host}:${port}` : err.message)));
    req.end(check.body);
  });
}

function callMesh(p: ResolvedProvider, check: CheckRequest, ctx: RequestContext, cluster: Handler | undefined, signal: AbortSignal): Promise<CheckResponse> {
  if (p.target.kind !== 'mesh' || !cluster) return Promise.reject(new Error('this proxy has no route to the mesh'));
  const { service, port } = p.target;
  return new Promise((resolve, reject) => {
    const downstreamHeaders = { ...check.headers };
    const call: RequestContext = {
      ...ctx,
      method: check.method,
      path: check.path,
      authority: check.authority,
      headers: { ...check.headers },
      downstream: { headers: downstreamHeaders, body: Readable.from(check.body ? [check.body] : []), httpVersion: '1.1', worker: ctx.downstream.worker },
      plan: {
        kind: 'forward', service, host: service.fqdn, port, path: check.path, authority: check.authority,
        requestHeaderOps: [], responseHeaderOps: [], routeName: `ext-authz|${p.name}`,
      },
      flags: [],
      responseHeaderOps: [],
      endpoint: undefined,
      policy: undefined,
      upstreamPort: undefined,
      // An outbound call of this proxy: not the inbound port the original request is for, and no connection to reset.
      inbound: undefined,
      reset: undefined,
      respond(status, headers, body) {
        if (body === null || typeof body === 'string') return resolve({ status, headers: headers as CheckResponse['headers'], body: body ?? '' });
        readBody(body).then((text) => resolve({ status, headers: headers as CheckResponse['headers'], body: text }), reject);
      },
      fail(err) {
        reject(new Error(err.message.trim()));
      },
      onAbort: (cb) => signal.addEventListener('abort', cb, { once: true }),
    };
    cluster(call);
  });
}

function readBody(stream: Readable): Promise<string> {
  return readCapped(stream, MAX_BODY).then((b) => b.toString('utf8'));
}

/** An authorizer's answer: all of it, keeping at most `max` bytes (the rest is read and dropped). */
export function readCapped(stream: Readable, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    stream.on('data', (d: Buffer) => {
      size += d.length;
      if (size <= max) chunks.push(d);
    });
    stream.once('end', () => resolve(Buffer.concat(chunks)));
    stream.once('error', reject);
  });
}
