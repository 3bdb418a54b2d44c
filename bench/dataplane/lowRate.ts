/**
 * What a request costs the sidecar process at low rates (issue 19: the
 * tail probe's line at 100 req/s showed 3.6x the CPU per request of 1,000
 * req/s). Three chains on the proxies' CPU, each driven alone in rounds whose
 * order rotates, at each rate and idle:
 *
 *   plain  the benchmark's devmesh chain (shared sidecar process), no probe
 *   probe  the same with `tailProbe.js` preloaded and recording (as
 *          `--only=tail` runs it: stall timer off, loop-delay histogram on)
 *   lean   the lean Node pair (lean.ts)
 *
 * Per run, from /proc/PID/task/TID/schedstat (ns, not jiffies): CPU per
 * request of the proxy process split by thread — the main thread, the
 * threads Node starts with the process (V8's platform workers, its delayed
 * task scheduler, the signal thread) and the threads started later (libuv's
 * pool) — the main thread's time slices per request (its wake-ups) and its
 * run-queue wait per request; idle: the same per second with no request.
 *
 *   node out/bench/dataplane/lowRate.js [seconds=5] [rounds=3] [--rates=50,100,200,500,1000] [--idle=5] [--chains=plain,probe,lean]
 *
 * `--chains=plain@DIR_A,plain@DIR_B` compares two builds (each a directory
 * holding its `out/`) the same way.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createCa } from '../../simulator/control/ca';
import { benchSnapshot, SERVICE_HOST, startDevmeshChain, type DevmeshChain } from './devmeshChain';
import type { PacedResult } from './paced';
import { freePort } from './ports';
import { CPUS, firstJsonLine, pin, sleep, spawnPinned } from './procs';

/** Per thread: [run ns, run-queue wait ns, time slices]. */
type Sched = Map<number, [number, number, number]>;

function schedOf(pid: number): Sched {
  const m: Sched = new Map();
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        const [run, wait, slices] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').trim().split(' ').map(Number);
        m.set(Number(tid), [run, wait, slices]);
      } catch { /* ended */ }
    }
  } catch { /* gone */ }
  return m;
}

export interface ThreadSplit { main: number; startup: number; later: number; mainSlices: number; mainWait: number }

/**
 * The difference between two readings, by thread group. `startupTids` are
 * the threads the process had right after it started (main and V8's
 * platform); any other thread is one started later (libuv's pool).
 */
function split(a: Sched, b: Sched, pid: number, startupTids: Set<number>): ThreadSplit {
  const s: ThreadSplit = { main: 0, startup: 0, later: 0, mainSlices: 0, mainWait: 0 };
  for (const [tid, [run, wait, slices]] of b) {
    const [r0, w0, s0] = a.get(tid) ?? [0, 0, 0];
    const ns = run - r0;
    if (tid === pid) { s.main += ns; s.mainSlices += slices - s0; s.mainWait += wait - w0; }
    else if (startupTids.has(tid)) s.startup += ns;
    else s.later += ns;
  }
  return s;
}

interface Chain { name: string; port: number; pid: number; startup: Set<number>; bracket: boolean; stop(): Promise<void> }

function paced(port: number, rate: number, seconds: number): Promise<PacedResult> {
  const arg = JSON.stringify({ port, host: SERVICE_HOST, rate, seconds, connections: 32, warmupSeconds: 0 });
  const child = spawnPinned(CPUS?.load, process.execPath, [path.join(__dirname, 'paced.js'), arg], { stdio: ['ignore', 'pipe', 'inherit'] });
  return firstJsonLine<PacedResult>(child, (seconds + 30) * 1000);
}

/** Threads of a process that exist before any request (the main thread, V8's platform, Node's signal thread). */
const threadsOf = (pid: number) => new Set(readdirSync(`/proc/${pid}/task`).map(Number));

