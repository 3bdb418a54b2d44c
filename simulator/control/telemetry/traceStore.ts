/**
 * The control plane's bounded trace store: spans grouped by trace id, the
 * oldest trace forgotten first when `maxTraces` is reached. Spans of one
 * trace arrive from several sidecars in any order; parent links are kept as
 * the sidecars recorded them.
 */
import type { SpanRecord, Trace, TraceSummary } from '../api/contract';
import { ruleKey } from '../../sidecar/decisions';
import { RowSpan } from '../../telemetry-protocol';

export interface TraceQuery {
  service?: string;
  /** Only traces a rule decided a hop of (`kind/namespace/name/index`). */
  rule?: string;
  minDurationMs?: number;
  errors?: boolean;
  limit?: number;
}

/**
 * A span as kept: its record, or a batch's row that becomes the record when
 * the trace is read (`RowSpan`: what the filters and summaries read is on it).
 */
type StoredSpan = SpanRecord | RowSpan;

interface Entry { spans: StoredSpan[]; start: number; end: number; errors: number }

export class TraceStore {
  private readonly traces = new Map<string, Entry>();
  droppedSpans = 0;

  constructor(readonly maxTraces = 1000, readonly maxSpansPerTrace = 1000) {}

  get size(): number { return this.traces.size; }

  add(span: StoredSpan): void {
    let e = this.traces.get(span.traceId);
    if (!e) {
      if (this.traces.size >= this.maxTraces) this.traces.delete(this.traces.keys().next().value!);
      this.traces.set(span.traceId, (e = { spans: [], start: span.start, end: span.start + span.durationMs, errors: 0 }));
    }
    if (e.spans.length >= this.maxSpansPerTrace) {
      this.droppedSpans++;
      return;
    }
    e.spans.push(span);
    e.start = Math.min(e.start, span.start);
    e.end = Math.max(e.end, span.start + span.durationMs);
    if (span.error) e.errors++;
  }

  /** Most recent first. */
  list(q: TraceQuery = {}): TraceSummary[] {
    const out: TraceSummary[] = [];
    const limit = q.limit ?? 50;
    const all = [...this.traces.entries()].sort((a, b) => b[1].start - a[1].start);
    for (const [traceId, e] of all) {
      if (out.length >= limit) break;
      if (q.errors && e.errors === 0) continue;
      if (q.minDurationMs !== undefined && e.end - e.start < q.minDurationMs) continue;
      if (q.service && !e.spans.some((s) => s.service === q.service || s.workload === q.service)) continue;
      if (q.rule && !e.spans.some((s) => decidedBy(s, q.rule!))) continue;
      out.push(summarize(traceId, e));
    }
    return out;
  }

  get(traceId: string): Trace | undefined {
    const e = this.traces.get(traceId.toLowerCase());
    if (!e) return undefined;
    // Each row becomes its record once, at its first read.
    for (let i = 0; i < e.spans.length; i++) {
      const s = e.spans[i];
      if (s instanceof RowSpan) e.spans[i] = s.record();
    }
    return { traceId, summary: summarize(traceId, e), spans: ([...e.spans] as SpanRecord[]).sort((a, b) => a.start - b.start || (a.kind === 'client' ? -1 : 1)) };
  }
}

/** Whether a span's decision records name a rule. */
function decidedBy(s: StoredSpan, rule: string): boolean {
  return !!s.decisions?.some((d) => (d.step === 'route' || d.step === 'authz') && d.rule && ruleKey(d.rule) === rule);
}

export function rootOf<S extends Pick<SpanRecord, 'spanId' | 'parentSpanId' | 'start'>>(spans: readonly S[]): S {
  const ids = new Set(spans.map((s) => s.spanId));
  const roots = spans.filter((s) => !s.parentSpanId || !ids.has(s.parentSpanId));
  return (roots.length ? roots : spans).reduce((a, b) => (b.start < a.start ? b : a));
}

function summarize(traceId: string, e: Entry): TraceSummary {
  const root = rootOf(e.spans);
  return {
    traceId,
    root: { name: root.name, service: root.service, workload: root.workload },
    start: e.start,
    durationMs: Math.round((e.end - e.start) * 100) / 100,
    spans: e.spans.length,
    errors: e.errors,
    services: [...new Set(e.spans.map((s) => s.service))],
  };
}
