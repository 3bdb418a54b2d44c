/**
 * Preloaded into a sidecar process by `tail.js` (`--require`): a timeline of
 * what the event loop did, to set beside the slow requests of a paced run.
 * Recorded in epoch ms (performance.timeOrigin + now, the clock the paced
 * client uses too):
 *
 *   gc     every GC pause on the main thread (perf_hooks 'gc' entries: start, ms, kind) and old space in use after it
 *   send   every IPC message to the control plane: start, ms, type (telemetry:<spans in the batch>)
 *   stall  every loop turn that kept a 1 ms timer waiting more than 2 ms (start of the wait, ms late)
 *
 * and the loop's delay histogram (monitorEventLoopDelay) and utilisation.
 * SIGUSR2 starts recording; the next SIGUSR2 stops it and writes
 * `<DEVMESH_TAIL_DIR>/<pid>.tail.json`, so the harness brackets the run it measures.
 */
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { getHeapSpaceStatistics } from 'node:v8';
import { monitorEventLoopDelay, performance, PerformanceObserver, constants } from 'node:perf_hooks';
import { onSignalBracket } from './signalBracket';

const dir = process.env.DEVMESH_TAIL_DIR ?? '/tmp';
const lagTimer = process.env.DEVMESH_TAIL_STALLS !== 'off';
const origin = performance.timeOrigin;
const now = () => origin + performance.now();

type Event = [kind: string, start: number, ms: number, detail: string, oldMb?: number];
let events: Event[] = [];
let on = false;

const kinds: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'scavenge',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'mark-compact',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak-callbacks',
};
/** Old space in use when the observer hears of a GC (soon after it): its growth between full GCs is what scavenges promoted. */
function oldSpaceMb(): number {
  return (getHeapSpaceStatistics().find((x) => x.space_name === 'old_space')?.space_used_size ?? 0) / 2 ** 20;
}

const gc = new PerformanceObserver((list) => {
  if (!on) return;
  for (const e of list.getEntries()) {
    const kind = (e as unknown as { detail?: { kind?: number } }).detail?.kind ?? 0;
    events.push(['gc', origin + e.startTime, e.duration, kinds[kind] ?? String(kind), oldSpaceMb()]);
  }
});
gc.observe({ entryTypes: ['gc'] });

// Each IPC message: how long building and writing it kept the loop (JSON serialisation is synchronous).
const send = process.send?.bind(process);
if (send) {
  process.send = ((message: unknown, ...rest: unknown[]) => {
    if (!on) return (send as (...a: unknown[]) => boolean)(message, ...rest);
    const t0 = now();
    const r = (send as (...a: unknown[]) => boolean)(message, ...rest);
    const ms = now() - t0;
    const m = message as { type?: string; data?: { spanRows?: unknown[] } };
    events.push(['send', t0, ms, m?.type === 'telemetry' ? `telemetry:${m.data?.spanRows?.length ?? 0}` : m?.type ?? '?']);
    return r;
  }) as typeof process.send;
}

let timer: NodeJS.Timeout | undefined;
function watchStalls(): void {
  let last = now();
  timer = setInterval(() => {
    const t = now();
    const late = t - last - 1;
    if (late > 2) events.push(['stall', last + 1, late, '']);
    last = t;
  }, 1);
}

// 10 ms: the histogram samples with a timer of its own, and at 1 ms it woke the sidecar ~1,000 times a second —
// 4-13 wake-ups per request at 50-100 req/s where the sidecar itself takes 2-3 (lowRate.js, BENCHMARKS.md lat16).
const delay = monitorEventLoopDelay({ resolution: 10 });
let elu = performance.eventLoopUtilization();
let cpu = process.cpuUsage();
let startedAt = 0;

onSignalBracket(
  () => {
    on = true;
    events = [];
    startedAt = now();
    delay.reset();
    delay.enable();
    elu = performance.eventLoopUtilization();
    cpu = process.cpuUsage();
    if (lagTimer) watchStalls();
  },
  () => {
    on = false;
    delay.disable();
    if (timer) clearInterval(timer);
    const used = process.cpuUsage(cpu);
    const summary = {
      pid: process.pid, startedAt, endedAt: now(),
      cpuMs: (used.user + used.system) / 1000,
      loopUtilisation: performance.eventLoopUtilization(elu).utilization,
      delayMs: { p50: delay.percentile(50) / 1e6, p99: delay.percentile(99) / 1e6, max: delay.max / 1e6 },
      heapMb: process.memoryUsage().heapUsed / 2 ** 20,
    };
    writeFileSync(path.join(dir, `${process.pid}.tail.json`), JSON.stringify({ summary, events }));
  },
);
