/**
 * OTLP/HTTP export of finished spans to a collector (Jaeger, Tempo, an
 * OpenTelemetry collector): `--otlp-endpoint URL` or Mesh
 * `spec.telemetry.otlp.endpoint`. The wire format comes from the
 * OpenTelemetry JS packages (@opentelemetry/otlp-transformer), fed with
 * ReadableSpan-shaped views of devmesh's span records; devmesh only batches
 * and POSTs. Export never blocks the mesh: a full queue drops the oldest
 * spans and counts them, a failed POST is counted and reported once.
 */
import { SpanKind, SpanStatusCode, type HrTime } from '@opentelemetry/api';
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import type { SpanRecord } from '../api/contract';

export interface OtlpOptions {
  endpoint: string;
  /** `protobuf` (application/x-protobuf, the OTLP/HTTP default) or `json`. */
  encoding?: 'protobuf' | 'json';
  batchMs?: number;
  maxBatch?: number;
  maxQueue?: number;
  timeoutMs?: number;
  onError?: (message: string) => void;
}

/** A collector base URL gets the traces path, as OTEL_EXPORTER_OTLP_ENDPOINT does. */
export function tracesUrl(endpoint: string): string {
  const u = new URL(endpoint);
  if (u.pathname === '' || u.pathname === '/') u.pathname = '/v1/traces';
  return u.toString();
}

const hr = (ms: number): HrTime => {
  const s = Math.floor(ms / 1000);
  return [s, Math.round((ms - s * 1000) * 1e6)];
};

const SCOPE = { name: 'devmesh', version: String(require('../../../../package.json').version) };

/** devmesh's span record as the OpenTelemetry SDK's ReadableSpan, which the serializers take. */
export function toReadableSpan(s: SpanRecord, resource: Resource): ReadableSpan {
  const ctx = { traceId: s.traceId, spanId: s.spanId, traceFlags: 1 };
  return {
    name: s.name,
    kind: s.kind === 'server' ? SpanKind.SERVER : SpanKind.CLIENT,
    spanContext: () => ctx,
    parentSpanContext: s.parentSpanId ? { traceId: s.traceId, spanId: s.parentSpanId, traceFlags: 1, isRemote: true } : undefined,
    startTime: hr(s.start),
    endTime: hr(s.start + s.durationMs),
    duration: hr(s.durationMs),
    status: s.error ? { code: SpanStatusCode.ERROR, message: `HTTP ${s.attributes['http.response.status_code']}` } : { code: SpanStatusCode.UNSET },
    attributes: s.attributes,
    links: [],
    events: [],
    ended: true,
    resource,
    instrumentationScope: SCOPE,
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
  };
}

export class OtlpExporter {
  readonly url: string;
  sent = 0;
  failed = 0;
  dropped = 0;
  private queue: SpanRecord[] = [];
  private readonly resources = new Map<string, Resource>();
  private readonly timer: NodeJS.Timeout;
  private inflight: Promise<void> = Promise.resolve();
  private reported = false;
  private readonly o: Required<Omit<OtlpOptions, 'onError'>> & Pick<OtlpOptions, 'onError'>;

  constructor(opts: OtlpOptions) {
    this.o = { encoding: 'protobuf', batchMs: 1000, maxBatch: 512, maxQueue: 20_000, timeoutMs: 5_000, ...opts };
    this.url = tracesUrl(opts.endpoint);
    this.timer = setInterval(() => void this.flush(), this.o.batchMs);
    this.timer.unref();
  }

  add(spans: readonly SpanRecord[]): void {
    for (const s of spans) this.queue.push(s);
    const over = this.queue.length - this.o.maxQueue;
    if (over > 0) {
      this.queue.splice(0, over);
      this.dropped += over;
    }
    if (this.queue.length >= this.o.maxBatch) void this.flush();
  }

  /** One resource per workload, as one pod is one resource in Istio: service.name is `<service>.<namespace>`. */
  private resourceOf(s: SpanRecord): Resource {
    const key = `${s.workload}\0${s.service}\0${s.namespace}`;
    let r = this.resources.get(key);
    if (!r) {
      r = resourceFromAttributes({ 'service.name': `${s.service}.${s.namespace}`, 'service.namespace': s.namespace, 'service.instance.id': s.workload, 'k8s.deployment.name': s.workload, 'telemetry.sdk.name': 'devmesh' });
      this.resources.set(key, r);
    }
    return r;
  }

  encode(spans: readonly SpanRecord[]): Uint8Array {
    const readable = spans.map((s) => toReadableSpan(s, this.resourceOf(s)));
    const body = (this.o.encoding === 'json' ? JsonTraceSerializer : ProtobufTraceSerializer).serializeRequest(readable);
    if (!body) throw new Error('the OTLP serializer produced nothing');
    return body;
  }

  /** Sends everything queued, one POST per batch; resolves when they are done. */
  flush(): Promise<void> {
    this.inflight = this.inflight.then(async () => {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, this.o.maxBatch);
        try {
          const res = await fetch(this.url, {
            method: 'POST',
            headers: { 'content-type': this.o.encoding === 'json' ? 'application/json' : 'application/x-protobuf' },
            body: this.encode(batch),
            signal: AbortSignal.timeout(this.o.timeoutMs),
          });
          await res.arrayBuffer().catch(() => undefined);
          if (!res.ok) throw new Error(`collector answered ${res.status}`);
          this.sent += batch.length;
        } catch (err) {
          this.failed += batch.length;
          if (!this.reported) {
            this.reported = true;
            this.o.onError?.(`OTLP export to ${this.url} failed: ${(err as Error).message} (spans are dropped; further failures are counted, not printed)`);
          }
        }
      }
    });
    return this.inflight;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}
