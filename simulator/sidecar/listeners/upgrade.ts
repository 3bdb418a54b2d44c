/**
 * WebSocket and other `Upgrade` requests. They run the filters chains.ts
 * composes for them (route, fault and endpoint outbound; peer, authz and
 * xfcc inbound), then become a byte tunnel:
 * HTTP/1.1 over one mTLS connection per upgrade to the peer sidecar (ALPN
 * http/1.1; HTTP/2 has no Upgrade), then plain TCP to the app. The 101 and
 * every frame after it flow back untouched.
 */
import { sendsMtls } from '../security/upstreamTls';
import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { STATUS_CODES } from 'node:http';
import type { Certificates } from '../../protocol';
import { compose, type Filter, type Handler, type RequestContext, type Source } from '../context';
import { verifiedClientXfcc, type Exchange } from '../downstream';
import { filtersSee, mutateRequestHeaders } from '../connectionManager';
import type { ListenerClass } from '../../policy/defaults';
import { PROXY_ERROR_HEADER, RESPONSE_FLAGS_HEADER, upstreamConnectFailure, type ProxyError } from '../errors';
import { checkSpiffe } from '../upstream/h2Pool';
import { endToEndHeaders } from '../upstream/hopByHop';
import type { MeshTables } from '../tables';
import { externalTarget } from '../routing/externalEndpoints';
import { DESTINATION_HEADER, destinationOf } from '../filters/servicePort';

export type UpgradeHandler = (req: IncomingMessage, socket: net.Socket, head: Buffer, source: Source) => void;

export interface UpgradeDeps {
  tables: () => MeshTables;
  onDone: (e: Exchange) => void;
}

/** Outbound: `filters` pick the endpoint, then a tunnel to the picked workload's sidecar. */
export function outboundUpgrade(deps: UpgradeDeps & { certs: () => Certificates }, filters: Filter[]): UpgradeHandler {
  const terminal: Handler = (ctx) => {
    const ep = ctx.endpoint!;
    const certs = deps.certs();
    const plaintext = !sendsMtls(ctx.tables, ep, ctx.policy, ctx.plan);
    // A WebSocket to a host outside the mesh goes to its address, in plaintext (no TLS origination for upgrades).
    const to = ep.external && ctx.plan?.kind === 'forward' ? externalTarget(ep, ctx.plan) : { host: '127.0.0.1', port: ep.sidecar.inboundPort };
    const upstream = plaintext
      ? net.connect(to.port, to.host)
      : tls.connect({ host: '127.0.0.1', port: ep.sidecar.inboundPort, key: certs.keyPem, cert: certs.certPem, ca: certs.caPem, ALPNProtocols: ['http/1.1'], checkServerIdentity: (_h, cert) => checkSpiffe(cert, ep.spiffeId) });
    if (ctx.plan?.kind === 'forward' && !ep.external) ctx.headers[DESTINATION_HEADER] = destinationOf(ctx.plan);
    tunnel(ctx, upstream, plaintext ? 'connect' : 'secureConnect');
  };
  return (req, socket, head, source) => run(deps, compose(filters, terminal), req, socket, head, source, 'outbound');
}

/** Inbound: `filters` admit the caller, then a TCP tunnel to the app (on the local port of the container port called). */
export function inboundUpgrade(deps: UpgradeDeps, filters: Filter[]): UpgradeHandler {
  const terminal: Handler = (ctx) => tunnel(ctx, net.connect(ctx.inbound?.localPort ?? ctx.tables.self!.appPort, '127.0.0.1'), 'connect');
  return (req, socket, head, source) => run(deps, compose(filters, terminal), req, socket, head, source, 'inbound');
}

function run(deps: UpgradeDeps, handler: Handler, req: IncomingMessage, socket: net.Socket, head: Buffer, source: Source, listener: string): void {
  const t = deps.tables();
  const url = req.url ?? '/';
  const proxyForm = /^http:\/\//i.test(url);
  const parsed = proxyForm ? new URL(url) : undefined;
  const authority = parsed ? parsed.host : ((req.headers[':authority'] as string | undefined) ?? req.headers.host ?? '');
  const listenerClass: ListenerClass = listener === 'inbound' ? 'inbound' : t.self ? 'outbound' : 'gateway';
  const ctx = tunnelContext(t, req, socket, head, { method: req.method ?? 'GET', path: parsed ? parsed.pathname + parsed.search : url, authority, proxyForm, listener: listenerClass }, listener === 'outbound' ? { ...source, spiffeId: t.identity.spiffeId, labels: t.identity.labels } : source, deps.onDone);
  handler(ctx);
}

