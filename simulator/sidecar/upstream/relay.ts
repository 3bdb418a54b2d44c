/**
 * Copies an upstream response body to the downstream response: `data` ->
 * `write`, a full destination pauses the source until `drain`, and `end` ->
 * `end` unless `end` is false (an HTTP/2 upstream's close decides between a
 * clean end and a reset, downstream.ts). What `pipe()` does for one source and
 * one destination, without the bookkeeping it sets up on both for every
 * response (its unpipe, close, finish and error listeners): a source that
 * fails is the caller's to answer (it cuts the response short, as Envoy
 * resets the stream), and the downstream going away is handled once, by the
 * exchange's abort, which cancels the upstream request. `counted`: a body of
 * no declared length has its bytes added up there as they pass (what the
 * access log and istio_response_bytes report).
 *
 * To an HTTP/1.1 message, what arrives in one turn of the event loop leaves
 * in one socket write: the message is corked at the first chunk of a turn
 * and uncorked after the turn's I/O (setImmediate), so the HTTP/2 DATA frames
 * of one TLS read, and a chunked body's last chunk with the terminating
 * `0\r\n\r\n` that its end writes, go out together instead of a write each
 * (Node uncorks after every callback: each costs a loopback send and the
 * peer's wake-up in the writer's system call). The bytes are the same.
 */
import { OutgoingMessage } from 'node:http';
import type { Readable, Writable } from 'node:stream';

export function relay(body: Readable, res: Writable, end = true, counted?: { responseBytes?: number }): void {
  const resume = () => body.resume();
  const batch = res instanceof OutgoingMessage ? corkPerTurn(res) : undefined;
  body.on('data', (chunk: Buffer) => {
    if (counted) counted.responseBytes! += chunk.length;
    batch?.();
    if (!res.write(chunk) && !res.destroyed) {
      body.pause();
      res.once('drain', resume);
    }
  });
  if (end) body.once('end', () => res.end());
}

/** Corks `msg` until the event loop's check phase, once per turn; `end()` uncorks it fully before that if it comes first. */
function corkPerTurn(msg: OutgoingMessage): () => void {
  let corked = false;
  const uncork = () => {
    corked = false;
    msg.uncork();
  };
  return () => {
    if (corked) return;
    corked = true;
    msg.cork();
    setImmediate(uncork);
  };
}
