/**
 * Keeps a topology up to date from a running mesh: refetches on every event
 * of the stream (a restart, a config change) and on a short timer (rates move
 * without events). Answers the page's requests (details, faults). Shared by
 * the extension host and the browser dashboard, so both behave the same.
 */
import { ApiError, unlessNotFound, type ControlClient } from '../simulator/control/api/client';
import type { MeshEvent, Topology } from '../simulator/control/api/contract';
import { clearFaults, injectFault } from './fault-actions';
import { noticeOf, type Details, type HostMessage, type MeshState, type PageMessage, type Selection } from './protocol';

export interface LiveOptions {
  pollMs?: number;
  onEvent?: (e: MeshEvent) => void;
}

export class LiveTopology {
  latest: Topology | undefined;
  state: MeshState = 'starting';
  private abort: AbortController | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  private inFlight: Promise<void> | undefined;
  private again = false;
  private readonly sinks = new Set<(m: HostMessage) => void>();

  constructor(readonly client: ControlClient, sink?: (m: HostMessage) => void, private readonly opts: LiveOptions = {}) {
    if (sink) this.sinks.add(sink);
  }

  subscribe(fn: (m: HostMessage) => void): () => void {
    this.sinks.add(fn);
    return () => this.sinks.delete(fn);
  }

  private emit(m: HostMessage): void {
    for (const s of this.sinks) s(m);
  }

  get running(): boolean { return this.abort !== undefined; }

  start(): void {
    if (this.abort) return;
    const abort = (this.abort = new AbortController());
    void this.client.streamEvents((e) => this.onEvent(e), abort.signal, (up) => { if (!up) void this.refresh(); });
    // Health and restarts change without edge traffic: a slow poll keeps them current.
    this.timer = setInterval(() => void this.refresh(), this.opts.pollMs ?? 5_000);
    void this.refresh();
  }

  stop(): void {
    this.abort?.abort();
    this.abort = undefined;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * `topology.updated` carries the new edges (a few times a second at most):
   * merged in place, no refetch. Anything else (a restart, a config change)
   * refetches the whole topology.
   */
  private onEvent(e: MeshEvent): void {
    this.opts.onEvent?.(e);
    // A crash, a restart, a refused edit: said on the page as it happens, not only drawn.
    const notice = noticeOf(e);
    if (notice) this.emit({ type: 'notice', notice });
    const edges = e.type === 'topology.updated' ? (e.data as { edges?: unknown } | undefined) : undefined;
    if (edges && Array.isArray(edges.edges) && this.latest) {
      this.latest = { ...this.latest, ...(edges as Partial<Topology>) };
      this.emit({ type: 'topology', topology: this.latest, at: Date.now() });
      return;
    }
    void this.refresh();
  }

  /** One fetch at a time; a request during a fetch schedules exactly one more. */
  refresh(): Promise<void> {
    if (this.inFlight) { this.again = true; return this.inFlight; }
    this.inFlight = (async () => {
      try {
        const t = await this.client.topology();
        this.latest = t;
        this.setState(t.ready === false ? 'starting' : 'running');
        this.emit({ type: 'topology', topology: t, at: Date.now() });
      } catch (e) {
        this.setState('unreachable', e instanceof Error ? e.message : String(e));
      } finally {
        this.inFlight = undefined;
        if (this.again) { this.again = false; void this.refresh(); }
      }
    })();
    return this.inFlight;
  }

  private setState(state: MeshState, message?: string): void {
    if (state === this.state && !message) return;
    this.state = state;
    this.emit({ type: 'state', state, message });
  }

  /** Handles one page message; `openTrace` and `openRule` are the host's business and ignored here. */
  async handle(msg: PageMessage): Promise<void> {
    switch (msg.type) {
      case 'ready':
        if (!this.running) this.start();
        else if (this.latest) this.emit({ type: 'topology', topology: this.latest, at: Date.now() });
        this.emit({ type: 'state', state: this.state });
        return;
      case 'select':
        if (msg.selection) this.emit({ type: 'details', details: await this.details(msg.selection) });
        return;
      case 'injectFault': {
        const r = await injectFault(this.client, msg.target, msg.fault);
        this.emit({ type: 'result', requestId: msg.requestId, ok: r.ok, message: r.message });
        if (r.ok) void this.refresh();
        return;
      }
      case 'clearFaults': {
        const r = await clearFaults(this.client, msg.target);
        this.emit({ type: 'result', requestId: msg.requestId, ok: r.ok, message: r.message });
        if (r.ok) void this.refresh();
        return;
      }
      case 'openTrace':
      case 'openRule':
        return;
    }
  }

  /**
   * Recent requests (the access log: a node's inbound requests, an edge's
   * outbound calls from its caller to its callee) and the slowest recent
   * traces through the callee's service, with their spans for a waterfall.
   */
  async details(selection: Selection): Promise<Details> {
    const d: Details = { selection, notes: [] };
    const [source, target] = selection.kind === 'edge' ? selection.id.split('->') : [undefined, selection.id];
    const service = this.latest?.workloads.find((w) => w.name === target)?.service;
    try {
      const logWorkload = source ?? target;
      const logs = await unlessNotFound(this.client.logs({ workload: logWorkload, limit: 200 }));
      if (logs === undefined) d.notes!.push('Recent requests: this mesh serves no access log (/api/logs).');
      else {
        const entries = logs.entries
          .filter((l) => (source ? l.listener !== 'inbound' && l.peer_workload === target : l.listener === 'inbound' || l.listener === 'ingress'));
        d.requests = entries.slice(-20).reverse().map((l) => ({
          time: Date.parse(l.start_time), method: l.method, path: l.path, status: l.response_code, durationMs: l.duration,
          // A TCP connection's trace_id is its connection id (devmesh explain --trace), not a trace to open.
          traceId: l.trace_id && l.trace_id !== '-' && l.protocol !== '-' ? l.trace_id : undefined, flags: l.response_flags,
        }));
        d.codes = {};
        for (const l of entries) d.codes[String(l.response_code)] = (d.codes[String(l.response_code)] ?? 0) + 1;
      }
      if (source && target) {
        const rules = await unlessNotFound(this.client.rules({ edge: { source, destination: target } }));
        if (rules === undefined) d.notes!.push('Rules: this mesh serves no per-rule counters (/api/rules).');
        else d.rules = rules.rules.map((r) => ({ rule: r.rule, requests: r.edges.reduce((a, e) => a + e.requests, 0), errorRate: r.errorRate }));
      }
      if (service) {
        const list = await unlessNotFound(this.client.traces({ service, limit: 50 }));
        if (list === undefined) d.notes!.push('Traces: this mesh serves no traces (/api/traces).');
        else {
          const slowest = list.traces.sort((a, b) => b.durationMs - a.durationMs).slice(0, 3);
          d.traces = [];
          for (const t of slowest) {
            const full = await unlessNotFound(this.client.trace(t.traceId));
            const spans = full?.spans ?? [];
            const start = Math.min(t.start, ...spans.map((s) => s.start));
            d.traces.push({
              traceId: t.traceId, durationMs: t.durationMs,
              spans: spans.map((s) => ({ name: `${s.kind ?? ''} ${s.name}`.trim(), workload: s.workload, startMs: s.start - start, durationMs: s.durationMs, status: s.error ? 500 : 200 })),
            });
          }
        }
      }
    } catch (e) {
      d.notes!.push(e instanceof ApiError ? e.message : String(e));
    }
    if (!d.notes!.length) delete d.notes;
    return d;
  }
}

