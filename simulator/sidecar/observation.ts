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

export interface HopObservation {
  /** Set by the trace filter when the request is sampled. */
  span?: OpenSpan;
  /** Set by the metrics filter: bytes of the response body sent downstream. */
  responseBytes?: number;
}
