/**
 * The inbound listener: one port for mTLS and plaintext, told apart by the
 * first byte as Istio's TLS inspector does (0x16 = a TLS handshake record),
 * so PERMISSIVE can accept both. PeerAuthentication is enforced per
 * connection: STRICT closes plaintext connections and TLS peers without a
 * mesh certificate; DISABLE closes TLS ones. HTTP/2 (what sidecars speak) and
 * HTTP/1.1 over TLS (what `tls.connect` clients and upgrades speak) share the
 * TLS side; plaintext is HTTP/1.1, or HTTP/2 with prior knowledge (h2c)
 * when the client opens with the HTTP/2 preface.
 */
import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Certificates } from '../../protocol';
import type { Source } from '../context';
import { newContext, socketOf, type Downstream, type H2Request } from '../downstream';
import { admits } from '../security/peerAuthentication';
import { PEER, PLAINTEXT, identify, type PeerIdentity } from '../security/peerIdentity';
import type { Stats } from '../stats';
import { SESSION_WINDOW, STREAM_WINDOW } from '../upstream/h2Pool';
import type { ListenerDeps } from './outbound';
import { headersLimits } from '../../http-limits';
import type { Duplex } from 'node:stream';
import { STATUS_CODES } from 'node:http';
import { protocolClass } from '../../policy/protocols';
import { PROXY_ERROR_HEADER } from '../errors';
import type { InboundPort, MeshTables } from '../tables';
import { SNIFF_TIMEOUT_MS, sniffPlaintext } from './sniff';
import { http1Requests, serveStreams } from './h2Streams';

const TLS_HANDSHAKE = 0x16;

export interface InboundDeps extends ListenerDeps {
  certs: Certificates;
  stats: Stats;
  onUpgrade?: (req: http.IncomingMessage, socket: net.Socket, head: Buffer, source: Source) => void;
  /** A TCP connection for one of the workload's TCP/TLS ports: a caller's sidecar's CONNECT tunnel, or a plaintext client. */
  onTunnel?: (tunnel: InboundTunnel) => void;
}

/**
 * One connection for a TCP or TLS port of this workload. A caller's sidecar
 * names the port in a CONNECT (`<fqdn>:<port>`) — as a stream on its HTTP/2
 * session, or as HTTP/1.1 on its own mTLS (or plaintext) connection — and
 * is answered 200 once the app is reached (`ends.accept`) or told why not
 * (`ends.refuse`). A plaintext client (redis-cli pointed at the inbound
 * port) sends its own protocol at once; it reaches the workload's TCP port.
 */
export interface InboundTunnel {
  /** The destination a sidecar named; absent for a plaintext client. */
  authority?: string;
  headers: Record<string, string | string[] | undefined>;
  stream: Duplex;
  source: Source;
  /** A plaintext client: the TCP port it reaches. */
  port?: InboundPort;
  ends: { accept?(): void; refuse?(err: { status?: number; reason: string; message: string }): void };
}

export interface InboundListener {
  server: net.Server;
  setCertificates(c: Certificates): void;
  /**
   * Re-applies PeerAuthentication to open connections after a config change,
   * as Envoy drains a changed listener: connections the new mode refuses are
   * closed once their requests in flight finish (HTTP/2: GOAWAY).
   */
  enforce(): void;
  /** Stops accepting; open connections finish their requests. */
  closeIdle(): void;
  destroyAll(): void;
}

export function peerSource(socket: unknown): Source {
  const peer: PeerIdentity = (socket as Record<symbol, PeerIdentity> | undefined)?.[PEER] ?? PLAINTEXT;
  return {
    labels: {},
    spiffeId: peer.spiffeId,
    certHash: peer.certHash,
    tls: peer.tls,
    namespace: peer.namespace,
    address: (socket as net.Socket | undefined)?.remoteAddress,
  };
}