/** `plain` or `probe` (this build), or `NAME@DIR`: the build in DIR (a directory holding its `out/`), for A/B. */
async function devmesh(name: string, servicePort: number, probe: boolean, dir: string): Promise<Chain> {
  const build = name.split('@')[1];
  const m = (build ? require(path.resolve(build, 'out/bench/dataplane/devmeshChain')) : { benchSnapshot, startDevmeshChain }) as { benchSnapshot: typeof benchSnapshot; startDevmeshChain: typeof startDevmeshChain };
  const ports = async (k: number) => Promise.all(Array.from({ length: k }, () => freePort()));
  const snap = m.benchSnapshot(servicePort, { client: await ports(3), server: await ports(3), ingress: await ports(2) });
  const extra = process.env.DEVMESH_SIDECAR_EXEC_ARGV ?? '';
  if (probe) {
    process.env.DEVMESH_SIDECAR_EXEC_ARGV = `${extra} --require ${path.join(__dirname, 'tailProbe.js')}`;
    process.env.DEVMESH_TAIL_DIR = dir;
    process.env.DEVMESH_TAIL_STALLS = 'off';
  }
  const started = m.startDevmeshChain(createCa({ trustDomain: 'cluster.local' }), snap, { sampling: 100, printAccessLog: false }, 'shared');
  process.env.DEVMESH_SIDECAR_EXEC_ARGV = extra;
  const mesh: DevmeshChain = await started;
  const pid = mesh.pids()[0];
  pin(pid, CPUS?.proxies);
  return { name, port: mesh.outboundPort, pid, startup: threadsOf(pid), bracket: probe, stop: () => mesh.stop() };
}

