/**
 * What makes the fixed-rate latency tail: the devmesh chain of the benchmark
 * (service and sidecar process pinned to the proxies' CPU, as dataplane.ts
 * runs it) under the paced open-loop client, with `tailProbe.js` preloaded
 * in the sidecar process. The slow requests (above the run's p99, or
 * `--slow=MS`) are lined up with what the sidecar's event loop did while
 * each was in flight: GC pauses, IPC sends (telemetry batches), loop stalls.
 *
 *   node out/bench/dataplane/tail.js [rate=1000] [seconds=10] [--slow=MS] [--no-stalls] [--runs=N] [--connections=32]
 *
 * DEVMESH_SIDECAR_EXEC_ARGV adds flags to the sidecar process as in
 * `devmesh up` (e.g. `--trace-gc`, `--max-semi-space-size=8`); telemetry
 * off with BENCH_OBSERVABILITY=off.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createCa } from '../../simulator/control/ca';
import { percentile } from '../stats';
import { benchSnapshot, SERVICE_HOST, startDevmeshChain } from './devmeshChain';
import type { PacedResult } from './paced';
import { freePort } from './ports';
import { CPUS, cpuMsOf, firstJsonLine, memoryOf, pin, sleep, spawnPinned } from './procs';

export type Event = [kind: string, start: number, ms: number, detail: string, oldMb?: number];
export interface Probe { summary: { cpuMs: number; loopUtilisation: number; delayMs: { p50: number; p99: number; max: number }; startedAt: number; endedAt: number }; events: Event[] }

const f = (n: number, d = 2) => n.toFixed(d);

function paced(port: number, rate: number, seconds: number, timeline: boolean, connections: number): Promise<PacedResult> {
  const arg = JSON.stringify({ port, host: SERVICE_HOST, rate, seconds, connections, warmupSeconds: 1, timeline });
  const child = spawnPinned(CPUS?.load, process.execPath, [path.join(__dirname, 'paced.js'), arg], { stdio: ['ignore', 'pipe', 'inherit'] });
  return firstJsonLine<PacedResult>(child, (seconds + 30) * 1000);
}

/** Busy and total jiffies of one CPU from /proc/stat. */
function cpuJiffies(cpu: string | undefined): [number, number] {
  if (cpu === undefined) return [NaN, NaN];
  const line = readFileSync('/proc/stat', 'utf8').split('\n').find((l) => l.startsWith(`cpu${cpu} `));
  const v = line!.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  return [total - v[3] - v[4], total];
}

/** The slow requests against the timeline: how many overlap each kind of event, and the same share among all requests. */
export function correlate(r: PacedResult, events: Event[], slowMs: number): string[] {
  const due = r.dueMs!;
  const lat = r.latenciesMs;
  const spans = lat.map((ms, i) => [due[i], due[i] + ms] as const);
  const slow = lat.map((ms, i) => i).filter((i) => lat[i] > slowMs);
  const classes: Array<[string, (e: Event) => boolean]> = [
    ['GC scavenge >= 1 ms', (e) => e[0] === 'gc' && e[3] === 'scavenge' && e[2] >= 1],
    ['GC mark-compact (any)', (e) => e[0] === 'gc' && e[3] === 'mark-compact'],
    ['GC any >= 1 ms', (e) => e[0] === 'gc' && e[2] >= 1],
    ['telemetry send >= 0.5 ms', (e) => e[0] === 'send' && e[3].startsWith('telemetry') && e[2] >= 0.5],
    ['telemetry send (any)', (e) => e[0] === 'send' && e[3].startsWith('telemetry')],
    ['loop stall >= 5 ms', (e) => e[0] === 'stall' && e[2] >= 5],
    ['loop stall >= 2 ms', (e) => e[0] === 'stall'],
  ];
  const overlaps = (i: number, test: (e: Event) => boolean) => events.some((e) => test(e) && e[1] < spans[i][1] && e[1] + e[2] > spans[i][0]);
  const out = [`${slow.length} requests slower than ${f(slowMs)} ms (of ${lat.length}); share that overlap an event of each kind, and the same share among all requests:`];
  const all = lat.map((_, i) => i);
  for (const [name, test] of classes) {
    const s = slow.filter((i) => overlaps(i, test)).length;
    const a = all.filter((i) => overlaps(i, test)).length;
    out.push(`  ${name.padEnd(28)} slow ${f((100 * s) / Math.max(1, slow.length), 0).padStart(3)} %   all ${f((100 * a) / lat.length, 0).padStart(3)} %`);
  }
  const none = slow.filter((i) => !classes.some(([, t]) => overlaps(i, t))).length;
  out.push(`  ${'none of these'.padEnd(28)} slow ${f((100 * none) / Math.max(1, slow.length), 0).padStart(3)} %`);
  out.push('the 12 slowest (due offset s, ms, what overlapped):');
  const t0 = due[0];
  for (const i of [...slow].sort((a, b) => lat[b] - lat[a]).slice(0, 12)) {
    const during = events.filter((e) => e[1] < spans[i][1] && e[1] + e[2] > spans[i][0] && e[2] >= 0.2);
    const what = [...during].sort((a, b) => b[2] - a[2]).slice(0, 6).map((e) => `${e[0]}${e[3] ? `:${e[3]}` : ''} ${f(e[2], 1)}`);
    out.push(`  ${f((due[i] - t0) / 1000, 3).padStart(7)}  ${f(lat[i], 1).padStart(6)}  ${during.length} events; the longest: ${what.join(', ') || '-'}`);
  }
  return out;
}

