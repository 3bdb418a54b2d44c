/**
 * Metrics: on a gRPC call, counts the messages each way as the bodies stream
 * past (what Istio's istio_request_messages_total and
 * istio_response_messages_total count, streams included). The counters and
 * histograms themselves are recorded once when the exchange ends
 * (telemetry.ts), where aborts and proxy failures are seen too; the
 * response's size is noted where it is sent (downstream.ts), so a plain HTTP
 * request goes through this filter untouched: wrapping every request's
 * `respond` for that cost ~5 % of a sidecar's CPU per request
 * (BENCHMARKS.md, cpu9 branch).
 */
import { Readable } from 'node:stream';
import type { Filter } from '../context';
import { GrpcFrameCounter } from '../grpc/frames';
import { isGrpc } from '../grpc/status';

export const metrics = (): Filter => (next) => (ctx) => {
  if (!isGrpc(ctx.downstream.headers)) return next(ctx);
  // pause(): the listener must not start the flow; whoever reads the body (the upstream pipe,
  // the retry buffer) resumes it, and the count sees what they see.
  const requestMessages = new GrpcFrameCounter();
  (ctx.observed ??= {}).requestMessages = requestMessages;
  const body = ctx.downstream.body;
  body.on('data', (c: Buffer) => requestMessages.push(c));
  body.pause();
  const respond = ctx.respond;
  ctx.respond = (status, headers, answer) => {
    // Registered before respond() relays the body: no chunk is missed.
    if (answer instanceof Readable) {
      const messages = ((ctx.observed ??= {}).responseMessages = new GrpcFrameCounter());
      answer.on('data', (c: Buffer) => messages.push(c));
    }
    respond(status, headers, answer);
  };
  next(ctx);
};
