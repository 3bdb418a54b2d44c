/**
 * Two builds' chains at the same time, so an end-to-end A/B resolves on a
 * loaded machine: for each build (a directory holding its `out/`), the
 * bench's service and its devmesh chain (client-v1 + bench-v1 sidecars in
 * one shared process, everything on, sampling 100%), both builds' services
 * and sidecars pinned to the same CPU and one wrk each on the load CPU,
 * driven together, so whatever else the machine does lands on both alike
 * (alternating rounds of one chain at a time swing by ±20 % at load 10+).
 * This process is each build's control plane: its TelemetryHub ingests the
 * batches that build's sidecars send, timed per batch (Node's IPC parse of a
 * batch, before the hub gets it, is not in that figure).
 *
 *   node out/bench/dataplane/abChains.js DIR_A DIR_B [rounds] [seconds] [connections] [path] [wrk script]
 *
 * `path`: what wrk asks for (default `/`, the ~100-byte answer; `/big` is 64 KiB).
 * `wrk script`: a Lua file for `wrk -s` (default none: GET); `bench/dataplane/post.lua`
 * POSTs a 1 KiB JSON body.
 * DEVMESH_AB_ENV_A / DEVMESH_AB_ENV_B: a JSON object of environment
 * variables for that slot's sidecar process only (e.g.
 * `{"DEVMESH_SIDECAR_EXEC_ARGV":"--single-threaded-gc","MALLOC_ARENA_MAX":"2"}`),
 * so one build can be run against itself with other flags or malloc settings.
 *
 * Prints per round and the medians: req/s, CPU µs per request of the
 * service and of the sidecar process, the hub's intake µs per request, and
 * the B/A ratio of each round; the sidecar process's CPU split into its
 * main thread (the event loop: JavaScript, system calls, the GC's pauses)
 * and its other threads (V8's concurrent and parallel GC and compiler
 * helpers), into user and system time, and its context switches per
 * request; and each build's sidecar process RSS idle
 * (before the warm-up) and its peak (VmHWM) so far after each round, both
 * processes having served the same minutes. Run it a second time with the builds swapped
 * (and once with the same build twice) to see the slots' bias.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { CPUS, cpuMsOf, cpuSplitOf, firstJsonLine, memoryOf, pin, runWrk, spawnPinned, type CpuSplit } from './procs';
import { freePort } from './ports';

type Module = Record<string, any>;

interface Chain { url: string; host: string; svc: ChildProcess; pids: number[]; ingestUs: number; stop(): Promise<void> }
interface Round {
  rps: number; errors: number; service: number; sidecar: number; intake: number; load: number; peakMb: number;
  /** The sidecar process's CPU per request split (µs; context switches per request): see procs.ts cpuSplitOf. */
  split: CpuSplit;
}

/** The sum of the processes' splits. */
function splitOf(pids: number[]): CpuSplit {
  const sum: CpuSplit = { user: 0, system: 0, main: 0, helpers: 0, voluntary: 0, involuntary: 0 };
  for (const pid of pids) {
    const s = cpuSplitOf(pid);
    for (const k of Object.keys(sum) as (keyof CpuSplit)[]) sum[k] += s[k];
  }
  return sum;
}

/** Runs `start` with `vars` set in this process's environment (what SidecarHost forks with), then puts it back. */
export async function withEnv<T>(vars: Record<string, string>, start: () => Promise<T>): Promise<T> {
  const was = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  try { return await start(); } finally {
    for (const [k, v] of Object.entries(was)) { if (v === undefined) delete process.env[k]; else process.env[k] = v; }
  }
}

/** A slot's extra environment from DEVMESH_AB_ENV_A / _B: a JSON object of strings. */
export function slotEnv(slot: 'A' | 'B', env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const name = `DEVMESH_AB_ENV_${slot}`;
  const raw = env[name];
  if (!raw) return {};
  const bad = (why: string) => new Error(`${name} ${why}; write a JSON object of strings, e.g. ${name}='{"MALLOC_ARENA_MAX":"2"}'`);
  let vars: unknown;
  try { vars = JSON.parse(raw); } catch (e) { throw bad(`is not JSON (${(e as Error).message})`); }
  if (!vars || typeof vars !== 'object' || Array.isArray(vars)) throw bad('is not an object');
  const notString = Object.entries(vars).find(([, v]) => typeof v !== 'string');
  if (notString) throw bad(`gives ${notString[0]} a ${typeof notString[1]}, not a string`);
  return vars as Record<string, string>;
}

