/**
 * The L7 entry for HTTP/2 connections from the app: a CONNECT tunnel to a
 * gRPC or HTTP/2 service port (after the 200), or a connection accepted on
 * a local upstream port. The connection is for one service port, so every
 * stream on it is routed by that port's route table (the `:authority` is
 * still matched and forwarded as the client wrote it) and runs the outbound
 * chain on its own: route, fault, retry, timeout, load balancing, circuit
 * breaking and outlier detection per call, never per connection, as Envoy's
 * HTTP connection manager does for a gRPC listener.
 *
 * The client must speak HTTP/2 with prior knowledge — what gRPC clients do
 * on a plaintext channel (the mesh adds mTLS on the hop). Anything else gets
 * a clean end for that connection only: an HTTP/1.x request line gets a 505
 * that says what to do instead, a TLS ClientHello or any other bytes a
 * closed connection and a log line.
 */
import * as http2 from 'node:http2';
import type { Duplex } from 'node:stream';
import type * as net from 'node:net';
import type { ServiceInfo, ServicePortInfo } from '../../protocol';
import type { Handler } from '../context';
import { newContext, type Exchange } from '../downstream';
import { ENVOY_WORKERS } from '../resilience/connectionPool';
import type { Stats } from '../stats';
import type { MeshTables } from '../tables';
import { SESSION_WINDOW, STREAM_WINDOW } from '../upstream/h2Pool';
import { sourceOf } from './outbound';
import { onFirstBytes, SNIFF_TIMEOUT_MS, startsHttp2 } from './sniff';
import { serveStreams } from './h2Streams';

/**
 * The mesh service and service port a connection is for, as the dispatcher
 * resolved them (its ConnectionDestination has this shape and more).
 */
export interface Http2Destination {
  service: Pick<ServiceInfo, 'fqdn'>;
  port: Pick<ServicePortInfo, 'port'>;
}

/**
 * What the dispatcher calls with a connection it hands over: the socket,
 * paused or flowing, with anything already read either pushed back
 * (`unshift`) or passed as `head`. From here on the entry owns the socket.
 *
 * This is the one contract between the L4 dispatcher and the L7 HTTP/2
 * path; the sidecar exposes it as `Sidecar.serveHttp2` (one entry per
 * sidecar, made in sidecar.ts with the outbound chain). The dispatcher's
 * `http2` path calls it as
 *
 *   http2: (socket, destination) => http2Entry.serve(socket, destination)
 *
 * with its ConnectionDestination (only `service.fqdn` and `port.port` are
 * read), after it has answered a CONNECT with 200 (`answer.accept()`): the
 * entry writes nothing before the client's preface, so the 200 must be out
 * first. The entry then sniffs the first bytes (HTTP/2 preface: served;
 * HTTP/1.x: a 505 naming the port; TLS or garbage: closed and logged),
 * counts `http2_entry.cx_*`, and runs every stream through the outbound
 * chain with `ctx.destination` set to that service port. Connections it
 * holds end with the sidecar (`close()` sends GOAWAY, `destroyAll()` cuts).
 */
export type ServeHttp2 = (socket: Duplex, destination: Http2Destination, head?: Buffer) => void;

export interface Http2EntryDeps {
  tables: () => MeshTables;
  /** The outbound chain, run once per stream. */
  handler: Handler;
  onDone: (e: Exchange) => void;
  stats: Stats;
  log?: (level: 'info' | 'warn', message: string) => void;
}

export interface Http2Entry {
  serve: ServeHttp2;
  /** Open HTTP/2 connections (sessions). */
  readonly size: number;
  /** GOAWAY on every session: streams in flight finish, new ones go to a new connection. */
  close(): void;
  destroyAll(): void;
}

const TLS_HANDSHAKE = 0x16;
/** A request line as HTTP/1.x sends it: a method token, a space (enough to know, from the first bytes). */
const HTTP1_REQUEST = /^[A-Z]{3,10} /;

