/**
 * One Gateway API listener port at the ingress, speaking what an Envoy
 * gateway listener speaks (codec AUTO): HTTP/1.1 and HTTP/2 on the same
 * port. In plaintext the first bytes decide — the HTTP/2 preface (prior
 * knowledge, what a gRPC client's plaintext channel sends) goes to an h2c
 * server, anything else to HTTP/1.1; with TLS, ALPN decides (`h2` or
 * `http/1.1`), and the certificate is the one of the listener whose
 * hostname the client's SNI names (the most specific, tlsChains.ts
 * pickChain); a name no listener covers, and a client without SNI where no
 * listener is without a hostname, are closed, as Envoy finds no filter chain. Every request or stream runs the ingress chain with
 * the listener it came to, so the routes attached there (HTTPRoutes and
 * GRPCRoutes) decide.
 */
import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { headersLimits } from '../../http-limits';
import type { GatewayListenerRef } from '../context';
import { STREAM_WINDOW } from '../upstream/h2Pool';
import { requestEntry, WorkerSpread, type ListenerDeps } from './outbound';
import { onFirstBytes, peekClientHello, SNIFF_TIMEOUT_MS, startsHttp2 } from './sniff';
import { http1Requests, serveStreams } from './h2Streams';
import type { H2Request } from '../downstream';
import { ChainPicker, ChainRefusal, clientRefusal, secureOptions, type ListenerCertificateRef } from './tlsChains';

export type { ListenerCertificateRef } from './tlsChains';
export { clientRefusal } from './tlsChains';

export interface TlsListenerOptions {
  /** Whether the port asks for a client certificate: `required` refuses a client without one in the handshake. */
  clientCert?: 'required' | 'optional';
  /** Where refused clients are said. */
  log?: (message: string) => void;
  /**
   * An Istio server port that also has TLS servers (passthrough, or
   * terminated and routed by tcp[]): the server name of each ClientHello,
   * read before any handshake, picks the filter chain
   * (routing/mixedTlsPort.ts) — `terminate` here, another one hands the
   * untouched connection to `route` with the chain's kind, none closes it.
   */
  split?: { chain(sni: string | undefined): 'terminate' | 'passthrough' | 'tcp' | undefined; route(socket: net.Socket, chain: 'passthrough' | 'tcp'): void };
}

function describeListener(l: GatewayListenerRef): string {
  return l.istio ? `Istio Gateway server port ${l.port}` : `Gateway ${l.gateway} port ${l.port}`;
}

export interface GatewayServer {
  /** The socket server that listens (its `address()` is the local port). */
  readonly server: net.Server;
  /** The default certificate changed (a rotation, an edited Secret); SNI picks per handshake anyway. */
  refreshCertificate(): void;
  /** Stops accepting; idle HTTP/1.1 connections close, HTTP/2 ones get GOAWAY (streams in flight finish). */
  close(): void;
  /** Cuts every connection still open. */
  destroy(): void;
}

/** How long a closed listener's connections get to finish what they are doing. */
const DRAIN_MS = 5_000;

