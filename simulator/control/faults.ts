/**
 * Runtime faults (`devmesh fault add`, `POST /api/faults`): temporary HTTP
 * delays/aborts and TCP toxics on a service, subset, workload or caller
 * edge, each with an expiry. The store validates a request against the
 * config in force and submits the new list to the config publisher whenever
 * it changes — on add, on clear, and when a fault expires.
 */
import { randomBytes } from 'node:crypto';
import { parseDuration } from '../policy/duration';
import type { FaultRequest } from './api/contract';
import type { EventLog } from './events';
import type { MeshSnapshot, RuntimeFault, ServiceInfo } from '../protocol';
import { faultProblem, faultService } from '../sidecar/chaos/runtimeFaults';
import { toxicOf, TOXIC_TYPES, type ToxicType } from '../sidecar/chaos/toxics';

export const DEFAULT_FAULT_LIFETIME_MS = 10 * 60_000;

export class FaultError extends Error {}

const ms = (v: string | number | undefined, what: string): number | undefined => {
  if (v === undefined) return undefined;
  const n = typeof v === 'number' ? v : parseDuration(v);
  if (n === undefined || !Number.isFinite(n) || n < 0) throw new FaultError(`${what}: "${v}" is not a duration (e.g. 2s, 300ms, 1m)`);
  return n;
};
const pct = (v: number | undefined): number => {
  const p = v ?? 100;
  if (typeof p !== 'number' || !(p >= 0 && p <= 100)) throw new FaultError(`percentage must be a number from 0 to 100 (got ${JSON.stringify(v)})`);
  return p;
};

/** Turns a request into a fault, pure (clock and id given). Throws FaultError with a readable message. */
export function faultFromRequest(req: FaultRequest, snapshot: MeshSnapshot, now: number, id: string): RuntimeFault {
  if (!req || typeof req.service !== 'string' || req.service === '') throw new FaultError('a fault needs a target service ("service")');
  const kinds = [req.abort, req.delay, req.tcp].filter((x) => x !== undefined).length;
  if (kinds === 0) throw new FaultError('say what to inject: abort (an HTTP status), delay (a duration) or tcp (a toxic)');
  if (req.tcp && kinds > 1) throw new FaultError('a TCP toxic is its own fault; add HTTP faults separately');
  const problem = faultProblem(req, snapshot);
  if (problem) throw new FaultError(problem);
  const target = faultService(req.service, snapshot) as ServiceInfo;
  const f: RuntimeFault = { id, service: req.service, host: target.fqdn };
  if (req.subset) f.subset = req.subset;
  if (req.workload) f.workload = req.workload;
  if (req.source) f.source = req.source;
  if (req.abort) {
    const s = Number(req.abort.httpStatus);
    if (!Number.isInteger(s) || s < 200 || s > 599) throw new FaultError(`abort needs an HTTP status from 200 to 599 (got ${JSON.stringify(req.abort.httpStatus)})`);
    f.abort = { httpStatus: s, percentage: pct(req.abort.percentage) };
  }
  if (req.delay) f.delay = { fixedDelayMs: ms(req.delay.fixedDelay, 'delay') ?? 0, percentage: pct(req.delay.percentage) };
  if (req.tcp) {
    if (!TOXIC_TYPES.includes(req.tcp.type as never)) throw new FaultError(`unknown toxic "${req.tcp.type}"; one of ${TOXIC_TYPES.join(', ')}`);
    const tcp = {
      type: req.tcp.type as ToxicType,
      latencyMs: ms(req.tcp.latency, 'latency'),
      jitterMs: ms(req.tcp.jitter, 'jitter'),
      rateKBps: req.tcp.rate,
      timeoutMs: ms(req.tcp.timeout, 'timeout'),
      delayMs: ms(req.tcp.delay, 'delay'),
      percentage: pct(req.tcp.percentage),
    };
    for (const k of Object.keys(tcp) as Array<keyof typeof tcp>) if (tcp[k] === undefined) delete tcp[k];
    try { toxicOf(tcp); } catch (e) { throw new FaultError((e as Error).message); }
    f.tcp = tcp;
  }
  const life = req.for === undefined ? DEFAULT_FAULT_LIFETIME_MS : ms(req.for, 'for');
  if (life && life > 0) f.expiresAt = now + life;
  return f;
}

