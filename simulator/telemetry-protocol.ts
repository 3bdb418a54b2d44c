/**
 * The telemetry half of the sidecar <-> control contract: what a sidecar
 * sends in its `telemetry` message (protocol.ts), batched every few hundred
 * milliseconds rather than per request. Plain JSON, like the rest of the
 * protocol, so it crosses the IPC channel unchanged.
 */
import type { AccessLogEntry } from './sidecar/accessLog';

export type SpanKind = 'client' | 'server';

/** One finished span of one hop, as a sidecar recorded it. */
export interface SpanRecord {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  /** `host:port/path`, Envoy's operation name. */
  name: string;
  /** client: the caller's sidecar (and the ingress edge); server: the callee's. */
  kind: SpanKind;
  /** Which listener recorded it. */
  role: 'ingress' | 'outbound' | 'inbound';
  /** Epoch milliseconds (fractional). */
  start: number;
  durationMs: number;
  /** 5xx, reset, or no response. */
  error: boolean;
  /** The workload whose sidecar recorded the span (`istio-ingressgateway` at the edge). */
  workload: string;
  /** Canonical service of that workload (its `app` label or service name). */
  service: string;
  namespace: string;
  attributes: Record<string, string | number | boolean>;
}

/** Requests from one caller workload to one callee workload during one batch (reporter=source). */
export interface EdgeSample {
  source: string;
  /** Callee workload, or `unknown` when no workload was picked (no route, unknown host). */
  destination: string;
  /** Callee service name (short), or the authority when it names no mesh service. */
  service: string;
  requests: number;
  /** 5xx, resets and proxy failures. */
  errors: number;
  /** Requests sent over mTLS. */
  mtls: number;
  /** Latencies in ms; at most a bounded reservoir of them, `requests` is exact. */
  latenciesMs: number[];
}

export interface TelemetryBatch {
  /** The sidecar that sent it (workload name, or the ingress name). */
  from: string;
  spans: SpanRecord[];
  edges: EdgeSample[];
  /** The most recent access-log entries of this batch (bounded; `droppedLogs` counts the rest). */
  logs: AccessLogEntry[];
  droppedLogs: number;
}

export function isTelemetryBatch(v: unknown): v is TelemetryBatch {
  const b = v as TelemetryBatch;
  return !!b && typeof b.from === 'string' && Array.isArray(b.spans) && Array.isArray(b.edges) && Array.isArray(b.logs);
}
