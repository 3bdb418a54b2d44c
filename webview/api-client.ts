/**
 * A client of the devmesh control API over `fetch`, used by the extension
 * host (Node 20) and by the dashboard page (a browser): every request carries
 * the session token as a Bearer header; the event stream is read with fetch
 * because EventSource cannot carry it.
 */
import { SseParser, type SseEvent } from './sse';
import { isTopology, type Topology } from './topology';
import type { FaultSpec, FaultTarget } from './protocol';

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
    this.name = 'ApiError';
  }
}

/** What a fault route answered; `missing` when this mesh has no fault routes (404). */
export type FaultResult = { ok: true; message: string; body?: unknown } | { ok: false; missing: boolean; message: string };

export interface MeshEventLike {
  id: number;
  time: number;
  type: string;
  workload?: string;
  message: string;
  data?: Record<string, unknown>;
}

export class ControlClient {
  // A wrapper, not `fetch` itself: a browser's fetch called as a method of another object throws "Illegal invocation".
  constructor(readonly apiUrl: string, private readonly token: string, private readonly fetchImpl: typeof fetch = (input, init) => fetch(input, init)) {}

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { authorization: `Bearer ${this.token}`, accept: 'application/json', ...extra };
  }

  private async json(path: string, init: RequestInit = {}, timeoutMs = 5_000): Promise<unknown> {
    const res = await this.fetchImpl(this.apiUrl + path, { ...init, headers: this.headers(init.headers as Record<string, string>), signal: AbortSignal.timeout(timeoutMs) });
    const text = await res.text();
    let body: unknown;
    try { body = text ? JSON.parse(text) : undefined; } catch { body = text; }
    if (!res.ok) {
      const b = body as { error?: string; message?: string } | undefined;
      throw new ApiError(res.status, b?.error ?? `http-${res.status}`, b?.message ?? `${init.method ?? 'GET'} ${path} answered ${res.status}`);
    }
    return body;
  }

  async health(): Promise<{ ready: boolean }> {
    const res = await this.fetchImpl(this.apiUrl + '/api/health', { headers: this.headers(), signal: AbortSignal.timeout(2_000) });
    if (res.status !== 200 && res.status !== 503) throw new ApiError(res.status, `http-${res.status}`, `health answered ${res.status}`);
    return (await res.json()) as { ready: boolean };
  }

  async topology(): Promise<Topology> {
    const body = await this.json('/api/topology');
    if (!isTopology(body)) throw new ApiError(500, 'bad-topology', 'GET /api/topology did not answer a topology');
    return body;
  }

  /** GET a JSON route that may not exist yet (traces, requests): undefined on 404. */
  async optional(path: string): Promise<unknown | undefined> {
    try { return await this.json(path); } catch (e) {
      if (e instanceof ApiError && e.status === 404) return undefined;
      throw e;
    }
  }

  /** POST /api/faults: the control plane takes Istio-style fields (`delay.fixedDelay` in ms or "2s"). */
  async injectFault(target: FaultTarget, fault: FaultSpec): Promise<FaultResult> {
    const body: Record<string, unknown> = { ...target };
    if (fault.abort) body.abort = { httpStatus: fault.abort.httpStatus, percentage: fault.abort.percentage };
    if (fault.delay) body.delay = { fixedDelay: fault.delay.fixedDelayMs, percentage: fault.delay.percentage };
    const r = await this.fault('POST', '/api/faults', body);
    if (r.ok) {
      const f = (r.body as { fault?: { id?: string; description?: string } } | undefined)?.fault;
      return { ...r, message: f?.description ? `fault ${f.id ?? ''} added: ${f.description}` : r.message };
    }
    return r;
  }

  /**
   * Clears the runtime faults on a target (every fault on the service, narrowed
   * to the workload and the caller when given), or all of them without a target.
   * The API clears all (DELETE /api/faults) or one by id, so a targeted clear
   * lists the faults first and removes the matching ones.
   */
  async clearFaults(target?: FaultTarget): Promise<FaultResult> {
    if (!target) {
      const r = await this.fault('DELETE', '/api/faults');
      const n = (r.ok && (r.body as { cleared?: unknown[] } | undefined)?.cleared?.length) || 0;
      return r.ok ? { ...r, message: `cleared ${n} runtime fault(s)` } : r;
    }
    const listed = await this.fault('GET', '/api/faults');
    if (!listed.ok) return listed;
    const faults = ((listed.body as { faults?: { id: string; service: string; workload?: string; source?: string }[] } | undefined)?.faults ?? [])
      .filter((f) => f.service === target.service && (!target.workload || !f.workload || f.workload === target.workload) && (!target.source || !f.source || f.source === target.source));
    for (const f of faults) {
      const r = await this.fault('DELETE', `/api/faults/${encodeURIComponent(f.id)}`);
      if (!r.ok) return r;
    }
    const where = target.workload ?? target.service;
    return { ok: true, message: faults.length ? `cleared ${faults.length} runtime fault(s) on ${where}` : `no runtime fault on ${where}` };
  }

  private async fault(method: string, path: string, body?: unknown): Promise<FaultResult> {
    try {
      const res = await this.json(path, { method, body: body === undefined ? undefined : JSON.stringify(body), headers: body === undefined ? {} : { 'content-type': 'application/json' } });
      const b = res as { message?: string } | undefined;
      return { ok: true, message: b?.message ?? `${method} ${path}: done`, body: res };
    } catch (e) {
      if (e instanceof ApiError && e.status === 404 && e.code === 'not-found' && !/^\/api\/faults\/./.test(path)) {
        return { ok: false, missing: true, message: `this mesh's control API has no fault routes (${method} /api/faults answered 404); runtime fault injection needs a newer devmesh` };
      }
      return { ok: false, missing: false, message: e instanceof Error ? e.message : String(e) };
    }
  }

  /**
   * Streams `/api/events` until `signal` aborts, reconnecting with
   * `Last-Event-ID` after the server's retry delay. Resolves when aborted.
   */
  async streamEvents(onEvent: (e: MeshEventLike, raw: SseEvent) => void, signal: AbortSignal, onConnection?: (up: boolean) => void): Promise<void> {
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
            try { onEvent(JSON.parse(ev.data) as MeshEventLike, ev); } catch { /* a malformed event is skipped, not fatal */ }
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
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() { clearTimeout(t); signal.removeEventListener('abort', done); resolve(); }
    signal.addEventListener('abort', done, { once: true });
  });
}
