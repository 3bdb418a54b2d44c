/**
 * Telling what a connection speaks from its first bytes: ports that take more
 * than one protocol (an HTTP/2 entry that refuses HTTP/1.x clearly, a Gateway
 * listener that serves both), and a plaintext client on the inbound listener
 * (HTTP or opaque TCP).
 */
import type { Duplex } from 'node:stream';
import { MAX_CLIENT_HELLO, readClientHello } from '../l4/clientHello';

/** A client that connects and says nothing is dropped after this long (every listener that reads a connection's first bytes to pick its handling). */
export const SNIFF_TIMEOUT_MS = 10_000;

/** What a client speaking HTTP/2 with prior knowledge sends first. */
const HTTP2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

/** Whether the first bytes of a connection are (the start of) the HTTP/2 preface. Pure. */
export function startsHttp2(first: Buffer): boolean {
  const n = Math.min(first.length, HTTP2_PREFACE.length);
  return first.subarray(0, n).equals(HTTP2_PREFACE.subarray(0, n));
}

/**
 * Calls `decide` with a connection's first bytes, put back on the socket
 * (paused) for whoever takes it next; a client that says nothing within
 * `timeoutMs` is dropped.
 */
export function onFirstBytes(socket: Duplex, timeoutMs: number, decide: (first: Buffer) => void): void {
  const timer = setTimeout(() => socket.destroy(), timeoutMs);
  timer.unref();
  socket.once('data', (first: Buffer) => {
    clearTimeout(timer);
    socket.pause();
    socket.unshift(first);
    decide(first);
  });
}

/** Bytes of a request line we wait for at most before calling it TCP. */
const MAX_REQUEST_LINE = 8 * 1024;

export type Sniffed = 'http' | 'tcp' | 'more';

/**
 * What a plaintext client on the inbound listener speaks, from its first
 * bytes, as Envoy's http_inspector tells HTTP from the rest: an HTTP/1.x
 * request line (`GET /x HTTP/1.1`, `CONNECT host:port HTTP/1.1`) or the
 * HTTP/2 preface is HTTP; anything else (a Redis client's `*1\r\n$4\r\nPING`)
 * is opaque TCP. Pure.
 */
export function sniffPlaintext(buf: Buffer): Sniffed {
  const text = buf.subarray(0, MAX_REQUEST_LINE).toString('latin1');
  const eol = text.indexOf('\n');
  if (eol >= 0) {
    const line = text.slice(0, eol).replace(/\r$/, '');
    return /^[A-Z][A-Z_-]* \S+ HTTP\/\d(\.\d)?$/.test(line) ? 'http' : 'tcp';
  }
  if (buf.length >= MAX_REQUEST_LINE) return 'tcp';
  // Still on the first line: more bytes can only make it HTTP if it can still become a request line.
  return /^[A-Z][A-Z_-]*( \S*( (H(T(T(P(\/\d?(\.\d?)?)?)?)?)?)?)?)?\r?$/.test(text) ? 'more' : 'tcp';
}

/**
 * Reads a connection's ClientHello without consuming it: `done` gets its
 * server name (none: no SNI, or not TLS) once the ClientHello is complete,
 * is not one, or is too large, with every byte put back (the socket paused).
 * Without one within `timeoutMs` the connection is closed, or with
 * `onTimeout: 'no-sni'` it goes on as one without a server name. Returns
 * what stops the timer (for a connection closed meanwhile).
 */
export function peekClientHello(socket: Duplex, timeoutMs: number, done: (sni: string | undefined) => void, onTimeout: 'close' | 'no-sni' = 'close'): () => void {
  const chunks: Buffer[] = [];
  let size = 0;
  let decided = false;
  const decide = (sni: string | undefined) => {
    if (decided) return;
    decided = true;
    clearTimeout(timer);
    socket.off('data', onData);
    socket.pause();
    if (chunks.length > 0) socket.unshift(Buffer.concat(chunks));
    done(sni);
  };
  const onData = (c: Buffer) => {
    chunks.push(c);
    size += c.length;
    const read = readClientHello(Buffer.concat(chunks));
    if (read.kind === 'more' && size < MAX_CLIENT_HELLO) return;
    decide(read.kind === 'hello' ? read.sni : undefined);
  };
  const timer = setTimeout(() => (onTimeout === 'no-sni' ? decide(undefined) : socket.destroy()), timeoutMs);
  timer.unref();
  socket.on('data', onData);
  // A socket accepted paused (pauseOnConnect, or a handler not yet reading) reads nothing until resumed.
  socket.resume();
  return () => clearTimeout(timer);
}
