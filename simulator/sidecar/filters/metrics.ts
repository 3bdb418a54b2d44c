/**
 * Metrics: notes the size of the response body as it goes downstream, the
 * one figure the exchange does not carry, and on a gRPC call the messages
 * each way (what Istio's istio_request_messages_total and
 * istio_response_messages_total count, streams included). The counters and histograms
 * themselves are recorded once when the exchange ends (telemetry.ts), where
 * aborts and proxy failures are seen too.
 */
import { Readable } from 'node:stream';
import type { Filter } from '../context';
import { GrpcFrameCounter } from '../grpc/frames';
import { isGrpc } from '../grpc/status';

export const metrics = (): Filter => (next) => (ctx) => {
  const respond = ctx.respond;
  const grpc = isGrpc(ctx.downstream.headers);
  if (grpc) {
    // Count the call's messages as the body streams past. pause(): the listener must not start the flow;
    // whoever reads the body (the upstream pipe, the retry buffer) resumes it, and the count sees what they see.
    const requestMessages = new GrpcFrameCounter();
    (ctx.observed ??= {}).requestMessages = requestMessages;
    const body = ctx.downstream.body;
    body.on('data', (c: Buffer) => requestMessages.push(c));
    body.pause();
  }
  ctx.respond = (status, headers, body) => {
    const obs = (ctx.observed ??= {});
    const messages = grpc && body instanceof Readable ? (obs.responseMessages = new GrpcFrameCounter()) : undefined;
    if (body === null) obs.responseBytes = 0;
    else if (typeof body === 'string') obs.responseBytes = Buffer.byteLength(body);
    else {
      const declared = Number(headers['content-length']);
      if (Number.isFinite(declared) && declared >= 0) {
        obs.responseBytes = declared;
        if (messages) body.on('data', (c: Buffer) => messages.push(c));
      } else if (body instanceof Readable) {
        // Same tick as the relay that follows in respond(): no chunk is missed. One listener counts bytes and messages.
        obs.responseBytes = 0;
        body.on('data', (c: Buffer) => {
          obs.responseBytes! += c.length;
          messages?.push(c);
        });
      }
    }
    respond(status, headers, body);
  };
  next(ctx);
};
