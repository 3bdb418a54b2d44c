/**
 * Metrics: notes the size of the response body as it goes downstream, the
 * one figure the exchange does not carry. The counters and histograms
 * themselves are recorded once when the exchange ends (telemetry.ts), where
 * aborts and proxy failures are seen too.
 */
import { Readable } from 'node:stream';
import type { Filter } from '../context';

export const metrics = (): Filter => (next) => (ctx) => {
  const respond = ctx.respond;
  ctx.respond = (status, headers, body) => {
    const obs = (ctx.observed ??= {});
    if (body === null) obs.responseBytes = 0;
    else if (typeof body === 'string') obs.responseBytes = Buffer.byteLength(body);
    else {
      const declared = Number(headers['content-length']);
      if (Number.isFinite(declared) && declared >= 0) obs.responseBytes = declared;
      else if (body instanceof Readable) {
        // Same tick as the pipe that follows in respond(): no chunk is missed.
        obs.responseBytes = 0;
        body.on('data', (c: Buffer) => { obs.responseBytes! += c.length; });
      }
    }
    respond(status, headers, body);
  };
  next(ctx);
};
