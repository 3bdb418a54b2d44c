/**
 * One build's devmesh chain in several sidecar layouts, driven one at a time
 * in rounds whose order rotates, so the layouts are compared in the same
 * minutes on a shared machine (issue 19: why two workloads' sidecars in one
 * process cost more CPU per request than a process each). Every layout's
 * sidecar processes and its service are pinned to the proxies' CPU, wrk to
 * the load CPU, as the throughput table does; only the layout's chain 1
 * (client-v1 -> bench-v1 -> the service) is measured.
 *
 *   node out/bench/dataplane/abLayouts.js [rounds] [seconds] [connections] LAYOUT[@FLAGS] ... [--gc] [--together]
 *
 * LAYOUT:
 *   shared   client-v1 and bench-v1 in one process (the default for two workloads)
 *   process  each in its own process (DEVMESH_SIDECAR_LAYOUT=process)
 *   chain    two independent chains, two processes: {client-v1, bench-v1}, {client-v2, bench-v2}
 *            (chain 1 is `shared` with a second, idle pair in another process)
 *   cross    the same four sidecars as {client-v1, bench-v2}, {client-v2, bench-v1}: chain 1's
 *            two sides in two processes, each of which has also served the other side
 *            (chain 2's) in the warm-up, so its JIT feedback has seen both sides: `process`
 *            with the inline caches and optimized code of `shared`
 *   role     {client-v1, client-v2}, {bench-v1, bench-v2}: each process one side only
 * FLAGS: extra Node flags for that layout's sidecar processes, comma-separated
 *   (`shared@--max-semi-space-size=8`). A `:svc=CPUS` suffix pins that layout's
 *   service to CPUS (taskset list) instead of the proxies' CPU (`shared:svc=0`,
 *   the app beside wrk; `shared:svc=0,1` unpinned); `:batch` runs that
 *   layout's sidecar processes as SCHED_BATCH (`chrt -a -b -p 0`).
 * The warm-up drives every chain of every layout (chain 2 too) together for
 * 4 s, then each layout's chain 1 alone for 2 s.
 *
 * --perf counts kernel events per request with `perf stat` on the sidecar
 * processes and, apart, on the app (system calls by kind, page faults, context switches: counts,
 * so a busy machine blurs them far less than CPU time); --perf=EVENTS
 * chooses the events.
 * --loop preloads loopProbe.js in the sidecar processes: event-loop utilisation
 * and delay of the busiest process per round. --rate=R drives each measured
 * round with an open loop at R req/s (paced.js, CONNECTIONS connections)
 * instead of wrk's closed loop, so the layouts are compared at the same load
 * (a closed loop compares each at its own saturation).
 * --together drives every layout's chain 1 at the same time in each round
 * (as abChains does), so a busy machine disturbs them alike; fair between
 * layouts with the same number of busy processes (cross against role,
 * shared against shared@FLAGS), biased between others (the one with more
 * runnable threads gets more of the CPU, and batches less per wake-up).
 *
 * Prints per round and as medians: req/s, CPU µs per request of the service
 * and of the sidecar processes (main thread / other threads, user / system),
 * context switches per request, the ratio to the first layout of the same
 * round, and with --gc the GCs per request (gcProbe.ts); peak RSS of each
 * layout's processes at the end.
 */
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createCa } from '../../simulator/control/ca';
import type { SidecarLayout } from '../../simulator/control/sidecars';
import { benchSnapshot, chainHost, chainsSnapshot, SERVICE_HOST, startDevmeshChain, type DevmeshChain, type Placement } from './devmeshChain';
import type { GcSummary } from './gcProbe';
import type { LoopSummary } from './loopProbe';
import type { PacedResult } from './paced';
import { freePort } from './ports';
import { CPUS, cpuMsOf, cpuSplitOfAll, firstJsonLine, memoryOf, pin, runWrk, spawnPinned, type CpuSplit, type WrkResult } from './procs';