async function lean(servicePort: number): Promise<Chain> {
  const child = spawnPinned(CPUS?.proxies, process.execPath, [path.join(__dirname, 'lean.js'), String(servicePort)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const { port } = await firstJsonLine<{ port: number }>(child);
  pin(child.pid, CPUS?.proxies);
  return { name: 'lean', port, pid: child.pid!, startup: threadsOf(child.pid!), bracket: false, stop: async () => { child.kill(); } };
}

const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const range = (xs: number[], d = 0) => `${Math.min(...xs).toFixed(d)}..${Math.max(...xs).toFixed(d)}`;

async function main(): Promise<void> {
  const plain = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  const opt = (n: string) => process.argv.find((a) => a.startsWith(`--${n}=`))?.split('=')[1];
  const seconds = Number(plain[0] ?? 5);
  const rounds = Number(plain[1] ?? 3);
  const rates = (opt('rates') ?? '50,100,200,500,1000').split(',').map(Number);
  const idleSeconds = Number(opt('idle') ?? 5);
  const names = (opt('chains') ?? 'plain,probe,lean').split(',');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'devmesh-lowrate-'));
  const svc = spawnPinned(CPUS?.proxies, process.execPath, [path.join(__dirname, 'service.js')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const chains: Chain[] = [];
  try {
    const { port } = await firstJsonLine<{ port: number }>(svc);
    pin(svc.pid, CPUS?.proxies);
    for (const n of names) chains.push(n === 'lean' ? await lean(port) : await devmesh(n, port, n.startsWith('probe'), dir));
    // Warm-up: every chain through its JIT's first thousands of requests.
    for (const c of chains) await paced(c.port, 1000, 4);
    const rows = new Map<string, Array<{ perReq: ThreadSplit; svcUs: number; p50: number; p99: number }>>();
    const idle = new Map<string, ThreadSplit[]>();
    process.stdout.write(`load ${os.loadavg().map((x) => x.toFixed(2)).join(' / ')}; ${rounds} rounds, ${seconds} s per run, rates ${rates.join(', ')} + idle ${idleSeconds} s\n`);
    for (let round = 0; round < rounds; round++) {
      const order = chains.map((_, i) => chains[(i + round) % chains.length]);
      for (const c of order) {
        const a = schedOf(c.pid);
        await sleep(idleSeconds * 1000);
        const s = split(a, schedOf(c.pid), c.pid, c.startup);
        (idle.get(c.name) ?? idle.set(c.name, []).get(c.name)!).push(s);
      }
      for (const rate of rates) {
        for (const c of order) {
          if (c.bracket) process.kill(c.pid, 'SIGUSR2');
          const a = schedOf(c.pid);
          const sa = schedOf(svc.pid!);
          const r = await paced(c.port, rate, seconds);
          const b = schedOf(c.pid);
          const sb = schedOf(svc.pid!);
          if (c.bracket) process.kill(c.pid, 'SIGUSR2');
          const s = split(a, b, c.pid, c.startup);
          const n = r.sent;
          const perReq: ThreadSplit = { main: s.main / n / 1000, startup: s.startup / n / 1000, later: s.later / n / 1000, mainSlices: s.mainSlices / n, mainWait: s.mainWait / n / 1000 };
          const svcUs = [...sb].reduce((x, [tid, v]) => x + v[0] - (sa.get(tid)?.[0] ?? 0), 0) / n / 1000;
          const lat = [...r.latenciesMs].sort((x, y) => x - y);
          const row = { perReq, svcUs, p50: lat[Math.floor(lat.length * 0.5)], p99: lat[Math.floor(lat.length * 0.99)] };
          (rows.get(`${c.name}@${rate}`) ?? rows.set(`${c.name}@${rate}`, []).get(`${c.name}@${rate}`)!).push(row);
          process.stdout.write(`round ${round + 1} ${c.name.padEnd(6)} ${String(rate).padStart(5)} req/s: proxy ${(perReq.main + perReq.startup + perReq.later).toFixed(0)} µs/req (main ${perReq.main.toFixed(0)}, V8/startup threads ${perReq.startup.toFixed(0)}, later threads ${perReq.later.toFixed(0)}), main slices ${perReq.mainSlices.toFixed(2)}/req, run-queue wait ${perReq.mainWait.toFixed(0)} µs/req; service ${svcUs.toFixed(0)} µs/req; p50 ${row.p50.toFixed(3)} p99 ${row.p99.toFixed(3)} ms; errors ${r.errors}\n`);
        }
      }
    }
    process.stdout.write(`\nmedians of ${rounds} rounds (range of the total), load ${os.loadavg().map((x) => x.toFixed(2)).join(' / ')}\n`);
    process.stdout.write('| chain | req/s | proxy process µs/req (range) | main thread | V8 platform threads | libuv pool (later threads) | main thread slices/req | run-queue wait µs/req | service µs/req | p50 ms | p99 ms |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n');
    for (const c of chains) {
      const i = idle.get(c.name)!;
      const per = (f: (s: ThreadSplit) => number) => med(i.map(f)) / idleSeconds / 1000;
      process.stdout.write(`| ${c.name} | idle (per second) | ${per((s) => s.main + s.startup + s.later).toFixed(0)} µs/s | ${per((s) => s.main).toFixed(0)} | ${per((s) => s.startup).toFixed(0)} | ${per((s) => s.later).toFixed(0)} | ${(med(i.map((s) => s.mainSlices)) / idleSeconds).toFixed(1)}/s | — | — | — | — |\n`);
      for (const rate of rates) {
        const rs = rows.get(`${c.name}@${rate}`)!;
        const tot = rs.map((r) => r.perReq.main + r.perReq.startup + r.perReq.later);
        const m = (f: (r: (typeof rs)[number]) => number, d = 0) => med(rs.map(f)).toFixed(d);
        process.stdout.write(`| ${c.name} | ${rate} | ${med(tot).toFixed(0)} (${range(tot)}) | ${m((r) => r.perReq.main)} | ${m((r) => r.perReq.startup)} | ${m((r) => r.perReq.later)} | ${m((r) => r.perReq.mainSlices, 2)} | ${m((r) => r.perReq.mainWait)} | ${m((r) => r.svcUs)} | ${m((r) => r.p50, 3)} | ${m((r) => r.p99, 3)} |\n`);
      }
    }
  } finally {
    for (const c of chains) await c.stop();
    svc.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) void main().catch((e) => { process.stderr.write(`${(e as Error).stack}\n`); process.exitCode = 1; });
