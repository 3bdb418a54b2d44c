/**
 * The one client of the control API, over `fetch`: the CLI (`devmesh
 * traces`, `logs`, `fault`), the VS Code extension host and the dashboard
 * page (a browser) all call the mesh through it. Every request carries the
 * session token as a Bearer header; the event stream is read with fetch
 * because EventSource cannot carry it. Every answer is typed by contract.ts.
 * No Node or DOM imports beyond `fetch`, so it runs in both.
 */
import type {
  ApiErrorBody, ConfigView, FaultAdded, FaultList, FaultRequest, FaultsCleared, Health, LogPage, MeshEvent, RuleList, SidecarConfigDump, TelemetryStatus, Topology, Trace, TraceList,
} from './contract';
import { SseParser, type SseEvent } from './sse';
import type { MeshSnapshot } from '../../protocol';

/** An answer that is not a success: the HTTP status (0 when the API did not answer at all) and the API's error code. */
export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface TraceQuery {
  service?: string;
  /** Only traces a rule decided a hop of: its key, `VirtualService/default/reviews/1`. */
  rule?: string;
  errors?: boolean;
  minDurationMs?: number;
  limit?: number;
}
/** One rule by its key, or the rules that sent traffic over one caller->callee edge (workload names). */
export interface RuleQuery { rule?: string; edge?: { source: string; destination: string } }
export interface LogQuery { workload?: string; limit?: number; after?: number }

export class ControlClient {
  /**
   * `fetchImpl` is a wrapper, not `fetch` itself: a browser's fetch called as
   * a method of another object throws "Illegal invocation".
   */
  constructor(
    readonly apiUrl: string,
    private readonly token: string,
    private readonly fetchImpl: typeof fetch = (input, init) => fetch(input, init),
    private readonly timeoutMs = 5_000,
  ) {}

  health(): Promise<Health> {
    // 503 is an answer here: the mesh is starting or stopping.
    return this.json<Health>('/api/health', {}, { accept: [200, 503], timeoutMs: 2_000 });
  }

  async topology(): Promise<Topology> {
    const body = await this.json<unknown>('/api/topology');
    if (!isTopology(body)) throw new ApiError(500, 'bad-topology', 'GET /api/topology did not answer a topology');
    return body;
  }

  config(): Promise<ConfigView> { return this.json('/api/config'); }

  /** A recent config version's snapshot (404 once the control plane no longer keeps it). */
  configVersion(version: number): Promise<MeshSnapshot> { return this.json(`/api/config/${version}`); }

  traces(q: TraceQuery = {}): Promise<TraceList> {
    return this.json(`/api/traces${query({ service: q.service, rule: q.rule, errors: q.errors ? 'true' : undefined, minDuration: q.minDurationMs, limit: q.limit })}`);
  }

  trace(traceId: string): Promise<Trace> { return this.json(`/api/traces/${encodeURIComponent(traceId)}`); }

  logs(q: LogQuery = {}): Promise<LogPage> {
    return this.json(`/api/logs${query({ workload: q.workload, limit: q.limit, after: q.after })}`);
  }

  /** Per-rule counters: requests per minute, error share, p99 and the last hit of each route and authorization rule. */
  rules(q: RuleQuery = {}): Promise<RuleList> {
    return this.json(`/api/rules${query({ rule: q.rule, edge: q.edge && `${q.edge.source}>${q.edge.destination}` })}`);
  }

  telemetry(): Promise<TelemetryStatus> { return this.json('/api/telemetry'); }

  /** One sidecar's own config dump, from its admin port through the control API (`devmesh proxy-config`). */
  sidecarConfigDump(workload: string): Promise<SidecarConfigDump> {
    return this.json(`/api/sidecars/${encodeURIComponent(workload)}/config_dump`);
  }

  faults(): Promise<FaultList> { return this.json('/api/faults'); }