interface Setup { name: string; svc: ChildProcess; mesh: DevmeshChain; urls: Array<{ url: string; host: string }> }
interface Round { rps: number; errors: number; service: number; sidecar: number; split: CpuSplit; p50Ms: number; p99Ms: number; mainShare: number; loop?: { elu: number; delayP99Ms: number; delayMaxMs: number }; gc?: { scavenges: number; fullGcs: number; pauseUs: number; survivedKb: number; promotedKb: number; youngKb: number } }

const LAYOUTS: Record<string, { layout: SidecarLayout; chains: number; placement: Placement }> = {
  shared: { layout: 'shared', chains: 1, placement: 'chain' },
  process: { layout: 'process', chains: 1, placement: 'chain' },
  chain: { layout: 'shared', chains: 2, placement: 'chain' },
  cross: { layout: 'shared', chains: 2, placement: 'cross' },
  role: { layout: 'shared', chains: 2, placement: 'role' },
};

async function setup(spec: string): Promise<Setup> {
  const [layoutAndFlags, ...options] = spec.split(':');
  const serviceCpu = options.find((o) => o.startsWith('svc='))?.slice(4) ?? CPUS?.proxies;
  const [name, flags = ''] = layoutAndFlags.split('@');
  const l = LAYOUTS[name];
  if (!l) throw new Error(`layout "${name}": use one of ${Object.keys(LAYOUTS).join(', ')} (optionally @FLAGS)`);
  const svc = spawnPinned(serviceCpu, process.execPath, [path.join(__dirname, 'service.js')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const { port } = await firstJsonLine<{ port: number }>(svc);
  pin(svc.pid, serviceCpu);
  const ports = async (k: number) => Promise.all(Array.from({ length: k }, () => freePort()));
  const snap = l.chains === 1
    ? benchSnapshot(port, { client: await ports(3), server: await ports(3), ingress: await ports(2) })
    : chainsSnapshot([port, port], { chains: [{ client: await ports(3), server: await ports(3) }, { client: await ports(3), server: await ports(3) }], ingress: await ports(2) });
  // Read by sidecarExecArgv() when each process forks (synchronously, inside startDevmeshChain before its first await).
  const before = process.env.DEVMESH_SIDECAR_EXEC_ARGV;
  process.env.DEVMESH_SIDECAR_EXEC_ARGV = [before ?? '', flags.split(',').join(' ')].join(' ').trim();
  const started = startDevmeshChain(createCa({ trustDomain: 'cluster.local' }), snap, { sampling: 100, printAccessLog: false }, l.layout, 2, l.placement);
  if (before === undefined) delete process.env.DEVMESH_SIDECAR_EXEC_ARGV;
  else process.env.DEVMESH_SIDECAR_EXEC_ARGV = before;
  const mesh = await started;
  for (const pid of mesh.pids()) pin(pid, CPUS?.proxies);
  // SCHED_BATCH for every thread of the sidecar processes: the scheduler no longer lets a waking task preempt them at once.
  if (options.includes('batch')) for (const pid of mesh.pids()) execFileSync('chrt', ['-a', '-b', '-p', '0', String(pid)], { stdio: 'ignore' });
  const urls = mesh.outboundPorts.map((p, i) => ({ url: `http://127.0.0.1:${p}/`, host: l.chains === 1 ? SERVICE_HOST : chainHost(i + 1) }));
  return { name: spec, svc, mesh, urls };
}

/** Kernel events counted per sidecar process group with `perf stat` (tracepoints and software counters: no hardware counters needed). */
const PERF_EVENTS = 'raw_syscalls:sys_enter,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_epoll_pwait,syscalls:sys_enter_read,syscalls:sys_enter_write,syscalls:sys_enter_writev,syscalls:sys_enter_futex,syscalls:sys_enter_mprotect,syscalls:sys_enter_madvise,syscalls:sys_enter_mmap,syscalls:sys_enter_munmap,page-faults,context-switches';

/** `perf stat` on the processes (all their threads) until stop(), which answers the counts by event. */
function perfStat(pids: number[], events: string): { stop(): Promise<Record<string, number>> } {
  const perf = spawn('perf', ['stat', '-x', ',', '-e', events, '-p', pids.join(',')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  perf.stderr!.on('data', (d) => (err += d));
  return {
    stop: () => new Promise((resolve) => {
      perf.once('close', () => resolve(parsePerfStat(err)));
      perf.kill('SIGINT');
    }),
  };
}

/** `perf stat -x ,` output: count by event (`syscalls` for every system call, a system call's name for its tracepoint); uncounted events left out. */
export function parsePerfStat(text: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const f = line.split(',');
    if (f.length > 3 && /^\d+$/.test(f[0])) counts[f[2] === 'raw_syscalls:sys_enter' ? 'syscalls' : f[2].replace(/^syscalls:sys_enter_/, '')] = Number(f[0]);
  }
  return counts;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const plain = argv.filter((a) => !a.startsWith('--'));
  const [rounds, seconds, connections] = plain.slice(0, 3).map(Number);
  const specs = plain.slice(3);
  if (!rounds || !seconds || !connections || specs.length < 2) throw new Error('usage: node out/bench/dataplane/abLayouts.js ROUNDS SECONDS CONNECTIONS LAYOUT[@FLAGS] LAYOUT[@FLAGS] ... [--gc]');
  const together = argv.includes('--together');
  const perfEvents = argv.find((a) => a.startsWith('--perf='))?.slice('--perf='.length) ?? (argv.includes('--perf') ? PERF_EVENTS : undefined);
  const perfRuns: Array<Array<Record<string, number>>> = [];
  const gcDir = argv.includes('--gc') ? path.join(os.tmpdir(), `ablayouts-gc-${process.pid}`) : undefined;
  if (gcDir) {
    mkdirSync(gcDir, { recursive: true });
    process.env.DEVMESH_GC_DIR = gcDir;
    process.env.DEVMESH_SIDECAR_EXEC_ARGV = `${process.env.DEVMESH_SIDECAR_EXEC_ARGV ?? ''} --require ${path.join(__dirname, 'gcProbe.js')}`.trim();
  }
  const loopDir = argv.includes('--loop') ? path.join(os.tmpdir(), `ablayouts-loop-${process.pid}`) : undefined;
  if (loopDir) {
    mkdirSync(loopDir, { recursive: true });
    process.env.DEVMESH_LOOP_DIR = loopDir;
    process.env.DEVMESH_SIDECAR_EXEC_ARGV = `${process.env.DEVMESH_SIDECAR_EXEC_ARGV ?? ''} --require ${path.join(__dirname, 'loopProbe.js')}`.trim();
  }
  const bracket = !!(gcDir || loopDir);
  const rate = Number(argv.find((a) => a.startsWith('--rate='))?.slice('--rate='.length) ?? NaN);
  const setups: Setup[] = [];
  for (const spec of specs) setups.push(await setup(spec));
  const closedLoop = (u: { url: string; host: string }, secs: number) => runWrk(u.url, { connections, seconds: secs, host: u.host, cpu: CPUS?.load });
  // --rate=R: an open loop at R req/s (paced.js) instead of wrk's closed loop: every layout measured at the same load.
  const openLoop = async (u: { url: string; host: string }, secs: number): Promise<WrkResult> => {
    const port = Number(new URL(u.url).port);
    const child = spawnPinned(CPUS?.load, process.execPath, [path.join(__dirname, 'paced.js'), JSON.stringify({ port, host: u.host, rate, seconds: secs, connections, warmupSeconds: 0 })], { stdio: ['ignore', 'pipe', 'inherit'] });
    const r = await firstJsonLine<PacedResult>(child, (secs + 30) * 1000);
    const lat = [...r.latenciesMs].sort((a, b) => a - b);
    const at = (q: number) => lat[Math.min(lat.length - 1, Math.floor(lat.length * q))] ?? NaN;
    return { rps: r.ok / secs, requests: r.sent, errors: r.errors, non2xx: 0, p50Ms: at(0.5), p99Ms: at(0.99), command: `paced ${rate} req/s` };
  };
  const wrk = (u: { url: string; host: string }, secs: number) => (Number.isFinite(rate) && secs === seconds ? openLoop(u, secs) : closedLoop(u, secs));
  await Promise.all(setups.flatMap((s) => s.urls.map((u) => wrk(u, 4))));
  for (const s of setups) await wrk(s.urls[0], 2);
  process.stdout.write(`load average at start ${os.loadavg().map((x) => x.toFixed(2)).join(' / ')}; ${rounds} rounds of ${seconds} s, ${connections} connections, ${together ? 'every layout at the same time' : 'one layout at a time, rotating order'}\n`);
  const runs: Round[][] = setups.map(() => []);
  for (const _ of setups) perfRuns.push([]);
  const measure = async (i: number, k: number, r: WrkResult, was: { svc: number; split: CpuSplit; mains: number[] }) => {
    const s = setups[i];
    const pids = s.mesh.pids();
    const split = cpuSplitOfAll(pids);
    const n = r.requests;
    for (const key of Object.keys(split) as (keyof CpuSplit)[]) split[key] = ((split[key] - was.split[key]) * (key === 'voluntary' || key === 'involuntary' ? 1 : 1000)) / n;
    // The busiest sidecar process's main thread, as a share of the run's wall time (1.0: one core's worth, the loop saturated).
    const mainShare = Math.max(...pids.map((pid, j) => (cpuSplitOfAll([pid]).main - was.mains[j]) / (seconds * 1000)));
    const round: Round = { rps: r.rps, errors: r.errors + r.non2xx, service: ((cpuMsOf(s.svc.pid) - was.svc) * 1000) / n, sidecar: split.user + split.system, split, p50Ms: r.p50Ms, p99Ms: r.p99Ms, mainShare };
    if (loopDir) {
      const files = pids.map((pid) => path.join(loopDir, `${pid}.loop.json`));
      for (let t = 0; t < 50 && !files.every((f) => existsSync(f)); t++) await new Promise((res) => setTimeout(res, 100));
      const loops = files.filter((f) => existsSync(f)).map((f) => JSON.parse(readFileSync(f, 'utf8')) as LoopSummary);
      round.loop = { elu: Math.max(...loops.map((l) => l.elu)), delayP99Ms: Math.max(...loops.map((l) => l.delayP99Ms)), delayMaxMs: Math.max(...loops.map((l) => l.delayMaxMs)) };
    }
    if (gcDir) {
      const files = pids.map((pid) => path.join(gcDir, `${pid}.gc.json`));
      for (let t = 0; t < 50 && !files.every((f) => existsSync(f)); t++) await new Promise((res) => setTimeout(res, 100));
      const sums = files.filter((f) => existsSync(f)).map((f) => JSON.parse(readFileSync(f, 'utf8')) as GcSummary);
      const total = (f: (g: GcSummary) => number) => sums.reduce((x, g) => x + f(g), 0) / n;
      const kinds = (g: GcSummary, f: (kind: string) => boolean, v: (x: { count: number; pauseMs: number }) => number) => Object.entries(g.kinds).filter(([kind]) => f(kind)).reduce((x, [, y]) => x + v(y), 0);
      round.gc = {
        scavenges: total((g) => kinds(g, (x) => x === 'Scavenge', (y) => y.count)) * 1000,
        fullGcs: total((g) => kinds(g, (x) => x === 'MarkSweepCompact', (y) => y.count)) * 1000,
        pauseUs: total((g) => kinds(g, () => true, (y) => y.pauseMs)) * 1000,
        survivedKb: total((g) => g.survivedBytes) / 1024, promotedKb: total((g) => g.promotedBytes) / 1024, youngKb: total((g) => g.youngAllocatedBytes) / 1024,
      };
    }
    runs[i].push(round);
    const g = round.gc;
    const lp = round.loop;
    process.stdout.write(`round ${k + 1} ${s.name}: ${r.rps.toFixed(0)} req/s, p50 ${r.p50Ms.toFixed(1)} ms, p99 ${r.p99Ms.toFixed(1)} ms, ${round.errors} errors; busiest sidecar main thread ${(mainShare * 100).toFixed(0)} % of a core${lp ? `, loop utilisation ${lp.elu.toFixed(2)}, loop delay p99 ${lp.delayP99Ms.toFixed(1)} ms (max ${lp.delayMaxMs.toFixed(0)})` : ''}; CPU µs/req service ${round.service.toFixed(0)}, sidecars ${round.sidecar.toFixed(0)} (main ${split.main.toFixed(0)}, other threads ${split.helpers.toFixed(0)}, user ${split.user.toFixed(0)}, system ${split.system.toFixed(0)}), context switches/req ${split.voluntary.toFixed(2)} + ${split.involuntary.toFixed(2)} forced; load ${os.loadavg()[0].toFixed(1)}${g ? `; per 1000 req ${g.scavenges.toFixed(1)} scavenges, ${g.fullGcs.toFixed(2)} full GCs; GC pause ${g.pauseUs.toFixed(0)} µs/req, young allocated ${g.youngKb.toFixed(1)} KB/req, survived ${g.survivedKb.toFixed(2)}, promoted ${g.promotedKb.toFixed(2)}` : ''}\n`);
  };
  /** Drives the layouts `indices` at the same time and measures each. */
  const round = async (indices: number[], k: number) => {
    const pidsOf = indices.map((i) => setups[i].mesh.pids());
    if (gcDir) for (const pid of pidsOf.flat()) rmSync(path.join(gcDir, `${pid}.gc.json`), { force: true });
    if (loopDir) for (const pid of pidsOf.flat()) rmSync(path.join(loopDir, `${pid}.loop.json`), { force: true });
    const was = indices.map((i, j) => ({ svc: cpuMsOf(setups[i].svc.pid), split: cpuSplitOfAll(pidsOf[j]), mains: pidsOf[j].map((pid) => cpuSplitOfAll([pid]).main) }));
    if (bracket) for (const pid of pidsOf.flat()) process.kill(pid, 'SIGUSR2');
    const counters = perfEvents ? pidsOf.map((pids) => perfStat(pids, perfEvents)) : [];
    const appCounters = perfEvents ? indices.map((i) => perfStat([setups[i].svc.pid!], perfEvents)) : [];
    const results = await Promise.all(indices.map((i) => wrk(setups[i].urls[0], seconds)));
    if (bracket) for (const pid of pidsOf.flat()) process.kill(pid, 'SIGUSR2');
    const counted = await Promise.all(counters.map((c) => c.stop()));
    const appCounted = await Promise.all(appCounters.map((c) => c.stop()));
    // The app's counts beside the sidecars': how it is woken depends on the layout in front of it.
    counted.forEach((c, j) => { for (const [e, v] of Object.entries(appCounted[j])) c[`app ${e}`] = v; });
    for (const [j, i] of indices.entries()) {
      await measure(i, k, results[j], was[j]);
      if (counted[j]) {
        const perReq = Object.fromEntries(Object.entries(counted[j]).map(([e, v]) => [e, v / results[j].requests]));
        perfRuns[i].push(perReq);
        process.stdout.write(`  per request: ${Object.entries(perReq).map(([e, v]) => `${e} ${v.toFixed(2)}`).join(', ')}\n`);
      }
    }
  };
  for (let k = 0; k < rounds; k++) {
    if (together) await round(setups.map((_, i) => i), k);
    else for (let j = 0; j < setups.length; j++) await round([(j + k) % setups.length], k);
  }
  const med = (xs: number[]) => { const v = [...xs].sort((p, q) => p - q); return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2; };
  const measures: Array<[string, (r: Round) => number, number]> = [
    ['req/s', (r) => r.rps, 0], ['p50 ms', (r) => r.p50Ms, 1], ['p99 ms', (r) => r.p99Ms, 1], ['busiest sidecar main thread, share of a core', (r) => r.mainShare, 2],
    ...(loopDir ? [['loop utilisation (busiest process)', (r: Round) => r.loop!.elu, 2], ['loop delay p99 ms', (r: Round) => r.loop!.delayP99Ms, 1]] as Array<[string, (r: Round) => number, number]> : []),
    ['service + sidecars CPU µs/req', (r) => r.service + r.sidecar, 0], ['service CPU µs/req', (r) => r.service, 0], ['sidecar CPU µs/req', (r) => r.sidecar, 0],
    ['sidecar main thread µs/req', (r) => r.split.main, 0], ['sidecar other threads µs/req', (r) => r.split.helpers, 0],
    ['sidecar user µs/req', (r) => r.split.user, 0], ['sidecar system µs/req', (r) => r.split.system, 0],
    ['voluntary switches/req', (r) => r.split.voluntary, 2], ['forced switches/req', (r) => r.split.involuntary, 2],
    ...(gcDir ? [['scavenges/1000 req', (r: Round) => r.gc!.scavenges, 1], ['full GCs/1000 req', (r: Round) => r.gc!.fullGcs, 2], ['GC pause µs/req', (r: Round) => r.gc!.pauseUs, 0],
      ['young allocated KB/req', (r: Round) => r.gc!.youngKb, 1], ['scavenge survivors KB/req', (r: Round) => r.gc!.survivedKb, 2], ['promoted KB/req', (r: Round) => r.gc!.promotedKb, 2]] as Array<[string, (r: Round) => number, number]> : []),
  ];
  process.stdout.write(`\nmedians over ${rounds} rounds; x = ratio to ${setups[0].name} in the same round, median (min..max)\n`);
  for (const [label, pick, digits] of measures) {
    const cols = setups.map((s, i) => {
      const ratios = runs[i].map((r, k) => pick(r) / pick(runs[0][k])).sort((p, q) => p - q);
      return `${s.name} ${med(runs[i].map(pick)).toFixed(digits)}${i ? ` (x${med(ratios).toFixed(3)} ${ratios[0].toFixed(2)}..${ratios[ratios.length - 1].toFixed(2)})` : ''}`;
    });
    process.stdout.write(`${label}: ${cols.join('; ')}\n`);
  }
  for (const e of perfRuns[0]?.[0] ? Object.keys(perfRuns[0][0]) : []) {
    const cols = setups.map((s, i) => {
      const ratios = perfRuns[i].map((r, k) => r[e] / perfRuns[0][k][e]).sort((p, q) => p - q);
      return `${s.name} ${med(perfRuns[i].map((r) => r[e])).toFixed(2)}${i ? ` (x${med(ratios).toFixed(3)} ${ratios[0].toFixed(2)}..${ratios[ratios.length - 1].toFixed(2)})` : ''}`;
    });
    process.stdout.write(`${e} per request: ${cols.join('; ')}\n`);
  }
  for (const s of setups) process.stdout.write(`${s.name}: sidecar processes peak RSS ${s.mesh.pids().map((p) => memoryOf(p)?.peakMb.toFixed(1)).join(' + ')} MB\n`);
  process.stdout.write(`load average at end ${os.loadavg().map((x) => x.toFixed(2)).join(' / ')}\n`);
  for (const s of setups) { await s.mesh.stop(); s.svc.kill(); }
  if (gcDir) rmSync(gcDir, { recursive: true, force: true });
  if (loopDir) rmSync(loopDir, { recursive: true, force: true });
  setTimeout(() => process.exit(0), 300).unref();
}

if (require.main === module) void main();