export function createHttp2Entry(deps: Http2EntryDeps): Http2Entry {
  const sessions = new Set<http2.ServerHttp2Session>();
  const sockets = new Set<Duplex>();
  const workers = new WeakMap<http2.ServerHttp2Session, number>();
  let nextWorker = 0;
  /** One h2c server per destination: a request knows its destination by the server that took its connection. */
  const servers = new Map<string, http2.Http2Server>();

  const serverFor = (destination: Http2Destination): http2.Http2Server => {
    const dest = { host: destination.service.fqdn, port: destination.port.port };
    const key = `${dest.host}:${dest.port}`;
    let server = servers.get(key);
    if (server) return server;
    server = http2.createServer({ settings: { initialWindowSize: STREAM_WINDOW }, maxSessionMemory: 64 });
    serveStreams(server, (down) => {
      const t = deps.tables();
      const session = down.stream.session as http2.ServerHttp2Session;
      const authority = down.headers[':authority'] ?? key;
      const ctx = newContext(t, down, { method: down.headers[':method'] ?? 'GET', path: down.headers[':path'] ?? '/', authority, proxyForm: false, listener: 'outbound' }, sourceOf(t, session.socket?.remoteAddress), deps.onDone, workers.get(session) ?? 0);
      ctx.destination = dest;
      deps.handler(ctx);
    });
    server.on('session', (session: http2.ServerHttp2Session) => {
      sessions.add(session);
      // Envoy hands each downstream connection to one worker for its lifetime (connectionPool.ts).
      workers.set(session, nextWorker);
      nextWorker = (nextWorker + 1) % ENVOY_WORKERS;
      session.once('close', () => sessions.delete(session));
      session.once('connect', () => session.setLocalWindowSize(SESSION_WINDOW));
      if (!session.connecting) session.setLocalWindowSize(SESSION_WINDOW);
    });
    server.on('sessionError', () => deps.stats.inc('http2_entry.cx_session_error'));
    servers.set(key, server);
    return server;
  };

  const refuse = (socket: Duplex, first: Buffer, destination: Http2Destination) => {
    const where = `${destination.service.fqdn}:${destination.port.port}`;
    if (HTTP1_REQUEST.test(first.toString('latin1', 0, 16))) {
      deps.stats.inc('http2_entry.cx_http1_refused');
      const body = `devmesh: ${where} is a gRPC/HTTP/2 port: this connection speaks HTTP/1.x. Speak HTTP/2 with prior knowledge on it (what gRPC clients do), or send HTTP/1.1 requests in proxy form to the outbound listener (HTTP_PROXY).\n`;
      socket.end(`HTTP/1.1 505 HTTP Version Not Supported\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nx-devmesh-proxy-error: http1-on-http2-port\r\nconnection: close\r\n\r\n${body}`);
      return;
    }
    const tls = first[0] === TLS_HANDSHAKE;
    deps.stats.inc(tls ? 'http2_entry.cx_tls_refused' : 'http2_entry.cx_garbage_refused');
    deps.log?.('warn', tls
      ? `a connection to ${where} started TLS: use a plaintext (insecure) gRPC channel to the sidecar, which adds mTLS on the hop`
      : `a connection to ${where} did not start with the HTTP/2 preface; closed it`);
    socket.destroy();
  };

  const serve: ServeHttp2 = (socket, destination, head) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    (socket as net.Socket).setNoDelay?.(true);
    const decide = (first: Buffer) => {
      if (startsHttp2(first)) {
        deps.stats.inc('http2_entry.cx_total');
        // HTTP/2 takes the bytes put back (unshift) from the socket's buffer, then reads the socket itself.
        serverFor(destination).emit('connection', socket);
        return;
      }
      refuse(socket, first, destination);
    };
    if (head && head.length > 0) {
      socket.pause();
      socket.unshift(head);
      return decide(head);
    }
    onFirstBytes(socket, SNIFF_TIMEOUT_MS, decide);
    // The dispatcher may have paused it (a CONNECT socket waits for its 200 to be written).
    socket.resume();
  };

  return {
    serve,
    get size() { return sessions.size; },
    close() {
      for (const s of sessions) s.close();
    },
    destroyAll() {
      for (const s of sockets) s.destroy();
      for (const s of servers.values()) s.close();
    },
  };
}
