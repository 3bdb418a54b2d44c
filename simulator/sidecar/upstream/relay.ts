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
 */
import type { Readable, Writable } from 'node:stream';

export function relay(body: Readable, res: Writable, end = true, counted?: { responseBytes?: number }): void {
  const resume = () => body.resume();
  body.on('data', (chunk: Buffer) => {
    if (counted) counted.responseBytes! += chunk.length;
    if (!res.write(chunk) && !res.destroyed) {
      body.pause();
      res.once('drain', resume);
    }
  });
  if (end) body.once('end', () => res.end());
}