const HEAD = Symbol('head');

function tunnelContext(tables: MeshTables, req: IncomingMessage, socket: net.Socket, head: Buffer, { listener, ...target }: { method: string; path: string; authority: string; proxyForm: boolean; listener: ListenerClass }, source: Source, onDone: (e: Exchange) => void): RequestContext {
  const headers = endToEndHeaders(req.headers, req.rawHeaders);
  const requestId = typeof req.headers['x-request-id'] === 'string' ? req.headers['x-request-id'] : randomUUID();
  // The connection manager's own changes, as for requests (downstream.ts): the filters and the tunnel's peer see them.
  mutateRequestHeaders(headers, tables.defaults.proxyHeaders, {
    listener, sourceAddress: source.address, verifiedClientXfcc: listener === 'gateway' ? verifiedClientXfcc(socket) : undefined, localPort: socket.localPort, tls: (socket as { encrypted?: boolean }).encrypted === true, generatedRequestId: requestId,
  });
  filtersSee(req.headers, headers, { upgrade: true });
  const startedAt = performance.now();
  let status = 101;
  let proxyError: string | undefined;
  let answered = false;
  socket.on('error', () => socket.destroy());
  const ctx: RequestContext & { [HEAD]: { req: IncomingMessage; socket: net.Socket; head: Buffer } } = {
    tables, downstream: { headers: req.headers, body: req as unknown as Readable, httpVersion: req.httpVersion }, startedAt,
    ...target, headers, requestId, source, responseHeaderOps: [], flags: [],
    [HEAD]: { req, socket, head },
    respond(code, hdrs, body) {
      if (answered) return;
      answered = true;
      status = code;
      const text = typeof body === 'string' ? body : '';
      const lines = [`HTTP/1.1 ${code} ${STATUS_CODES[code] ?? ''}`];
      for (const [k, v] of Object.entries({ ...hdrs, 'content-length': Buffer.byteLength(text), connection: 'close' })) if (v !== undefined) lines.push(`${k}: ${Array.isArray(v) ? v.join(', ') : v}`);
      socket.end(`${lines.join('\r\n')}\r\n\r\n${text}`);
      onDone({ ctx, status, durationMs: performance.now() - startedAt, proxyError, aborted: false });
    },
    fail(err: ProxyError) {
      proxyError = err.reason;
      if (err.flag) ctx.flags.push(err.flag);
      ctx.respond(err.status, { 'content-type': 'text/plain; charset=utf-8', ...err.headers, [PROXY_ERROR_HEADER]: err.reason, ...(err.flag ? { [RESPONSE_FLAGS_HEADER]: err.flag } : {}) }, err.message);
    },
    reset() {
      answered = true;
      socket.destroy();
    },
    onAbort() {},
  };
  return ctx;
}

function tunnel(ctx: RequestContext, upstream: net.Socket, readyEvent: 'connect' | 'secureConnect'): void {
  const { req, socket, head } = (ctx as RequestContext & { [HEAD]: { req: IncomingMessage; socket: net.Socket; head: Buffer } })[HEAD];
  const headers: OutgoingHttpHeaders = { ...ctx.headers, host: ctx.authority, connection: 'Upgrade', upgrade: req.headers.upgrade };
  let connected = false;
  upstream.once(readyEvent, () => {
    connected = true;
    const lines = [`${ctx.method} ${ctx.path} HTTP/1.1`];
    for (const [k, v] of Object.entries(headers)) if (v !== undefined) for (const one of Array.isArray(v) ? v : [v]) lines.push(`${k}: ${one}`);
    upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
    if (head.length > 0) upstream.write(head);
    upstream.pipe(socket);
    socket.pipe(upstream);
  });
  upstream.on('error', (err) => {
    if (!connected) ctx.fail(upstreamConnectFailure(`devmesh: upgrade to ${ctx.authority} failed: ${err.message}\n`));
    socket.destroy();
  });
  socket.on('close', () => upstream.destroy());
  upstream.on('close', () => socket.destroy());
}
