/**
 * The outbound listener (plain HTTP on 127.0.0.1) where the app sends its
 * calls, and the ingress listener (same code, role `ingress`). Accepts
 * proxy-form requests (`GET http://reviews:9080/x`, what HTTP_PROXY clients
 * send) and origin-form ones whose Host names the destination.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type * as net from 'node:net';
import * as tls from 'node:tls';
import { headersLimits } from '../../http-limits';
import type { GatewayListenerRef, Handler, Source } from '../context';
import { newContext, type Exchange } from '../downstream';
import { ProxyError } from '../errors';
import { ENVOY_WORKERS } from '../resilience/connectionPool';
import type { MeshTables } from '../tables';

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

export function sourceOf(t: MeshTables, address: string | undefined): Source {
  const id = t.identity;
  return { workload: id.name, labels: id.labels, namespace: id.namespace, spiffeId: id.spiffeId, address };
}

export function createOutboundServer(deps: ListenerDeps): http.Server {
  return withWorkers(http.createServer({ keepAlive: true, keepAliveTimeout: 60_000, requestTimeout: 0, ...headersLimits() }), deps);
}

/**
 * A Gateway API listener port at the ingress: plain HTTP, or HTTPS with the
 * certificate of the listener whose hostname the client's SNI names (the
 * most specific one; the first for a client without SNI). Requests are
 * routed by the routes attached to the Gateway's listeners on that port.
 */
export function createGatewayListenerServer(deps: ListenerDeps, listener: GatewayListenerRef, certificates?: () => { hostname?: string; certPem: string; keyPem: string }[]): http.Server {
  const options = { keepAlive: true, keepAliveTimeout: 60_000, requestTimeout: 0, ...headersLimits() };
  if (listener.scheme === 'http' || !certificates) return withWorkers(http.createServer(options), deps, listener);
  const contexts = new WeakMap<object, tls.SecureContext>();
  const contextOf = (c: { certPem: string; keyPem: string }) => {
    let sc = contexts.get(c);
    if (!sc) contexts.set(c, (sc = tls.createSecureContext({ cert: c.certPem, key: c.keyPem })));
    return sc;
  };
  const pick = (servername: string | undefined) => {
    const all = certificates();
    const host = servername?.toLowerCase();
    const specific = (h?: string) => (!h ? 0 : h.startsWith('*.') ? h.length : 1_000_000 + h.length);
    const fits = all.filter((c) => !c.hostname || (host !== undefined && (c.hostname === host || (c.hostname.startsWith('*.') && host.endsWith(c.hostname.slice(1))))));
    return fits.sort((a, b) => specific(b.hostname) - specific(a.hostname))[0] ?? all[0];
  };
  const first = pick(undefined);
  const server = https.createServer({ ...options, cert: first?.certPem, key: first?.keyPem, SNICallback: (name, cb) => {
    const c = pick(name);
    cb(c ? null : new Error('no certificate for this listener'), c ? contextOf(c) : undefined);
  } });
  return withWorkers(server, deps, listener);
}

function withWorkers<S extends http.Server>(server: S, deps: ListenerDeps, gatewayListener?: GatewayListenerRef): S {
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const t = deps.tables();
    const target = requestTarget(req.url ?? '/', req.headers.host);
    const tgt = 'error' in target ? { authority: req.headers.host ?? '-', path: req.url ?? '/', proxyForm: false } : target;
    const ctx = newContext(t, req, res, { method: req.method ?? 'GET', ...tgt, listener: t.self ? 'outbound' : 'gateway', gatewayListener }, sourceOf(t, req.socket.remoteAddress), deps.onDone, workers.get(req.socket) ?? 0);
    if ('error' in target) return ctx.fail(new ProxyError(400, 'NR', 'bad-request-target', `devmesh: ${target.error}\n`));
    deps.handler(ctx);
  });
  // Envoy hands each downstream connection to one worker for its lifetime; round robin stands in for the kernel's spread.
  const workers = new WeakMap<net.Socket, number>();
  let nextWorker = 0;
  server.on(server instanceof https.Server ? 'secureConnection' : 'connection', (socket: net.Socket) => {
    workers.set(socket, nextWorker);
    nextWorker = (nextWorker + 1) % ENVOY_WORKERS;
  });
  return server;
}