export function createInboundListener(deps: InboundDeps): InboundListener {
  /**
   * Whether the current PeerAuthentication still admits a connection with this
   * peer: when the mode of one of the workload's ports does (portLevelMtls);
   * each request is then checked against its own port's mode (servicePort.ts).
   */
  const admitted = (peer: PeerIdentity) => deps.tables().mtlsModes.some((mode) => admits(mode, peer));
  const sockets = new Set<net.Socket>();
  /** HTTP/1.1 connections (plaintext or TLS) with their requests in flight. */
  const http1 = new Map<net.Socket, { inflight: number; closeWhenIdle: boolean }>();
  const serve = (down: Downstream, headers: http.IncomingHttpHeaders, method: string, path: string) => {
    const t = deps.tables();
    const authority = (headers[':authority'] as string | undefined) ?? headers.host ?? t.identity.name;
    const ctx = newContext(t, down, { method, path, authority, proxyForm: false, listener: 'inbound' }, peerSource(socketOf(down)), deps.onDone);
    deps.handler(ctx);
  };
  const onHttp1Request = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const conn = http1.get(req.socket as net.Socket);
    if (conn) {
      conn.inflight++;
      res.once('close', () => {
        conn.inflight--;
        if (conn.closeWhenIdle && conn.inflight === 0) (req.socket as net.Socket).destroy();
      });
    }
    serve({ req, res }, req.headers, req.method ?? 'GET', req.url ?? '/');
  };
  // HTTP/2 (a caller's sidecar, or an h2c client): Node's core stream, no compatibility wrappers (h2Streams.ts).
  const onStream = (down: H2Request) => serve(down, down.headers, down.headers[':method'] ?? 'GET', down.headers[':path'] ?? '/');

  const plain = http.createServer({ keepAlive: true, keepAliveTimeout: 60_000, requestTimeout: 0, ...headersLimits() }, onHttp1Request);
  // Plaintext HTTP/2 with prior knowledge: a gRPC client outside the mesh calling a PERMISSIVE port.
  const plainH2 = http2.createServer({ settings: { initialWindowSize: STREAM_WINDOW }, maxSessionMemory: 64 });
  serveStreams(plainH2, onStream);
  const secure = http2.createSecureServer(
    {
      key: deps.certs.keyPem,
      cert: deps.certs.certPem,
      ca: deps.certs.caPem,
      requestCert: true,
      // Verified, but not enforced here: PERMISSIVE admits TLS peers without a mesh certificate.
      rejectUnauthorized: false,
      allowHTTP1: true,
      ALPNProtocols: ['h2', 'http/1.1'],
      settings: { initialWindowSize: STREAM_WINDOW },
      maxSessionMemory: 64,
      // A client that starts a TLS handshake and stalls is dropped as one that stalls its headers.
      handshakeTimeout: headersLimits().headersTimeout,
    },
  );
  http1Requests(secure, onHttp1Request);
  // HTTP/1.1 over TLS: the same rules as the plaintext side (headers deadline, no overall body
  // deadline, 400 without Host); Node set none of them on an http2 server's HTTP/1 fallback.
  Object.assign(secure, headersLimits(), { requestTimeout: 0, requireHostHeader: true });
  secure.on('secureConnection', (tls: TLSSocket) => {
    const peer = identify(tls, deps.tables().flavor.identity);
    if (!admitted(peer)) {
      deps.stats.inc('inbound.cx_unauthenticated_refused');
      tls.destroy();
      return;
    }
    deps.stats.inc(peer.spiffeId ? 'inbound.cx_mtls' : 'inbound.cx_tls_without_identity');
    // An abbreviated handshake (a TLS 1.3 ticket the caller kept): what makes a TLS connection per TCP connection affordable.
    if (tls.isSessionReused()) deps.stats.inc('inbound.cx_tls_resumed');
    (tls as unknown as Record<symbol, PeerIdentity>)[PEER] = peer;
    // Envoy closes a downstream connection at its peer's FIN (HTTP has no half-close): without
    // this the TLS socket kept the raw socket's half-open and an HTTP/2 session stayed open for
    // a GOAWAY no peer reads (a connection-pool handshake ends as soon as it is made). An
    // HTTP/1.1 CONNECT tunnel turns half-close back on for itself (http1Tunnel).
    tls.allowHalfOpen = false;
    tls.once('end', () => tls.once('close', () => deps.stats.inc('inbound.downstream_cx_destroy_remote')));
    if (tls.alpnProtocol !== 'h2') trackHttp1(tls);
  });
  const sessions = new Set<http2.ServerHttp2Session>();
  const onSession = (session: http2.ServerHttp2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
    session.once('connect', () => session.setLocalWindowSize(SESSION_WINDOW));
    if (!session.connecting) session.setLocalWindowSize(SESSION_WINDOW);
  };
  secure.on('session', onSession);
  plainH2.on('session', onSession);
  plainH2.on('sessionError', () => deps.stats.inc('inbound.cx_session_error'));
  secure.on('tlsClientError', () => deps.stats.inc('inbound.cx_tls_handshake_error'));
  secure.on('sessionError', () => deps.stats.inc('inbound.cx_session_error'));
  if (deps.onUpgrade) {
    const onUpgrade = deps.onUpgrade;
    plain.on('upgrade', (req, socket, head) => onUpgrade(req, socket as net.Socket, head, peerSource(socket)));
    secure.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => onUpgrade(req, socket, head, peerSource(socket)));
  }
  let onConnect: ((req: H2Request) => void) | undefined;
  if (deps.onTunnel) {
    const onTunnel = deps.onTunnel;
    // HTTP/1.1 CONNECT: plaintext, or over a TLS connection of its own (the `tls` tunnel transport).
    const http1Tunnel = (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
      http1.delete(socket);
      // A tunnel carries half-closes both ways (a TLS socket would end its side at the peer's FIN).
      socket.allowHalfOpen = true;
      if (head.length > 0) socket.unshift(head);
      onTunnel({ authority: req.url, headers: req.headers, stream: socket, source: peerSource(socket), ends: http1Ends(socket) });
    };
    plain.on('connect', http1Tunnel);
    // HTTP/1.1 CONNECT on a TLS connection ('connect'); an HTTP/2 CONNECT stream (served below) goes on as the raw stream both ways.
    secure.on('connect', http1Tunnel);
    onConnect = ({ stream, headers }) => onTunnel({ authority: headers[':authority'], headers, stream, source: peerSource(stream.session?.socket), ends: h2Ends(stream) });
  }
  serveStreams(secure, onStream, onConnect);

  // noDelay: a sidecar writes small frames; Nagle would hold each one for the peer's delayed ACK.
  // allowHalfOpen: a TCP client's FIN must not end what its server still sends back (HTTP handles its own ends).
  const server = net.createServer({ noDelay: true, allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.setTimeout(SNIFF_TIMEOUT_MS, () => socket.destroy());
    socket.once('data', (first: Buffer) => {
      socket.setTimeout(0);
      socket.pause();
      socket.unshift(first);
      if (first[0] === TLS_HANDSHAKE) {
        if (deps.tables().mtlsModes.every((m) => m === 'DISABLE')) {
          // Istio's DISABLE has no TLS filter chain: the client's handshake fails (a connect
          // failure, UF, retried under connect-failure), never a connection that opens and resets.
          deps.stats.inc('inbound.cx_tls_refused');
          socket.destroy();
          return;
        }
        secure.emit('connection', socket);
        return;
      }
      if (!admitted(PLAINTEXT)) {
        // Istio's STRICT: a plaintext client gets its connection reset, no HTTP answer.
        deps.stats.inc('inbound.cx_plaintext_refused');
        socket.destroy();
        return;
      }
      const tcpPort = deps.onTunnel ? plaintextTcpPort(deps.tables()) : undefined;
      if (!tcpPort) return servePlaintextHttp(socket, first);
      // The workload serves a TCP port: a client that does not speak HTTP is one of its clients.
      sniffThen(socket, first, (kind) => {
        if (kind === 'http') return servePlaintextHttp(socket, first);
        deps.stats.inc('inbound.cx_plaintext_tcp');
        deps.onTunnel!({ headers: {}, stream: socket, source: peerSource(socket), port: tcpPort, ends: {} });
      });
    });
  });

  function servePlaintextHttp(socket: net.Socket, first: Buffer): void {
    deps.stats.inc('inbound.cx_plaintext');
    if (first.subarray(0, 4).toString('latin1') === 'PRI ') {
      // HTTP/2 takes the bytes put back from the socket's buffer itself.
      (socket as unknown as Record<symbol, PeerIdentity>)[PEER] = PLAINTEXT;
      plainH2.emit('connection', socket);
      return;
    }
    trackHttp1(socket);
    plain.emit('connection', socket);
    socket.resume();
  }

  // Node starts its headers/request deadline checks on 'listening'; `plain` and
  // `secure` never listen (the sniffer above hands them connections), so without
  // this no deadline was ever enforced on the inbound listener.
  server.on('listening', () => { plain.emit('listening'); secure.emit('listening'); });

  function trackHttp1(socket: net.Socket): void {
    http1.set(socket, { inflight: 0, closeWhenIdle: false });
    socket.once('close', () => http1.delete(socket));
  }


  return {
    server,
    enforce() {
      for (const [socket, conn] of http1) {
        if (admitted((socket as unknown as Record<symbol, PeerIdentity>)[PEER] ?? PLAINTEXT)) continue;
        deps.stats.inc('inbound.cx_closed_by_policy');
        if (conn.inflight === 0) socket.destroy();
        else conn.closeWhenIdle = true;
      }
      for (const session of sessions) {
        const peer = (session.socket as unknown as Record<symbol, PeerIdentity> | undefined)?.[PEER];
        if (peer && !admitted(peer)) {
          deps.stats.inc('inbound.cx_closed_by_policy');
          // The caller counts the GOAWAY as upstream_cx_close_notify when it reads it.
          deps.stats.inc('inbound.cx_goaway_by_policy');
          session.close();
        }
      }
    },
    setCertificates(c) {
      // New handshakes use the new identity and trust bundle; established connections keep theirs.
      secure.setSecureContext({ key: c.keyPem, cert: c.certPem, ca: c.caPem });
    },
    closeIdle() {
      plain.closeIdleConnections();
      // GOAWAY: the peer opens a new session for new requests; streams in flight complete.
      for (const s of sessions) s.close();
      for (const s of sockets) if (!s.readableFlowing && s.bytesRead === 0) s.destroy();
    },
    destroyAll() {
      for (const s of sockets) s.destroy();
      // Stops the deadline checkers started on 'listening' (they never listened themselves).
      plain.close();
      plainH2.close();
      secure.close();
    },
  };
}

