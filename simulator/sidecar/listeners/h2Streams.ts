/**
 * The sidecar's HTTP/2 servers take requests as Node's core streams (the
 * `'stream'` event: a ServerHttp2Stream and its headers), never through
 * Node's HTTP/2 compatibility layer (`'request'` with an Http2ServerRequest
 * and an Http2ServerResponse per stream: two more stream objects, their
 * listeners and socket proxies on every call, measured at ~11 µs a stream
 * end). What that layer did before handing a stream on is done here, the
 * same way: a CONNECT stream goes to the server's CONNECT handler or is
 * answered 405; `expect: 100-continue` gets its 100 first, any other
 * expectation a 417; a stream's errors are its close's to report.
 *
 * A secure server with `allowHTTP1` still serves its HTTP/1.1 connections
 * through `'request'` (`http1Requests`); Node wires its compatibility layer
 * for every HTTP/2 stream on the first `'request'` listener a server gets,
 * so that wiring is taken off first.
 */
import * as http2 from 'node:http2';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { H2Request } from '../downstream';

const ignore = () => undefined;

/**
 * Our answer has ended: what is left of the request body is read and
 * dropped, as the compatibility layer's request read it. A stream closes
 * only once both sides have ended, and a body a filter paused and nobody
 * read after the answer (a local reply, a fault before the upstream) would
 * keep it open, the exchange unfinished, for as long as the connection.
 */
function dropUnread(this: http2.ServerHttp2Stream): void {
  if (!this.readableEnded) this.resume();
}

export function serveStreams(server: http2.Http2Server | http2.Http2SecureServer, onRequest: (req: H2Request) => void, onConnect?: (req: H2Request) => void): void {
  server.on('stream', (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, _flags: number, rawHeaders?: string[]) => {
    // Errors end in the stream's close (an abort, a reset), which the exchange reads; unheard, one would crash the process.
    stream.on('error', ignore);
    if (headers[':method'] === 'CONNECT') {
      if (onConnect) onConnect({ stream, headers, rawHeaders });
      else stream.respond({ ':status': 405 }, { endStream: true });
      return;
    }
    const expect = headers.expect;
    if (expect !== undefined) {
      if (expect !== '100-continue') return void stream.respond({ ':status': 417 }, { endStream: true });
      stream.additionalHeaders({ ':status': 100 });
    }
    stream.on('finish', dropUnread);
    onRequest({ stream, headers, rawHeaders });
  });
}

/**
 * HTTP/1.1 requests on a secure server with `allowHTTP1` (ALPN `http/1.1`
 * or none): `'request'` carries them, and only them. Throws if Node wired
 * its compatibility layer anyway (a Node whose http2 does it otherwise):
 * every HTTP/2 stream would then be served twice.
 */
export function http1Requests(server: http2.Http2SecureServer, onRequest: (req: IncomingMessage, res: ServerResponse) => void): void {
  // Node's `setupCompat` listens for the first 'request' listener and then adds the compat 'stream' listener.
  for (const l of server.listeners('newListener')) if (l.name === 'setupCompat') server.off('newListener', l as (...a: unknown[]) => void);
  const streamListeners = server.listenerCount('stream');
  server.on('request', onRequest);
  if (server.listenerCount('stream') !== streamListeners) throw new Error('devmesh: Node wired its HTTP/2 compatibility layer on this server; HTTP/2 streams would be served twice');
}
