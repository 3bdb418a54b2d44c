/**
 * The outbound listener (plain HTTP on 127.0.0.1) where the app sends its
 * calls, and the ingress listener (same code, role `ingress`). Accepts
 * proxy-form requests (`GET http://reviews:9080/x`, what HTTP_PROXY clients
 * send) and origin-form ones whose Host names the destination.
 */
import * as http from 'node:http';
import type * as net from 'node:net';
import type { TLSSocket } from 'node:tls';
import { headersLimits } from '../../http-limits';
import type { GatewayListenerRef, Handler, Source } from '../context';
import { isH2, newContext, socketOf, type Downstream, type Exchange, type H1Request } from '../downstream';
import { ProxyError } from '../errors';
import { ENVOY_WORKERS } from '../resilience/connectionPool';
import { serviceForAuthority, type MeshTables } from '../tables';
import { spiffeFromSan } from '../security/peerIdentity';

export interface ListenerDeps {
  tables: () => MeshTables;
  handler: Handler;
  onDone: (e: Exchange) => void;
}

/** Splits a request target into authority + path, whichever form it came in. */
export function requestTarget(url: string, host: string | undefined): { authority: string; path: string; proxyForm: boolean } | { error: string } {
  if (url.startsWith('/')) {
    if (!host) return { error: 'origin-form request without a Host header' };
    return { authority: host, path: url, proxyForm: false };
  }
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/([^/?#]*)([^#]*)/.exec(url);
  if (!m) return { error: `cannot read request target "${url}"` };
  if (m[1].toLowerCase() !== 'http') return { error: `only http:// targets are proxied (got ${m[1]}://); the mesh adds TLS itself` };
  const path = m[3] === '' ? '/' : m[3].startsWith('?') ? `/${m[3]}` : m[3];
  return { authority: m[2], path, proxyForm: true };
}

/**
 * Connections that lead to one service port (a CONNECT tunnel or a local
 * upstream port): a request whose Host names no mesh service goes there.
 * An app talking to 127.0.0.1:19080 sends `Host: 127.0.0.1:19080`.
 */
const pinned = new WeakMap<net.Socket, string>();

export function pinAuthority(socket: net.Socket, authority: string): void {
  pinned.set(socket, authority);
}

/** At a gateway's TLS server: the SPIFFE id of the client certificate the handshake verified, if any. */
export function verifiedClientPrincipal(socket: unknown): string | undefined {
  const tls = socket as Partial<Pick<TLSSocket, 'authorized' | 'getPeerCertificate'>> | undefined;
  if (!tls?.authorized || typeof tls.getPeerCertificate !== 'function') return undefined;
  return spiffeFromSan(tls.getPeerCertificate()?.subjectaltname);
}

export function sourceOf(t: MeshTables, address: string | undefined): Source {
  const id = t.identity;
  return { workload: id.name, labels: id.labels, namespace: id.namespace, spiffeId: id.spiffeId, address };
}

export function createOutboundServer(deps: ListenerDeps): http.Server {
  return withWorkers(http.createServer({ keepAlive: true, keepAliveTimeout: 60_000, requestTimeout: 0, ...headersLimits() }), deps);
}

function withWorkers<S extends http.Server>(server: S, deps: ListenerDeps): S {
  const serve = requestEntry(deps);
  // Envoy hands each downstream connection to one worker for its lifetime; round robin stands in for the kernel's spread.
  const workers = new WorkerSpread<net.Socket>();
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => serve({ req, res }, workers.of(req.socket)));
  server.on('connection', (socket: net.Socket) => workers.assign(socket));
  return server;
}

/** Which of Envoy's workers a downstream connection is on: round robin, as the kernel spreads them. */
export class WorkerSpread<K extends object> {
  private readonly workers = new WeakMap<K, number>();
  private next = 0;
  assign(connection: K): void {
    this.workers.set(connection, this.next);
    this.next = (this.next + 1) % ENVOY_WORKERS;
  }
  of(connection: K): number { return this.workers.get(connection) ?? 0; }
}

/**
 * One request into the chain: its target read from the request line (or, on
 * HTTP/2, `:authority` and `:path`), a context, then the handler. At a
 * Gateway listener the context says which one, so its routes decide.
 */
export function requestEntry(deps: ListenerDeps, gatewayListener?: GatewayListenerRef): (down: Downstream, worker: number) => void {
  return (down, worker) => {
    const t = deps.tables();
    const h2 = isH2(down) ? down : undefined;
    const req = h2 ? undefined : (down as H1Request).req;
    const headers = h2 ? h2.headers : req!.headers;
    const url = (h2 ? h2.headers[':path'] : req!.url) ?? '/';
    const socket = socketOf(down);
    const given = (headers[':authority'] as string | undefined) ?? headers.host;
    // A request on a CONNECT tunnel or local upstream port whose Host names no mesh service goes to the pinned one.
    const pin = !h2 && socket ? pinned.get(socket) : undefined;
    const host = pin && !(given && serviceForAuthority(t, given)) ? pin : given;
    const target = requestTarget(url, host);
    const tgt = 'error' in target ? { authority: host ?? '-', path: url, proxyForm: false } : target;
    const source = sourceOf(t, socket?.remoteAddress);
    if (!t.self) {
      const principal = verifiedClientPrincipal(socket);
      if (principal) source.clientPrincipal = principal;
      // The TLS connection the gateway terminated: its server name is what AuthorizationPolicy's connection.sni reads.
      const sni = (socket as Partial<TLSSocket> | undefined)?.servername;
      if (typeof sni === 'string' && sni !== '') source.sni = sni;
    }
    const method = (h2 ? h2.headers[':method'] : req!.method) ?? 'GET';
    const ctx = newContext(t, down, { method, ...tgt, listener: t.self ? 'outbound' : 'gateway', gatewayListener }, source, deps.onDone, worker);
    if ('error' in target) return ctx.fail(new ProxyError(400, 'NR', 'bad-request-target', `devmesh: ${target.error}\n`));
    deps.handler(ctx);
  };
}
