/**
 * A tunnel to the peer sidecar for one TCP connection: `CONNECT
 * <fqdn>:<port>` to its inbound listener, answered 200 once the peer has
 * reached its app (Istio's HBONE carries TCP the same way, as an HTTP
 * CONNECT). Three transports:
 *
 * - `h2`: a CONNECT stream on the pair's existing mTLS HTTP/2 session (the
 *   one the HTTP path multiplexes its calls on) — no handshake per connection;
 * - `tls`: its own mTLS connection (ALPN http/1.1), an HTTP/1.1 CONNECT, then
 *   the raw bytes — one handshake per connection, no framing after it;
 * - `plaintext`: the same over plain TCP, when the DestinationRule says
 *   `tls.mode: DISABLE`.
 *
 * BENCHMARKS.md ("TCP through the mesh") compares the first two; the Mesh
 * chooses with `spec.tcpTunnel` (DEFAULT_TCP_TUNNEL when it does not). A non-200 answer carries the peer's reason in
 * x-devmesh-proxy-error; it is a connect failure for outlier detection when
 * the peer could not reach its app (503), as HBONE reports it.
 */
import * as http2 from 'node:http2';
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { Duplex } from 'node:stream';
import type { Certificates } from '../../protocol';
import { PROXY_ERROR_HEADER } from '../errors';
import { checkSpiffe, type H2Pool } from './h2Pool';

export type TunnelTransport = 'h2' | 'tls' | 'plaintext';

export interface TunnelTarget {
  transport: TunnelTransport;
  /** The peer's inbound listener (or a toxic relay in front of it). */
  port: number;
  /** The SPIFFE id the peer must present (mTLS transports). */
  spiffeId: string;
  /** `<fqdn>:<service port>`: which of the peer's ports the connection is for. */
  authority: string;
  /** Extra request headers (peer metadata). */
  headers: Record<string, string>;
  timeoutMs: number;
}

export type TunnelResult =
  | { ok: true; stream: Duplex }
  /** `connect`: no tunnel (refused, reset, timed out); `refused`: the peer answered `status`. */
  | { ok: false; kind: 'connect' | 'timeout' | 'refused'; status?: number; reason?: string; message: string };

export interface TunnelDeps {
  pool: () => H2Pool;
  certs: () => Certificates;
}

export function openTunnel(target: TunnelTarget, deps: TunnelDeps, done: (r: TunnelResult) => void): void {
  let settled = false;
  const settle = (r: TunnelResult) => {
    if (settled) {
      if (r.ok) r.stream.destroy();
      return;
    }
    settled = true;
    clearTimeout(timer);
    done(r);
  };
  const timer = setTimeout(() => {
    cancel();
    settle({ ok: false, kind: 'timeout', message: `no tunnel to 127.0.0.1:${target.port} within the connect timeout (${target.timeoutMs} ms)` });
  }, target.timeoutMs);
  timer.unref();
  let cancel = () => {};
  if (target.transport === 'h2') cancel = overH2(target, deps.pool(), settle);
  else cancel = overHttp1(target, deps.certs(), settle);
}

function overH2(target: TunnelTarget, pool: H2Pool, settle: (r: TunnelResult) => void): () => void {
  let stream: http2.ClientHttp2Stream;
  try {
    const session = pool.session({ port: target.port, spiffeId: target.spiffeId });
    stream = session.request({ ':method': 'CONNECT', ':authority': target.authority, ...target.headers }, { endStream: false });
  } catch (err) {
    settle({ ok: false, kind: 'connect', message: (err as Error).message });
    return () => {};
  }
  stream.once('response', (headers) => {
    const status = Number(headers[':status']);
    if (status === 200) return settle({ ok: true, stream });
    const reason = headers[PROXY_ERROR_HEADER];
    stream.close(http2.constants.NGHTTP2_CANCEL);
    settle({ ok: false, kind: 'refused', status, reason: typeof reason === 'string' ? reason : undefined, message: `the peer sidecar answered ${status}${reason ? ` (${reason})` : ''}` });
  });
  stream.once('error', (err) => settle({ ok: false, kind: 'connect', message: err.message }));
  stream.once('close', () => settle({ ok: false, kind: 'connect', message: 'the peer sidecar closed the tunnel before answering' }));
  return () => stream.close(http2.constants.NGHTTP2_CANCEL);
}

