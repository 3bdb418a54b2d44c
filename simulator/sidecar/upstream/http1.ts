/**
 * HTTP/1.1 keep-alive forwarding: to the app (inbound) and to a peer sidecar
 * when a DestinationRule disables TLS. Node's Agent pools the connections.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type * as tls from 'node:tls';
import type { RequestContext } from '../context';
import { ProxyError, resetBeforeRequest, upstreamConnectFailure, upstreamReset } from '../errors';
import type { Readable } from 'node:stream';
import { hasBody } from './hopByHop';

/** Envoy's router reports the upstream's time on the response (off with proxyHeaders.envoyDebugHeaders disabled). */
export function markServiceTime(ctx: RequestContext, headers: Record<string, unknown>, sent: number): void {
  if (ctx.tables.defaults.proxyHeaders.envoyDebugHeaders) headers['x-envoy-upstream-service-time'] = String(Math.round(performance.now() - sent));
}

export function newKeepAliveAgent(): http.Agent {
  // No cap on sockets: a cap would queue requests invisibly; circuit breaking is the place to limit.
  return new http.Agent({ keepAlive: true, keepAliveMsecs: 1000, maxFreeSockets: 256, scheduling: 'lifo' });
}

/** One attempt's own body stream and failure handler (the inbound retry to the app). */
export interface Attempt {
  body?: Readable;
  fail?: (err: ProxyError) => void;
}

/** A host outside the mesh (a ServiceEntry endpoint, the PassthroughCluster), with TLS when the DestinationRule originates it. */
export interface UpstreamAddress {
  host: string;
  port: number;
  tls?: tls.ConnectionOptions;
}

export function forwardHttp1(ctx: RequestContext, to: number | UpstreamAddress, agent: http.Agent, release?: () => void, who = typeof to === 'number' ? `127.0.0.1:${to}` : `${to.host}:${to.port}`, attempt: Attempt = {}): void {
  const fail = attempt.fail ?? ctx.fail;
  const body = attempt.body ?? ctx.downstream.body;
  const withBody = hasBody(ctx.downstream, body);
  const headers = ctx.headers;
  headers.host = ctx.authority;
  const { host, port, tls: tlsOptions } = typeof to === 'number' ? { host: '127.0.0.1', port: to, tls: undefined } : to;
  const options = { host, port, method: ctx.method, path: ctx.path, headers: headerLines(headers, ctx.method, withBody), agent };
  const req = tlsOptions ? https.request({ ...options, ...tlsOptions } as https.RequestOptions) : http.request(options);
  const sent = performance.now();
  let responded = false;
  req.once('response', (res) => {
    responded = true;
    markServiceTime(ctx, res.headers, sent);
    res.once('close', () => release?.());
    ctx.respond(res.statusCode ?? 502, res.headers, res);
  });
  let cancelled = false;
  req.once('error', (err: NodeJS.ErrnoException) => {
    release?.();
    // Our own cancel (the downstream went away): nobody is left to answer, nothing to retry.
    if (responded || cancelled) return;
    responded = true;
    if (err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN') fail(upstreamConnectFailure(`devmesh: ${host} does not resolve (${err.code})\n`));
    // Envoy: "upstream connect error ... TLS error: ... CERTIFICATE_VERIFY_FAILED", flag UF.
    else if (tlsOptions && isTlsFailure(err) && err.code !== 'ECONNREFUSED' && err.code !== 'EADDRNOTAVAIL') fail(new ProxyError(503, 'UF', 'upstream-tls-failure', `devmesh: TLS to ${who} failed: ${err.message}\n`));
    else fail(requestFailure(err, who, req.reusedSocket));
  });
  ctx.onAbort(() => { cancelled = true; req.destroy(); });
  // An HTTP/2 request whose HEADERS frame ended the stream has no body: end at once rather than pipe
  // an empty stream (same bytes on the wire — an empty pipe ends with end() too — one tick sooner, no pipe).
  if (withBody) body.pipe(req);
  else req.end();
}

/**
 * What a failed HTTP/1.1 request to `who` answers before any response came
 * (http.request's and appClient's): refused -> UF; a kept-alive connection
 * the peer closed as this request went out, never read -> the retriable
 * reset (the race Istio's inbound retry covers); else an upstream reset.
 */
export function requestFailure(err: NodeJS.ErrnoException, who: string, reused: boolean): ProxyError {
  if (err.code === 'ECONNREFUSED' || err.code === 'EADDRNOTAVAIL') return upstreamConnectFailure(`devmesh: connection to ${who} refused\n`);
  if (reused && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) return resetBeforeRequest(`devmesh: ${who} closed its idle connection before reading the request\n`);
  return upstreamReset(`devmesh: ${who} failed: ${err.message}\n`);
}

/** Methods Node's client sends a body for by default (chunked when no length is known). */
export const BODY_BY_DEFAULT = (method: string) => method !== 'GET' && method !== 'HEAD' && method !== 'DELETE' && method !== 'OPTIONS' && method !== 'TRACE' && method !== 'CONNECT';

/**
 * The request's header lines as Node's client takes them flat (name, value,
 * name, value ...): it renders them at once, validating each as `setHeader`
 * does, instead of storing every header in its own map first and rendering
 * them at the first write (~1.3 µs less per request to the app, issue 19).
 * The same header lines on the wire: a request without a body that Node
 * would have ended with `Content-Length: 0` (a POST, say) says so itself,
 * since Node cannot know it is empty when it renders the head this early.
 */
export function headerLines(headers: Record<string, unknown>, method: string, withBody: boolean): string[] {
  // Node takes a value that is a list (a header sent as several lines) in the flat form too.
  const lines: string[] = [];
  for (const name in headers) {
    const v = headers[name];
    if (v !== undefined) lines.push(name, v as string);
  }
  if (!withBody && BODY_BY_DEFAULT(method) && headers['content-length'] === undefined && headers['transfer-encoding'] === undefined) lines.push('content-length', '0');
  return lines;
}

/** A handshake that failed: a certificate not trusted, a name not matching, a protocol error. */
function isTlsFailure(err: NodeJS.ErrnoException): boolean {
  return /CERT|SSL|TLS|ALTNAME|SELF_SIGNED|UNABLE_TO|HANDSHAKE/i.test(String(err.code ?? '')) || /handshake|certificate|self.signed/i.test(err.message);
}
