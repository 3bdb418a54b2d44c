/**
 * Trace: makes this hop a span. Reads the caller's context in the mesh's
 * trace format (B3 or W3C, the defaults' `tracePropagation`: what the tracer
 * of an Istio sidecar speaks), keeps its sampling decision or makes one
 * (the Telemetry's randomSamplingPercentage, else the Mesh's `sampling`
 * percent), and writes this span as the parent of the next hop in
 * that format. The span itself
 * is finished when the exchange ends (telemetry.ts), so it covers the whole
 * response, retries and faults included.
 */
import type { Filter } from '../context';
import { chance } from '../../random';
import type { TelemetrySide } from '../../policy/telemetry';
import { newSpanId, newTraceId, readTraceContext, writeTraceContext } from '../tracing/propagation';

export interface TraceSettings {
  /** Percentage of new traces recorded, 0-100 (the Mesh's); a caller's decision wins. */
  sampling: number;
  random: () => number;
  /** Which side of the proxy: the client span (outbound, the ingress; the default) or the server span (inbound); Telemetry `match.mode` picks by it. */
  side?: TelemetrySide;
}

/** Pure: whether to record a trace that starts here. */
export function sampleNew(percent: number, random: () => number): boolean {
  return chance(percent, random);
}

export const trace = (s: TraceSettings): Filter => (next) => (ctx) => {
  // The snapshot's defaults, like every other default (spec.telemetry itself changes on the next `devmesh up`).
  const format = ctx.tables.defaults.tracePropagation;
  const incoming = readTraceContext(ctx.headers, format);
  // The Telemetry in force (resolved per snapshot): its randomSamplingPercentage over the Mesh's, and whether spans are reported at all.
  const tracing = ctx.tables.telemetry.tracing[s.side ?? 'client'];
  const sampled = incoming?.sampled ?? sampleNew(tracing.sampling ?? s.sampling, s.random);
  const traceId = incoming?.traceId ?? newTraceId();
  const parentSpanId = incoming?.traceId ? incoming.spanId : undefined;
  const spanId = newSpanId();
  writeTraceContext(ctx.headers, { traceId, spanId, parentSpanId, sampled }, format);
  // Start = when the request arrived, on the same clock as the exchange's duration.
  // disableSpanReporting: the context above still goes on, sampled as it was; this hop reports no span.
  if (sampled && !tracing.disabled) (ctx.observed ??= {}).span = { traceId, spanId, parentSpanId, start: performance.timeOrigin + ctx.startedAt };
  next(ctx);
};