/** Old space freed by the full GCs per second (what scavenges promoted and then died), from the old space in use around each. */
export function promotion(probes: Probe[], seconds: number): string {
  let freed = 0, fulls = 0, last = NaN;
  for (const p of probes) {
    last = NaN;
    for (const e of p.events) {
      if (e[0] !== 'gc' || e[4] === undefined) continue;
      if (e[3] === 'mark-compact' && Number.isFinite(last)) { freed += Math.max(0, last - e[4]); fulls++; }
      last = e[4];
    }
  }
  return `old space freed by ${fulls} full GCs: ${f(freed / seconds)} MB/s (promoted garbage)`;
}

export function eventSummary(events: Event[], seconds: number): string[] {
  const by = new Map<string, number[]>();
  for (const e of events) {
    const k = e[0] === 'send' ? (e[3].startsWith('telemetry') ? 'send telemetry' : `send ${e[3]}`) : e[0] === 'gc' ? `gc ${e[3]}` : e[0];
    (by.get(k) ?? by.set(k, []).get(k)!).push(e[2]);
  }
  return [...by].sort().map(([k, ms]) => {
    const s = [...ms].sort((a, b) => a - b);
    return `  ${k.padEnd(18)} ${String(ms.length).padStart(6)} (${f(ms.length / seconds, 1)}/s)  total ${f(ms.reduce((a, b) => a + b, 0), 0).padStart(5)} ms  p50 ${f(percentile(s, 50))}  p99 ${f(percentile(s, 99))}  max ${f(s[s.length - 1])} ms`;
  });
}

export interface TailOptions {
  /** Fixed rates to run, one after the other on the same chain (req/s). */
  rates: number[];
  seconds: number;
  /** Runs per rate. */
  runs?: number;
  /** Client keep-alive connections (the latency table's 32). */
  connections?: number;
  /** Requests slower than this are "slow" (default: the run's p99). */
  slowMs?: number;
  /** The 1 ms stall timer (it costs the sidecar a timer wake-up per ms). */
  stalls?: boolean;
}