/** The one TCP or TLS port of the workload a plaintext client can mean; none when it has none or several. */
export function plaintextTcpPort(t: MeshTables): InboundPort | undefined {
  if (!t.inbound) return undefined;
  const ports = [...t.inbound.byDestination.values()].filter((p) => p.service && protocolClass(protocolOf(p)) !== 'http');
  const distinct = [...new Map(ports.map((p) => [p.localPort, p])).values()];
  return distinct.length === 1 ? distinct[0] : undefined;
}

function protocolOf(p: InboundPort) {
  return (p.service?.ports ?? []).find((x) => x.port === p.servicePort)?.protocol ?? p.service?.protocol ?? 'http';
}

/** Reads until the client's first line tells HTTP from TCP, then pushes it all back. */
function sniffThen(socket: net.Socket, first: Buffer, done: (kind: 'http' | 'tcp') => void): void {
  let buf = first;
  let kind = sniffPlaintext(buf);
  if (kind !== 'more') return done(kind);
  // The first chunk was pushed back; read it again with what follows.
  socket.read(buf.length);
  const timer = setTimeout(() => finish('tcp'), SNIFF_TIMEOUT_MS);
  const onData = (c: Buffer) => {
    buf = Buffer.concat([buf, c]);
    kind = sniffPlaintext(buf);
    if (kind !== 'more') finish(kind);
  };
  const finish = (k: 'http' | 'tcp') => {
    clearTimeout(timer);
    socket.off('data', onData);
    socket.pause();
    socket.unshift(buf);
    done(k);
  };
  socket.on('data', onData);
  socket.resume();
}

/** Answers an HTTP/1.1 CONNECT on its socket. */
function http1Ends(socket: net.Socket): InboundTunnel['ends'] {
  // Answered once: a chain that must read the client's first bytes (the egress gateway's SNI) accepts before relaying.
  let answered = false;
  return {
    accept: () => {
      if (answered) return;
      answered = true;
      socket.write('HTTP/1.1 200 OK\r\n\r\n');
    },
    refuse: (err) => {
      if (answered) return void socket.destroy();
      answered = true;
      const status = err.status ?? 503;
      socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n${PROXY_ERROR_HEADER}: ${err.reason}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`);
    },
  };
}

/** Answers an HTTP/2 CONNECT stream. */
function h2Ends(stream: http2.ServerHttp2Stream): InboundTunnel['ends'] {
  return {
    accept: () => { if (!stream.headersSent && !stream.destroyed) stream.respond({ ':status': 200 }); },
    refuse: (err) => {
      if (stream.headersSent || stream.destroyed) return;
      stream.respond({ ':status': err.status ?? 503, [PROXY_ERROR_HEADER]: err.reason }, { endStream: true });
    },
  };
}