/**
 * TLS sessions to resume per (peer port, identity, our certificate), so a
 * connection after the first costs an abbreviated handshake, as nginx's
 * proxy_ssl_session_reuse does. New certificates start new sessions.
 */
const sessions = new Map<string, Buffer>();
const MAX_SESSIONS = 256;

/**
 * One TLS context per certificate set: building one parses the key, the
 * certificate and the CA bundle (measured ~12 % of a sidecar's CPU at 40 new
 * connections/s when each connection built its own).
 */
const contexts = new WeakMap<Certificates, tls.SecureContext>();
function contextFor(certs: Certificates): tls.SecureContext {
  let c = contexts.get(certs);
  if (!c) contexts.set(certs, c = tls.createSecureContext({ key: certs.keyPem, cert: certs.certPem, ca: certs.caPem }));
  return c;
}

function overHttp1(target: TunnelTarget, certs: Certificates, settle: (r: TunnelResult) => void): () => void {
  const key = `${target.port}|${target.spiffeId}|${certs.serial ?? certs.notAfter}`;
  const session = target.transport === 'tls' ? sessions.get(key) : undefined;
  // A resumed session skips checkServerIdentity (Node): the session was made with a peer whose SPIFFE id was checked, and it is kept under that id.
  const socket = target.transport === 'tls'
    ? tls.connect({
      host: '127.0.0.1', port: target.port, secureContext: contextFor(certs), ALPNProtocols: ['http/1.1'],
      checkServerIdentity: (_h, cert) => checkSpiffe(cert, target.spiffeId), session,
    })
    : net.connect({ host: '127.0.0.1', port: target.port, allowHalfOpen: true });
  if (socket instanceof tls.TLSSocket) {
    // TLS 1.3 tickets can be used again: a session is kept until the peer declines it (new keys or
    // certificates), and not serialized again for every connection (i2d of the session and its certificate).
    const keep = (fresh: Buffer) => {
      if (sessions.size >= MAX_SESSIONS && !sessions.has(key)) sessions.delete(sessions.keys().next().value!);
      sessions.set(key, fresh);
    };
    if (!session) socket.once('session', keep);
    else socket.once('secureConnect', () => { if (!socket.isSessionReused()) socket.once('session', keep); });
  }
  socket.setNoDelay(true);
  // The app's half-close travels; the peer's answer still comes back.
  socket.allowHalfOpen = true;
  socket.once(target.transport === 'tls' ? 'secureConnect' : 'connect', () => {
    const lines = [`CONNECT ${target.authority} HTTP/1.1`, `host: ${target.authority}`, ...Object.entries(target.headers).map(([k, v]) => `${k}: ${v}`)];
    socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    readResponseHead(socket, (head) => {
      if (!head) return settle({ ok: false, kind: 'connect', message: 'the peer sidecar closed the tunnel before answering' });
      if (head.status === 200) return settle({ ok: true, stream: socket });
      socket.destroy();
      const reason = head.headers[PROXY_ERROR_HEADER];
      settle({ ok: false, kind: 'refused', status: head.status, reason, message: `the peer sidecar answered ${head.status}${reason ? ` (${reason})` : ''}` });
    });
  });
  socket.once('error', (err) => {
    socket.destroy();
    settle({ ok: false, kind: 'connect', message: err.message });
  });
  return () => socket.destroy();
}

/** Reads an HTTP/1.1 response head off a socket; what follows it is pushed back for the relay. */
export function readResponseHead(socket: net.Socket, done: (head: { status: number; headers: Record<string, string> } | undefined) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  const onData = (c: Buffer) => {
    chunks.push(c);
    size += c.length;
    const all = Buffer.concat(chunks);
    const end = all.indexOf('\r\n\r\n');
    if (end < 0) {
      if (size > 16 * 1024) { cleanup(); socket.destroy(); done(undefined); }
      return;
    }
    cleanup();
    socket.pause();
    if (end + 4 < all.length) socket.unshift(all.subarray(end + 4));
    const [statusLine, ...lines] = all.subarray(0, end).toString('latin1').split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
    const headers: Record<string, string> = {};
    for (const l of lines) {
      const i = l.indexOf(':');
      if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
    }
    done(m ? { status: Number(m[1]), headers } : undefined);
  };
  const onEnd = () => { cleanup(); done(undefined); };
  const cleanup = () => { socket.off('data', onData); socket.off('end', onEnd); socket.off('close', onEnd); };
  socket.on('data', onData);
  socket.once('end', onEnd);
  socket.once('close', onEnd);
}
