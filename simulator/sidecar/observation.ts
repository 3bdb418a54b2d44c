/**
 * What the observability filters note on a request while it travels the
 * chain, read once when the exchange ends (sidecar telemetry): the open span
 * and the response size. Kept in one optional field of the request context.
 */
export interface OpenSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  /** Epoch ms when the span started. */
  start: number;
}

import type { GrpcFrameCounter } from './grpc/frames';

export interface HopObservation {
  /** Set by the trace filter when the request is sampled. */
  span?: OpenSpan;
  /** Set where the response is sent (downstream.ts): bytes of the response body sent downstream. */
  responseBytes?: number;
  /** Set by the metrics filter on gRPC calls: the messages each way (istio_request/response_messages_total). */
  requestMessages?: GrpcFrameCounter;
  responseMessages?: GrpcFrameCounter;
}
