/**
 * The control plane's side of telemetry: takes the sidecars' batches and
 * hands each part to its store (traces, access logs, live edges) and to the
 * OTLP exporter, and publishes edge updates on the event stream at most
 * every `publishMs`.
 */
import { expandSpan, isTelemetryBatch, logOfSpan, resolveRecords, resolveStrings, RowSpan } from '../../telemetry-protocol';
import type { SpanRecord } from '../api/contract';
import type { EventLog } from '../events';
import type { TopologyEdges } from '../api/contract';
import { EdgeWindow } from './edges';
import { LogStore } from './logStore';
import { OtlpExporter } from './otlp';
import { TraceStore } from './traceStore';
import { RuleWindow } from './ruleWindow';

export interface TelemetryHubOptions {
  events: EventLog;
  /** Finishes the edge view (service names, faults, ejections) — the runtime knows those. */
  edgesView: () => TopologyEdges;
  maxTraces?: number;
  maxLogs?: number;
  windowMs?: number;
  publishMs?: number;
  otlp?: { endpoint: string; encoding?: 'protobuf' | 'json' };
  onError?: (message: string) => void;
}

export class TelemetryHub {
  readonly traces: TraceStore;
  readonly logs: LogStore;
  readonly edges: EdgeWindow;
  /** Per-rule counters (code lenses, the topology's edges). */
  readonly rules = new RuleWindow();
  readonly otlp?: OtlpExporter;
  batches = 0;
  private readonly timer: NodeJS.Timeout;
  private publishedAt = -1;
  private lastPublishTime = 0;
  private wasEmpty = true;

  constructor(private readonly o: TelemetryHubOptions) {
    this.traces = new TraceStore(o.maxTraces ?? 1000);
    this.logs = new LogStore(o.maxLogs ?? 2000);
    this.edges = new EdgeWindow(o.windowMs ?? 30_000);
    if (o.otlp) this.otlp = new OtlpExporter({ endpoint: o.otlp.endpoint, encoding: o.otlp.encoding, onError: o.onError });
    this.timer = setInterval(() => this.publish(), o.publishMs ?? 500);
    this.timer.unref();
  }

  /** One `telemetry` message from a sidecar; anything that is not a batch is ignored. */
  ingest(raw: unknown): void {
    if (!isTelemetryBatch(raw)) return;
    this.batches++;
    const now = Date.now();
    // The compact rows are kept as they came (the stores make the records a reader asks for: RowSpan, LogStore);
    // only their strings and decision records are put back, once per batch.
    resolveStrings(raw);
    resolveRecords(raw);
    const commons = raw.spanCommons ?? [];
    const exported: SpanRecord[] | undefined = this.otlp ? raw.spans.slice() : undefined;
    for (const s of raw.spans) this.traces.add(s);
    for (const r of raw.spanRows ?? []) {
      const c = commons[r[0]];
      if (!c) continue;
      const log = logOfSpan(r, raw.logRows);
      this.traces.add(new RowSpan(c, r, log));
      exported?.push(expandSpan(c, r, log));
    }
    for (const e of raw.edges) this.edges.add(e, now);
    for (const r of raw.rules ?? []) this.rules.add(raw.from, r, now);
    this.logs.add(raw.logs, raw.droppedLogs);
    if (raw.logRows) this.logs.addRows(raw.logRows);
    if (exported?.length) this.otlp!.add(exported);
  }

  /**
   * Sends `topology.updated` when samples arrived since the last one; while
   * the window still holds traffic, also every few seconds (rates decay);
   * once more when it empties.
   */
  private publish(): void {
    const now = Date.now();
    const changed = this.edges.changes !== this.publishedAt;
    const stale = !this.edges.empty && now - this.lastPublishTime >= 2_000;
    const emptied = this.edges.empty && !this.wasEmpty;
    if (!changed && !stale && !emptied) return;
    this.publishedAt = this.edges.changes;
    this.lastPublishTime = now;
    const view = this.o.edgesView();
    this.wasEmpty = view.edges.length === 0;
    this.o.events.broadcast({ type: 'topology.updated', message: `${view.edges.length} live edges`, data: view as unknown as Record<string, unknown> });
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.otlp?.close();
  }
}