  addFault(req: FaultRequest): Promise<FaultAdded> {
    return this.json('/api/faults', { method: 'POST', body: JSON.stringify(req), headers: { 'content-type': 'application/json' } });
  }

  /** Clears one fault by id, or all of them. */
  clearFaults(id?: string): Promise<FaultsCleared> {
    return this.json(id === undefined ? '/api/faults' : `/api/faults/${encodeURIComponent(id)}`, { method: 'DELETE' });
  }

  /**
   * Streams `/api/events` until `signal` aborts, reconnecting with
   * `Last-Event-ID` after the server's retry delay. Resolves when aborted.
   */
  async streamEvents(onEvent: (e: MeshEvent, raw: SseEvent) => void, signal: AbortSignal, onConnection?: (up: boolean) => void): Promise<void> {
    let lastId: string | undefined;
    let retryMs = 1_000;
    while (!signal.aborted) {
      const parser = new SseParser();
      try {
        const res = await this.fetchImpl(this.apiUrl + '/api/events', {
          headers: this.headers({ accept: 'text/event-stream', ...(lastId ? { 'last-event-id': lastId } : {}) }), signal,
        });
        if (!res.ok || !res.body) throw new ApiError(res.status, `http-${res.status}`, `events answered ${res.status}`);
        onConnection?.(true);
        const reader = res.body.getReader();
        const decoder = new TextDecoder();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          for (const ev of parser.push(decoder.decode(value, { stream: true }))) {
            try { onEvent(JSON.parse(ev.data) as MeshEvent, ev); } catch { /* a malformed event is skipped, not fatal */ }
          }
          lastId = parser.lastEventId ?? lastId;
          retryMs = parser.retryMs ?? retryMs;
        }
      } catch {
        if (signal.aborted) break;
      }
      onConnection?.(false);
      await sleep(Math.min(Math.max(retryMs, 250), 10_000), signal);
    }
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { authorization: `Bearer ${this.token}`, accept: 'application/json', ...extra };
  }

  private async json<T>(path: string, init: RequestInit = {}, o: { accept?: number[]; timeoutMs?: number } = {}): Promise<T> {
    let res: Response;
    try {
      res = await this.fetchImpl(this.apiUrl + path, { ...init, headers: this.headers(init.headers as Record<string, string>), signal: AbortSignal.timeout(o.timeoutMs ?? this.timeoutMs) });
    } catch (e) {
      throw new ApiError(0, 'unreachable', `${this.apiUrl} did not answer ${init.method ?? 'GET'} ${path} (${e instanceof Error ? e.message : String(e)})`);
    }
    const text = await res.text();
    let body: unknown;
    try { body = text ? JSON.parse(text) : undefined; } catch { body = text; }
    if (!res.ok && !o.accept?.includes(res.status)) {
      const b = body as Partial<ApiErrorBody> | undefined;
      throw new ApiError(res.status, b?.error ?? `http-${res.status}`, b?.message ?? `${init.method ?? 'GET'} ${path} answered ${res.status}`);
    }
    return body as T;
  }
}

/** The answer, or undefined on a 404: an older mesh without the route, a trace no longer kept. */
export async function unlessNotFound<T>(answer: Promise<T>): Promise<T | undefined> {
  try { return await answer; } catch (e) {
    if (e instanceof ApiError && e.status === 404) return undefined;
    throw e;
  }
}

/** A loose check that a parsed JSON body is a topology, for the edges of the system. */
export function isTopology(v: unknown): v is Topology {
  const t = v as Topology;
  return typeof t === 'object' && t !== null && Array.isArray(t.services) && Array.isArray(t.workloads)
    && t.workloads.every((w) => typeof w?.name === 'string' && typeof w.service === 'string');
}

/** `?a=1&b=x` of the defined values, or nothing. */
function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() { clearTimeout(t); signal.removeEventListener('abort', done); resolve(); }
    signal.addEventListener('abort', done, { once: true });
  });
}
