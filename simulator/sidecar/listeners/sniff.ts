/**
 * Telling what a connection speaks from its first bytes, for ports that take
 * more than one protocol (an HTTP/2 entry that refuses HTTP/1.x clearly, a
 * Gateway listener that serves both).
 */
import type { Duplex } from 'node:stream';

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
