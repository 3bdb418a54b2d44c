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
 *
 * Options (after the positional arguments):
 *   --layouts=A,B   each slot's sidecar layout, `shared` (default: both in one
 *                   process, as `devmesh up` with two workloads) or `process`
 *                   (a process per sidecar), so one build's two layouts can be
 *                   compared: `abChains.js DIR DIR 8 4 16 / --layouts=shared,process`
 *   --argv-a=FLAGS, --argv-b=FLAGS   extra Node flags for that slot's sidecar
 *                   processes (space-separated; added to DEVMESH_SIDECAR_EXEC_ARGV
 *                   of the slot's environment)
 *   --gc            preload gcProbe.js into every sidecar process and print
 *                   each round's GCs per request (scavenges, full GCs, main
 *                   thread pause µs, KB found alive and promoted)
 *   --prof=DIR      preload cpuSampler.js: each sidecar process's CPU profile
 *                   of the last round in DIR, and its self time per request by
 *                   function (profile.ts selfPerCall)
 *   --alternate     drive one chain at a time (A then B, then B then A, ...)
 *                   instead of both together: on a quiet machine this keeps the
 *                   two chains from batching differently because they split
 *                   one CPU unevenly (a process per sidecar has more runnable
 *                   threads, so it gets more of the CPU when both run)
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { CPUS, cpuMsOf, cpuSplitOfAll, firstJsonLine, memoryOf, pin, runWrk, spawnPinned, type CpuSplit } from './procs';
import { freePort } from './ports';
import type { GcSummary } from './gcProbe';
import { selfPerCall } from './profile';

type Module = Record<string, any>;