export function createGatewayServer(deps: ListenerDeps, listener: GatewayListenerRef, certificates?: () => ListenerCertificateRef[], tlsOptions: TlsListenerOptions = {}): GatewayServer {
  const serve = requestEntry(deps, listener);
  const workers = new WorkerSpread<object>();
  const sockets = new Set<Duplex>();
  const sessions = new Set<http2.Http2Session>();
  const track = (socket: Duplex) => { sockets.add(socket); socket.once('close', () => sockets.delete(socket)); };
  const onSession = (session: http2.Http2Session) => {
    sessions.add(session);
    workers.assign(session);
    session.once('close', () => sessions.delete(session));
  };
  // Each HTTP/2 stream is one request; its worker is its connection's.
  const onStream = (down: H2Request) => serve(down, workers.of(down.stream.session ?? {}));
  const onHttp1Request = (req: http.IncomingMessage, res: http.ServerResponse) => serve({ req, res }, workers.of(req.socket));
  const h2Settings = { settings: { initialWindowSize: STREAM_WINDOW }, maxSessionMemory: 64 };

  if (listener.scheme === 'https' && certificates) {
    const chains = new ChainPicker(certificates);
    const pick = (servername: string | undefined) => chains.pick(servername);
    const first = pick(undefined);
    // ALPN offers h2 and http/1.1; an HTTP/1.1 client gets Node's HTTP/1.1 server on the same socket.
    // A port whose servers all need a client certificate refuses a client without one in the handshake; a mixed port asks, and checks per server below.
    const server = http2.createSecureServer({
      ...h2Settings, allowHTTP1: true, ...(first ? secureOptions(first) : {}),
      requestCert: tlsOptions.clientCert !== undefined, rejectUnauthorized: tlsOptions.clientCert === 'required',
      SNICallback: chains.sniCallback,
    });
    server.on('secureConnection', (socket: tls.TLSSocket) => {
      track(socket);
      const refused = clientRefusal(chains.chosen(socket, () => pick(undefined)), socket);
      if (refused) {
        tlsOptions.log?.(`${describeListener(listener)}: ${refused}`);
        return void socket.destroy();
      }
      if (socket.alpnProtocol !== 'h2') workers.assign(socket);
    });
    server.on('tlsClientError', (err: Error & { code?: string }, socket: tls.TLSSocket) => {
      if (err instanceof ChainRefusal) return void tlsOptions.log?.(`${describeListener(listener)}: ${err.message}`);
      // No SNI, and no chain without server names: the default context has no certificate, as Envoy has no chain.
      if (!socket?.servername && !pick(undefined)) return void tlsOptions.log?.(`${describeListener(listener)}: no server of this port takes a ClientHello without a server name (every one names hosts); connection closed`);
      if (tlsOptions.clientCert === 'required' && /CERTIFICATE|certificate/.test(`${err.code} ${err.message}`)) tlsOptions.log?.(`${describeListener(listener)}: refused a client in the handshake: ${err.message}`);
    });
    server.on('session', onSession);
    http1Requests(server, onHttp1Request);
    serveStreams(server, onStream);
    const split = tlsOptions.split;
    // A mixed port listens raw and splits by server name; the TLS server then takes only the connections it terminates.
    // Half-open as Envoy's tcp_proxy is: a client that half-closes still hears what the chain it was handed to answers.
    const front = split ? net.createServer({ allowHalfOpen: true }, (socket) => {
      track(socket);
      socket.on('error', () => socket.destroy());
      peekClientHello(socket, SNIFF_TIMEOUT_MS, (sni) => {
        const chain = split.chain(sni);
        if (chain === 'passthrough' || chain === 'tcp') return split.route(socket, chain);
        if (chain === undefined) {
          tlsOptions.log?.(`${describeListener(listener)}: no server of this port takes the server name "${sni ?? '(none)'}"; connection closed`);
          return void socket.destroy();
        }
        // The TLS socket takes the ClientHello put back from the raw socket's buffer (no resume: that would hand it to no one).
        server.emit('connection', socket);
      });
    }) : undefined;
    return {
      server: front ?? server,
      refreshCertificate: () => { const c = pick(undefined); if (c) server.setSecureContext(secureOptions(c)); },
      // HTTP/1.1 over TLS has no idle tracking here: what is still open after the drain time is cut.
      close: () => { (front ?? server).close(); for (const s of sessions) s.close(); setTimeout(() => { for (const s of sockets) s.destroy(); }, DRAIN_MS).unref(); },
      destroy: () => { for (const s of sockets) s.destroy(); },
    };
  }

  const h1 = http.createServer({ keepAlive: true, keepAliveTimeout: 60_000, requestTimeout: 0, ...headersLimits() }, onHttp1Request);
  const h2c = http2.createServer(h2Settings);
  serveStreams(h2c, onStream);
  h2c.on('session', onSession);
  const server = net.createServer((socket) => {
    track(socket);
    socket.on('error', () => socket.destroy());
    onFirstBytes(socket, SNIFF_TIMEOUT_MS, (first) => {
      if (startsHttp2(first)) return void h2c.emit('connection', socket);
      workers.assign(socket);
      h1.emit('connection', socket);
      // HTTP/1.1 reads the bytes put back through 'data': let them flow (HTTP/2 reads them itself).
      socket.resume();
    });
  });
  return {
    server,
    refreshCertificate: () => undefined,
    close: () => { server.close(); h1.closeIdleConnections(); for (const s of sessions) s.close(); },
    destroy: () => { for (const s of sockets) s.destroy(); h1.closeAllConnections(); },
  };
}
