/**
 * The start of a request body, read before the request goes on (ext_authz's
 * with_request_body buffers it for the check): up to `max` bytes, or all of
 * it when it ends first. The request keeps its whole body: `body` replays
 * what was read, then streams the rest.
 */
import { PassThrough, Readable } from 'node:stream';

export interface BodyHead {
  /** At most `max` bytes of the body. */
  head: Buffer;
  /** Whether `head` is the whole body. */
  complete: boolean;
  /** The body to send on in place of the one read. */
  body: Readable;
}

export function readBodyHead(src: Readable, max: number): Promise<BodyHead> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = () => {
      src.off('data', onData);
      src.off('end', onEnd);
      src.off('error', onGone);
      src.off('close', onGone);
      src.pause();
    };
    const onData = (c: Buffer) => {
      chunks.push(c);
      size += c.length;
      if (size <= max) return;
      stop();
      // More than fits: the check gets the first `max` bytes; the request, what was read and then the rest.
      const rest = new PassThrough();
      for (const chunk of chunks) rest.write(chunk);
      src.pipe(rest);
      resolve({ head: Buffer.concat(chunks).subarray(0, max), complete: false, body: rest });
    };
    const onEnd = () => {
      stop();
      const all = Buffer.concat(chunks);
      resolve({ head: all, complete: true, body: Readable.from([all], { objectMode: false }) });
    };
    const onGone = () => {
      stop();
      reject(new Error('the request body ended early'));
    };
    src.on('data', onData);
    src.once('end', onEnd);
    src.once('error', onGone);
    src.once('close', onGone);
  });
}