/** Starts the service and the probed chain, runs each rate, and hands each run's lines to `write`. */
export async function tailRuns(o: TailOptions, write: (lines: string[]) => void): Promise<void> {
  const connections = o.connections ?? 32;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'devmesh-tail-'));
  const svc = spawnPinned(CPUS?.proxies, process.execPath, [path.join(__dirname, 'service.js')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const extra = process.env.DEVMESH_SIDECAR_EXEC_ARGV ?? '';
  let mesh: Awaited<ReturnType<typeof startDevmeshChain>> | undefined;
  try {
    const { port } = await firstJsonLine<{ port: number }>(svc);
    const ports = async (k: number) => Promise.all(Array.from({ length: k }, () => freePort()));
    const snap = benchSnapshot(port, { client: await ports(3), server: await ports(3), ingress: await ports(2) });
    process.env.DEVMESH_SIDECAR_EXEC_ARGV = `${extra} --require ${path.join(__dirname, 'tailProbe.js')}`;
    process.env.DEVMESH_TAIL_DIR = dir;
    process.env.DEVMESH_TAIL_STALLS = o.stalls === false ? 'off' : 'on';
    mesh = await startDevmeshChain(createCa({ trustDomain: 'cluster.local' }), snap, { sampling: 100, printAccessLog: false, observability: process.env.BENCH_OBSERVABILITY !== 'off' }, 'shared');
    process.env.DEVMESH_SIDECAR_EXEC_ARGV = extra;
    const pids = mesh.pids();
    for (const pid of pids) pin(pid, CPUS?.proxies);
    for (const rate of o.rates) {
      await paced(mesh.outboundPort, rate, 2, false, connections);
      for (let run = 0; run < (o.runs ?? 1); run++) {
        for (const pid of pids) process.kill(pid, 'SIGUSR2');
        const all = [svc.pid!, ...pids];
        const before = all.map(cpuMsOf);
        const cpu0 = cpuJiffies(CPUS?.proxies);
        const r = await paced(mesh.outboundPort, rate, o.seconds, true, connections);
        const cpu1 = cpuJiffies(CPUS?.proxies);
        const used = all.map((pid, i) => cpuMsOf(pid) - before[i]);
        for (const pid of pids) process.kill(pid, 'SIGUSR2');
        for (let i = 0; i < 50 && !pids.every((pid) => existsSync(path.join(dir, `${pid}.tail.json`))); i++) await sleep(100);
        const probes = pids.map((pid) => JSON.parse(readFileSync(path.join(dir, `${pid}.tail.json`), 'utf8')) as Probe);
        for (const pid of pids) rmSync(path.join(dir, `${pid}.tail.json`));
        const lat = [...r.latenciesMs].sort((a, b) => a - b);
        const wall = (r.latenciesMs.length / rate) * 1000 + 1000;
        const events = probes.flatMap((p) => p.events);
        const s = probes[0].summary;
        write([
          `== ${rate} req/s for ${o.seconds} s over ${connections} connections (run ${run + 1}), ${r.latenciesMs.length} samples, ${r.errors} errors; load ${os.loadavg().map((x) => f(x)).join(' / ')}; sidecar flags: ${extra.trim() || '(defaults)'}`,
          `latency ms: p50 ${f(percentile(lat, 50), 3)}  p90 ${f(percentile(lat, 90), 3)}  p99 ${f(percentile(lat, 99), 3)}  p99.9 ${f(percentile(lat, 99.9), 3)}  max ${f(lat[lat.length - 1], 1)}; client send lag p99 ${f(r.sendLagP99Ms, 3)}`,
          `CPU ${CPUS?.proxies ?? '-'} busy ${f((100 * (cpu1[0] - cpu0[0])) / (cpu1[1] - cpu0[1]), 0)} % (everything on it); service ${f((1000 * used[0]) / r.sent, 0)} µs/req, sidecar process ${used.slice(1).map((u) => f((1000 * u) / r.sent, 0)).join(' + ')} µs/req (${f((100 * used.slice(1).reduce((a, b) => a + b, 0)) / wall, 0)} % of a CPU)`,
          `sidecar loop: utilisation ${f(s.loopUtilisation * 100, 0)} %, delay p50 ${f(s.delayMs.p50)} p99 ${f(s.delayMs.p99)} max ${f(s.delayMs.max)} ms; RSS/peak MB ${pids.map((p) => { const m = memoryOf(p); return `${f(m?.rssMb ?? NaN, 1)}/${f(m?.peakMb ?? NaN, 1)}`; }).join(', ')}`,
          'sidecar events during the run:',
          ...eventSummary(events, o.seconds + 1),
          promotion(probes, o.seconds + 1),
          ...correlate(r, events, o.slowMs ?? percentile(lat, 99)),
        ]);
      }
    }
  } finally {
    process.env.DEVMESH_SIDECAR_EXEC_ARGV = extra;
    await mesh?.stop();
    svc.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main() {
  const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  const opt = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
  const slow = opt('slow');
  await tailRuns({
    rates: [Number(args[0] ?? 1000)], seconds: Number(args[1] ?? 10), runs: Number(opt('runs') ?? 1),
    connections: Number(opt('connections') ?? 32), slowMs: slow === undefined ? undefined : Number(slow), stalls: !process.argv.includes('--no-stalls'),
  }, (lines) => process.stdout.write(`${lines.join('\n')}\n\n`));
}

if (require.main === module) void main();