interface Chain { url: string; host: string; svc: ChildProcess; pids: number[]; ingestUs: number; stop(): Promise<void> }
interface Round {
  rps: number; errors: number; service: number; sidecar: number; intake: number; load: number; peakMb: number;
  /** The sidecar process's CPU per request split (µs; context switches per request): see procs.ts cpuSplitOf. */
  split: CpuSplit;
  /** With --gc: the round's GCs, summed over the chain's sidecar processes (per request). */
  gc?: { scavenges: number; fullGcs: number; pauseUs: number; survivedKb: number; promotedKb: number; youngKb: number };
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

type Layout = 'shared' | 'process';

async function chainOf(dir: string, urlPath: string, layout: Layout, env: Record<string, string> = {}): Promise<Chain> {
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
  // Both sidecars in one process (the default layout for two workloads), or each in its own.
  const host = layout === 'shared' ? new SidecarHost(`sidecars of ${dir}`, events) : undefined;
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
  // The sidecar processes are forked by the starts, with this slot's environment.
  await withEnv(env, async () => {
    for (const s of sidecars) s.start();
    await Promise.all(sidecars.map((s: Module) => s.whenReady()));
  });
  chain.pids = [...new Set<number>(sidecars.map((s: Module) => s.pid).filter((p: number | undefined) => !!p))];
  for (const pid of chain.pids) pin(pid, CPUS?.proxies);
  return chain;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const [a, b, rounds = '6', seconds = '5', connections = '16', urlPath = '/', script] = argv.filter((x) => !x.startsWith('--'));
  if (!a || !b) throw new Error('usage: node out/bench/dataplane/abChains.js DIR_A DIR_B [rounds] [seconds] [connections] [path] [wrk script] [--layouts=shared,process] [--argv-a=FLAGS] [--argv-b=FLAGS] [--gc] [--prof=DIR] [--alternate]');
  if (script && !existsSync(script)) throw new Error(`abChains: wrk script ${script} not found (give a Lua file for wrk -s, e.g. bench/dataplane/post.lua)`);
  const option = (name: string) => argv.find((x) => x.startsWith(`--${name}=`))?.slice(name.length + 3);
  const layouts = (option('layouts') ?? 'shared,shared').split(',') as Layout[];
  if (layouts.length !== 2 || layouts.some((l) => l !== 'shared' && l !== 'process')) throw new Error(`--layouts=${option('layouts')}: give two of shared|process, e.g. --layouts=shared,process`);
  const alternate = argv.includes('--alternate');
  const gcDir = argv.includes('--gc') ? path.join(os.tmpdir(), `abchains-gc-${process.pid}`) : undefined;
  const profDir = option('prof') ? path.resolve(option('prof')!) : undefined;
  const probes: string[] = [];
  if (gcDir) { mkdirSync(gcDir, { recursive: true }); process.env.DEVMESH_GC_DIR = gcDir; probes.push(`--require ${path.join(__dirname, 'gcProbe.js')}`); }
  if (profDir) { mkdirSync(profDir, { recursive: true }); process.env.DEVMESH_PROFILE_DIR = profDir; probes.push(`--require ${path.join(__dirname, 'cpuSampler.js')}`); }
  const flags = [option('argv-a') ?? '', option('argv-b') ?? ''].map((f) => [f, ...probes].join(' ').trim());
  // A slot's flags join what its environment (DEVMESH_AB_ENV_A / _B) or this process gives the sidecars.
  const envs = [slotEnv('A'), slotEnv('B')].map((env, i) => !flags[i] ? env : { ...env, DEVMESH_SIDECAR_EXEC_ARGV: `${env.DEVMESH_SIDECAR_EXEC_ARGV ?? process.env.DEVMESH_SIDECAR_EXEC_ARGV ?? ''} ${flags[i]}`.trim() });
  const chains = [await chainOf(a, urlPath, layouts[0], envs[0]), await chainOf(b, urlPath, layouts[1], envs[1])];
  const mb = (c: Chain, f: (m: { rssMb: number; peakMb: number }) => number) => c.pids.reduce((sum, pid) => sum + (memoryOf(pid) ? f(memoryOf(pid)!) : NaN), 0);
  const idle = chains.map((c) => mb(c, (m) => m.rssMb));
  const wrk = (c: Chain, secs: number) => runWrk(c.url, { connections: Number(connections), seconds: secs, host: c.host, cpu: CPUS?.load, script });
  await Promise.all(chains.map((c) => wrk(c, 2)));
  const runs: Round[][] = [[], []];
  process.stdout.write(`A ${a} (${layouts[0]}) ${JSON.stringify(envs[0])}\nB ${b} (${layouts[1]}) ${JSON.stringify(envs[1])}\nload average at start ${os.loadavg().map((x) => x.toFixed(2)).join(' / ')}; ${rounds} rounds of ${seconds} s, ${connections} connections each, ${script ? `wrk -s ${script}` : 'GET'} ${urlPath}${alternate ? ', one chain at a time' : ', both chains together'}\n`);
  const signal = (c: Chain) => { if (gcDir || profDir) for (const pid of c.pids) process.kill(pid, 'SIGUSR2'); };
  /** The probes' files, once every process has written its own. */
  const probeFiles = async (c: Chain, dir: string, ext: string) => {
    const files = c.pids.map((pid) => path.join(dir, `${pid}.${ext}`));
    for (let i = 0; i < 50 && !files.every((f) => existsSync(f)); i++) await new Promise((res) => setTimeout(res, 100));
    return files.filter((f) => existsSync(f));
  };
  /** Runs `drive` with chain i's counters around it and records its round. */
  const measured = async (indices: number[], k: number) => {
    for (const i of indices) for (const dir of [gcDir, profDir]) if (dir) for (const pid of chains[i].pids) rmSync(path.join(dir, `${pid}.${dir === gcDir ? 'gc.json' : 'cpuprofile'}`), { force: true });
    const before = chains.map((c) => ({ svc: cpuMsOf(c.svc.pid), sidecars: c.pids.map(cpuMsOf), ingest: c.ingestUs, split: cpuSplitOfAll(c.pids) }));
    for (const i of indices) signal(chains[i]);
    const results = await Promise.all(indices.map((i) => wrk(chains[i], Number(seconds))));
    for (const i of indices) signal(chains[i]);
    // The batches of the run's last 250 ms.
    await new Promise((res) => setTimeout(res, 400));
    for (const [j, i] of indices.entries()) {
      const c = chains[i];
      const n = results[j].requests;
      const was = before[i];
      const split = cpuSplitOfAll(c.pids);
      for (const key of Object.keys(split) as (keyof CpuSplit)[]) split[key] = ((split[key] - was.split[key]) * (key === 'voluntary' || key === 'involuntary' ? 1 : 1000)) / n;
      const round: Round = {
        rps: results[j].rps, errors: results[j].errors + results[j].non2xx,
        service: ((cpuMsOf(c.svc.pid) - was.svc) * 1000) / n,
        sidecar: (c.pids.reduce((sum, pid, x) => sum + cpuMsOf(pid) - was.sidecars[x], 0) * 1000) / n,
        intake: (c.ingestUs - was.ingest) / n, load: os.loadavg()[0], peakMb: mb(c, (m) => m.peakMb), split,
      };
      if (gcDir) {
        const sums = (await probeFiles(c, gcDir, 'gc.json')).map((f) => JSON.parse(readFileSync(f, 'utf8')) as GcSummary);
        const total = (f: (g: GcSummary) => number) => sums.reduce((x, g) => x + f(g), 0) / n;
        const kinds = (g: GcSummary, f: (name: string) => boolean, v: (x: { count: number; pauseMs: number }) => number) => Object.entries(g.kinds).filter(([name]) => f(name)).reduce((x, [, y]) => x + v(y), 0);
        round.gc = {
          scavenges: total((g) => kinds(g, (x) => x === 'Scavenge', (y) => y.count)),
          fullGcs: total((g) => kinds(g, (x) => x === 'MarkSweepCompact', (y) => y.count)),
          pauseUs: total((g) => kinds(g, () => true, (y) => y.pauseMs)) * 1000,
          survivedKb: total((g) => g.survivedBytes) / 1024, promotedKb: total((g) => g.promotedBytes) / 1024, youngKb: total((g) => g.youngAllocatedBytes) / 1024,
        };
      }
      runs[i].push(round);
      const g = round.gc;
      process.stdout.write(`round ${k + 1} ${i ? 'B' : 'A'}: ${round.rps.toFixed(0)} req/s, ${round.errors} errors; CPU µs/req service ${round.service.toFixed(0)}, sidecar process ${round.sidecar.toFixed(0)}, intake ${round.intake.toFixed(1)}; sidecar main thread ${split.main.toFixed(0)}, other threads ${split.helpers.toFixed(0)}, user ${split.user.toFixed(0)}, system ${split.system.toFixed(0)}, context switches/req ${split.voluntary.toFixed(2)} + ${split.involuntary.toFixed(2)} forced; sidecar peak ${round.peakMb.toFixed(1)} MB; load ${round.load.toFixed(1)}${g ? `; GC per 1000 req: ${(g.scavenges * 1000).toFixed(1)} scavenges, ${(g.fullGcs * 1000).toFixed(2)} full, pause ${g.pauseUs.toFixed(0)} µs/req, young allocated ${g.youngKb.toFixed(1)} KB/req, survived ${g.survivedKb.toFixed(2)}, promoted ${g.promotedKb.toFixed(2)} KB/req` : ''}\n`);
      if (profDir && k === Number(rounds) - 1) {
        for (const f of await probeFiles(c, profDir, 'cpuprofile')) process.stdout.write(`\n== ${i ? 'B' : 'A'} ${f} (last round, ${n} requests)\n${selfPerCall(f, n, 30).join('\n')}\n\n`);
      }
    }
  };
  for (let k = 0; k < Number(rounds); k++) {
    if (!alternate) await measured([0, 1], k);
    else for (const i of k % 2 ? [1, 0] : [0, 1]) await measured([i], k);
  }
  const med = (xs: number[]) => [...xs].sort((p, q) => p - q)[Math.floor(xs.length / 2)];
  for (const [name, pick, digits] of [['req/s', (r: Round) => r.rps, 0], ['service CPU µs/req', (r: Round) => r.service, 0], ['sidecar process CPU µs/req', (r: Round) => r.sidecar, 0], ['intake µs/req', (r: Round) => r.intake, 1],
    ['sidecar main thread CPU µs/req', (r: Round) => r.split.main, 0], ['sidecar other threads CPU µs/req', (r: Round) => r.split.helpers, 0],
    ['sidecar user CPU µs/req', (r: Round) => r.split.user, 0], ['sidecar system CPU µs/req', (r: Round) => r.split.system, 0],
    ['sidecar voluntary context switches/req', (r: Round) => r.split.voluntary, 2], ['sidecar forced context switches/req', (r: Round) => r.split.involuntary, 2],
    ...(gcDir ? [['scavenges per 1000 req', (r: Round) => r.gc!.scavenges * 1000, 1], ['full GCs per 1000 req', (r: Round) => r.gc!.fullGcs * 1000, 2], ['GC pause µs/req', (r: Round) => r.gc!.pauseUs, 0],
      ['young allocated KB/req', (r: Round) => r.gc!.youngKb, 1], ['scavenge survivors KB/req', (r: Round) => r.gc!.survivedKb, 2], ['promoted KB/req', (r: Round) => r.gc!.promotedKb, 2]] as const : [])] as const) {
    const ratios = runs[0].map((x, k) => pick(runs[1][k]) / pick(x));
    const sorted = [...ratios].sort((p, q) => p - q);
    process.stdout.write(`${name}: A ${med(runs[0].map(pick)).toFixed(digits)}, B ${med(runs[1].map(pick)).toFixed(digits)}; B/A median ${med(ratios).toFixed(3)} (rounds ${sorted[0].toFixed(2)}..${sorted[sorted.length - 1].toFixed(2)})\n`);
  }
  chains.forEach((c, i) => process.stdout.write(`${i ? 'B' : 'A'} sidecar process RSS idle ${idle[i].toFixed(1)} MB, peak ${mb(c, (m) => m.peakMb).toFixed(1)} MB, at end ${mb(c, (m) => m.rssMb).toFixed(1)} MB\n`));
  process.stdout.write(`load average at end ${os.loadavg().map((x) => x.toFixed(2)).join(' / ')}\n`);
  for (const c of chains) await c.stop();
  if (gcDir) rmSync(gcDir, { recursive: true, force: true });
  setTimeout(() => process.exit(0), 300).unref();
}

if (require.main === module) void main();
