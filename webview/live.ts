/**
 * Keeps a topology up to date from a running mesh: refetches on every event
 * of the stream (a restart, a config change) and on a short timer (rates move
 * without events). Answers the page's requests (details, faults). Shared by
 * the extension host and the browser dashboard, so both behave the same.
 */
import { ApiError, type ControlClient, type MeshEventLike } from './api-client';
import type { Details, HostMessage, MeshState, PageMessage, Selection, TraceSummary, RequestSummary } from './protocol';
import type { Topology } from './topology';

export interface LiveOptions {
  pollMs?: number;
  onEvent?: (e: MeshEventLike) => void;
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
    void this.client.streamEvents((e) => { this.opts.onEvent?.(e); void this.refresh(); }, abort.signal, (up) => { if (!up) void this.refresh(); });
    this.timer = setInterval(() => void this.refresh(), this.opts.pollMs ?? 2_000);
    void this.refresh();
  }

  stop(): void {
    this.abort?.abort();
    this.abort = undefined;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
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

  /** Handles one page message; `openTrace` is the host's business and ignored here. */
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
        const r = await this.client.injectFault(msg.target, msg.fault);
        this.emit({ type: 'result', requestId: msg.requestId, ok: r.ok, message: r.message });
        if (r.ok) void this.refresh();
        return;
      }
      case 'clearFaults': {
        const r = await this.client.clearFaults(msg.target);
        this.emit({ type: 'result', requestId: msg.requestId, ok: r.ok, message: r.message });
        if (r.ok) void this.refresh();
        return;
      }
      case 'openTrace':
        return;
    }
  }

  /** Recent requests and slowest traces for a node or an edge, from whatever routes this mesh serves. */
  async details(selection: Selection): Promise<Details> {
    const d: Details = { selection, notes: [] };
    const [source, target] = selection.kind === 'edge' ? selection.id.split('->') : [undefined, selection.id];
    const q = new URLSearchParams({ workload: target ?? selection.id, ...(source ? { source } : {}), limit: '20' }).toString();
    try {
      const reqs = await this.client.optional(`/api/requests?${q}`);
      if (reqs === undefined) d.notes!.push('Recent requests: this mesh does not serve /api/requests yet.');
      else d.requests = (Array.isArray(reqs) ? reqs : (reqs as { requests?: unknown[] }).requests ?? []) as RequestSummary[];
      const traces = await this.client.optional(`/api/traces?${q}&sort=slowest`);
      if (traces === undefined) d.notes!.push('Traces: this mesh does not serve /api/traces yet.');
      else d.traces = (Array.isArray(traces) ? traces : (traces as { traces?: unknown[] }).traces ?? []) as TraceSummary[];
    } catch (e) {
      d.notes!.push(e instanceof ApiError ? e.message : String(e));
    }
    if (d.requests?.length) {
      d.codes = {};
      for (const r of d.requests) d.codes[String(r.status)] = (d.codes[String(r.status)] ?? 0) + 1;
    }
    return d;
  }
}
