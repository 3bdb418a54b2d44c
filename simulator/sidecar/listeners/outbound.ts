/**
 * The outbound listener (plain HTTP on 127.0.0.1) where the app sends its
 * calls, and the ingress listener (same code, role `ingress`). Accepts
 * proxy-form requests (`GET http://reviews:9080/x`, what HTTP_PROXY clients
 * send) and origin-form ones whose Host names the destination.
 */
import * as http from 'node:http';
import type * as net from 'node:net';
import { headersLimits } from '../../http-limits';
import type { Handler, Source } from '../context';
import { newContext, type Exchange } from '../downstream';
import { ProxyError } from '../errors';
import { ENVOY_WORKERS } from '../resilience/connectionPool';
import { serviceForAuthority, type MeshTables } from '../tables';

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

export function sourceOf(t: MeshTables, address: string | undefined): Source {
  const id = t.identity;
  return { workload: id.name, labels: id.labels, namespace: id.namespace, spiffeId: id.spiffeId, address };
}

export function createOutboundServer(deps: ListenerDeps): http.Server {
  const server = http.createServer({ keepAlive: true, keepAliveTimeout: 60_000, requestTimeout: 0, ...headersLimits() }, (req, res) => {
    const t = deps.tables();
    const pin = pinned.get(req.socket);
    const host = pin && !(req.headers.host && serviceForAuthority(t, req.headers.host)) ? pin : req.headers.host;
    const target = requestTarget(req.url ?? '/', host);
    const tgt = 'error' in target ? { authority: req.headers.host ?? '-', path: req.url ?? '/', proxyForm: false } : target;
    const ctx = newContext(t, req, res, { method: req.method ?? 'GET', ...tgt, listener: t.self ? 'outbound' : 'gateway' }, sourceOf(t, req.socket.remoteAddress), deps.onDone, workers.get(req.socket) ?? 0);
    if ('error' in target) return ctx.fail(new ProxyError(400, 'NR', 'bad-request-target', `devmesh: ${target.error}\n`));
    deps.handler(ctx);
  });
  // Envoy hands each downstream connection to one worker for its lifetime; round robin stands in for the kernel's spread.
  const workers = new WeakMap<net.Socket, number>();
  let nextWorker = 0;
  server.on('connection', (socket: net.Socket) => {
    workers.set(socket, nextWorker);
    nextWorker = (nextWorker + 1) % ENVOY_WORKERS;
  });
  return server;
}