/** Where the fault list goes: the config publisher (publisher.ts) carries it into every snapshot. */
export interface FaultSink {
  readonly snapshot: MeshSnapshot;
  publish(change: { faults: RuntimeFault[] }, why: string): Promise<{ version: number; failed: Array<{ name: string; error?: string }> } | undefined>;
}

export class FaultStore {
  private faults: RuntimeFault[] = [];
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly sink: FaultSink,
    private readonly events: EventLog,
    private readonly now: () => number = Date.now,
  ) {}

  list(): RuntimeFault[] {
    this.dropExpired();
    return this.faults.slice();
  }

  async add(req: FaultRequest): Promise<RuntimeFault> {
    const f = faultFromRequest(req, this.sink.snapshot, this.now(), `f-${randomBytes(3).toString('hex')}`);
    this.dropExpired();
    this.faults.push(f);
    this.schedule();
    await this.changed(`fault ${f.id} added (${describeFault(f, this.now())})`);
    return f;
  }

  /** Removes one fault by id, or all; returns the removed ones. */
  async clear(id?: string): Promise<RuntimeFault[]> {
    const removed = id === undefined ? this.faults : this.faults.filter((f) => f.id === id);
    if (removed.length === 0) return [];
    this.faults = id === undefined ? [] : this.faults.filter((f) => f.id !== id);
    this.schedule();
    await this.changed(id === undefined ? `all faults cleared (${removed.length})` : `fault ${id} cleared`);
    return removed;
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  /** The list changed: the next config carries it (sidecars have it when this resolves). */
  private async changed(why: string): Promise<void> {
    const faults = this.faults.slice();
    const report = await this.sink.publish({ faults }, why);
    if (report) this.events.record({ type: 'faults.changed', message: why, data: { version: report.version, faults, failed: report.failed } });
  }

  private dropExpired(): RuntimeFault[] {
    const now = this.now();
    const gone = this.faults.filter((f) => f.expiresAt !== undefined && f.expiresAt <= now);
    if (gone.length) this.faults = this.faults.filter((f) => !gone.includes(f));
    return gone;
  }

  /** Sidecars ignore expired faults by themselves; this also takes them off the list and the config. */
  private schedule(): void {
    clearTimeout(this.timer);
    const next = Math.min(...this.faults.map((f) => f.expiresAt ?? Infinity));
    if (!Number.isFinite(next)) return;
    this.timer = setTimeout(() => {
      const gone = this.dropExpired();
      this.schedule();
      if (gone.length) void this.changed(`fault ${gone.map((f) => f.id).join(', ')} expired`);
    }, Math.max(0, next - this.now()) + 10);
    this.timer.unref();
  }
}

/** One line for humans: "abort 503 on reviews (50%), 1m58s left". */
export function describeFault(f: RuntimeFault, now = Date.now()): string {
  const target = `${f.service}${f.subset ? ` subset ${f.subset}` : ''}${f.workload ? ` workload ${f.workload}` : ''}${f.source ? ` from ${f.source}` : ''}`;
  const what: string[] = [];
  if (f.abort) what.push(`abort ${f.abort.httpStatus} (${f.abort.percentage}%)`);
  if (f.delay) what.push(`delay ${f.delay.fixedDelayMs}ms (${f.delay.percentage}%)`);
  if (f.tcp) {
    const t = f.tcp as Record<string, unknown>;
    const params = Object.entries(t).filter(([k]) => k !== 'type' && k !== 'percentage').map(([k, v]) => `${k}=${v}`).join(' ');
    what.push(`toxic ${t.type}${params ? ` ${params}` : ''} (${t.percentage ?? 100}% of connections)`);
  }
  const left = f.expiresAt === undefined ? 'until cleared' : `${Math.max(0, Math.round((f.expiresAt - now) / 1000))}s left`;
  return `${what.join(' + ')} on ${target}, ${left}`;
}