async function chainOf(dir: string, urlPath: string, env: Record<string, string> = {}): Promise<Chain> {
  const r = (m: string): Module => require(path.resolve(dir, 'out', m));
  const { benchSnapshot, SERVICE_HOST } = r('bench/dataplane/devmeshChain');
  const { createCa } = r('simulator/control/ca');
  const { EventLog } = r('simulator/control/events');
  const { ManagedSidecar, SidecarHost } = r('simulator/control/sidecars');
  const { TelemetryHub } = r('simulator/control/telemetry/hub');
  const svc = spawnPinned(CPUS?.proxies, process.execPath, [path.resolve(dir, 'out/bench/dataplane/service.js')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const { port } = await firstJsonLine<{ port: number }>(svc);
  const ports = async (k: number) => Promise.all(Array.from({ length: k }, () => freePort()));
  const snap = benchSnapshot(port, { client: await ports(3), server: await ports(3), ingress: await ports(2) });
  const events = new EventLog();
  const hub = new TelemetryHub({ events, edgesView: () => ({ generatedAt: 0, windowSeconds: 30, edges: [], serviceEdges: [] }) });
  const host = new SidecarHost(`sidecars of ${dir}`, events);
  const ca = createCa({ trustDomain: 'cluster.local' });
  const options = { sampling: 100, printAccessLog: false };
  const chain: Chain = {
    url: `http://127.0.0.1:${snap.workloads[0].sidecar.outboundPort}${urlPath}`, host: SERVICE_HOST, svc, pids: [], ingestUs: 0,
    async stop() {
      await Promise.all(sidecars.map((s: Module) => s.stop(200)));
      await hub.close();
      svc.kill();
    },
  };
  const sidecars = snap.workloads.map((w: Module) => {
    const s = new ManagedSidecar({
      workload: w.name, name: w.name, events, host,
      bootstrap: () => ({ type: 'bootstrap', workload: w.name, snapshot: snap, certs: ca.issue(w.spiffeId), options }),
      onLog: (level: string, message: string) => { if (level !== 'info') process.stderr.write(`[${dir} ${w.name}] ${message}\n`); },
      onTelemetry: (data: unknown) => {
        const c0 = process.cpuUsage();
        hub.ingest(data);
        const c = process.cpuUsage(c0);
        chain.ingestUs += c.user + c.system;
      },
    });
    return s;
  });
  // The shared process is forked by the first start, with this slot's environment.
  await withEnv(env, async () => {
    for (const s of sidecars) s.start();
    await Promise.all(sidecars.map((s: Module) => s.whenReady()));
  });
  chain.pids = [...new Set<number>(sidecars.map((s: Module) => s.pid).filter((p: number | undefined) => !!p))];
  for (const pid of chain.pids) pin(pid, CPUS?.proxies);
  return chain;
}

async function main(): Promise<void> {
  const [a, b, rounds = '6', seconds = '5', connections = '16', urlPath = '/', script] = process.argv.slice(2);
  if (!a || !b) throw new Error('usage: node out/bench/dataplane/abChains.js DIR_A DIR_B [rounds] [seconds] [connections] [path] [wrk script]');
  if (script && !fs.existsSync(script)) throw new Error(`abChains: wrk script ${script} not found (give a Lua file for wrk -s, e.g. bench/dataplane/post.lua)`);
  const envs = [slotEnv('A'), slotEnv('B')];
  const chains = [await chainOf(a, urlPath, envs[0]), await chainOf(b, urlPath, envs[1])];
  const mb = (c: Chain, f: (m: { rssMb: number; peakMb: number }) => number) => c.pids.reduce((sum, pid) => sum + (memoryOf(pid) ? f(memoryOf(pid)!) : NaN), 0);
  const idle = chains.map((c) => mb(c, (m) => m.rssMb));
  const drive = (secs: number) => Promise.all(chains.map((c) => runWrk(c.url, { connections: Number(connections), seconds: secs, host: c.host, cpu: CPUS?.load, script })));
  await drive(2);
  const runs: Round[][] = [[], []];
  process.stdout.write(`A ${a} ${JSON.stringify(envs[0])}\nB ${b} ${JSON.stringify(envs[1])}\nload average at start ${os.loadavg().map((x) => x.toFixed(2)).join(' / ')}; ${rounds} rounds of ${seconds} s, ${connections} connections each, ${script ? `wrk -s ${script}` : 'GET'} ${urlPath}\n`);
  for (let k = 0; k < Number(rounds); k++) {
    const before = chains.map((c) => ({ svc: cpuMsOf(c.svc.pid), sidecars: c.pids.map(cpuMsOf), ingest: c.ingestUs, split: splitOf(c.pids) }));
    const results = await drive(Number(seconds));
    // The batches of the run's last 250 ms.
    await new Promise((res) => setTimeout(res, 400));
    chains.forEach((c, i) => {
      const n = results[i].requests;
      const was = before[i];
      const split = splitOf(c.pids);
      for (const k of Object.keys(split) as (keyof CpuSplit)[]) split[k] = ((split[k] - was.split[k]) * (k === 'voluntary' || k === 'involuntary' ? 1 : 1000)) / n;
      const round: Round = {
        rps: results[i].rps, errors: results[i].errors + results[i].non2xx,
        service: ((cpuMsOf(c.svc.pid) - was.svc) * 1000) / n,
        sidecar: (c.pids.reduce((sum, pid, j) => sum + cpuMsOf(pid) - was.sidecars[j], 0) * 1000) / n,
        intake: (c.ingestUs - was.ingest) / n, load: os.loadavg()[0], peakMb: mb(c, (m) => m.peakMb), split,
      };
      runs[i].push(round);
      process.stdout.write(`round ${k + 1} ${i ? 'B' : 'A'}: ${round.rps.toFixed(0)} req/s, ${round.errors} errors; CPU µs/req service ${round.service.toFixed(0)}, sidecar process ${round.sidecar.toFixed(0)}, intake ${round.intake.toFixed(1)}; sidecar main thread ${split.main.toFixed(0)}, other threads ${split.helpers.toFixed(0)}, user ${split.user.toFixed(0)}, system ${split.system.toFixed(0)}, context switches/req ${split.voluntary.toFixed(2)} + ${split.involuntary.toFixed(2)} forced; sidecar peak ${round.peakMb.toFixed(1)} MB; load ${round.load.toFixed(1)}\n`);
    });
  }
  const med = (xs: number[]) => [...xs].sort((p, q) => p - q)[Math.floor(xs.length / 2)];
  for (const [name, pick, digits] of [['req/s', (r: Round) => r.rps, 0], ['service CPU µs/req', (r: Round) => r.service, 0], ['sidecar process CPU µs/req', (r: Round) => r.sidecar, 0], ['intake µs/req', (r: Round) => r.intake, 1],
    ['sidecar main thread CPU µs/req', (r: Round) => r.split.main, 0], ['sidecar other threads CPU µs/req', (r: Round) => r.split.helpers, 0],
    ['sidecar user CPU µs/req', (r: Round) => r.split.user, 0], ['sidecar system CPU µs/req', (r: Round) => r.split.system, 0],
    ['sidecar voluntary context switches/req', (r: Round) => r.split.voluntary, 2], ['sidecar forced context switches/req', (r: Round) => r.split.involuntary, 2]] as const) {
    const ratios = runs[0].map((x, k) => pick(runs[1][k]) / pick(x));
    const sorted = [...ratios].sort((p, q) => p - q);
    process.stdout.write(`${name}: A ${med(runs[0].map(pick)).toFixed(digits)}, B ${med(runs[1].map(pick)).toFixed(digits)}; B/A median ${med(ratios).toFixed(3)} (rounds ${sorted[0].toFixed(2)}..${sorted[sorted.length - 1].toFixed(2)})\n`);
  }
  chains.forEach((c, i) => process.stdout.write(`${i ? 'B' : 'A'} sidecar process RSS idle ${idle[i].toFixed(1)} MB, peak ${mb(c, (m) => m.peakMb).toFixed(1)} MB, at end ${mb(c, (m) => m.rssMb).toFixed(1)} MB\n`));
  process.stdout.write(`load average at end ${os.loadavg().map((x) => x.toFixed(2)).join(' / ')}\n`);
  for (const c of chains) await c.stop();
  setTimeout(() => process.exit(0), 300).unref();
}

if (require.main === module) void main();
