/**
 * Where one request's time goes at a low rate (issue 19): the kernel's own
 * timestamps of every TCP segment on the chain (`perf record` of the
 * `tcp:tcp_probe` tracepoint, which fires as the receiving socket takes the
 * segment in — on loopback, inside the sender's write) and of the scheduler
 * (`sched:sched_wakeup`, `sched:sched_switch`), while the paced client drives
 * the chain at a low rate, so requests do not overlap. No probe in the
 * processes: what they run is what the benchmark runs.
 *
 * Per request, the legs in order (each: the first segment's time):
 *
 *   c->o  the client's request reaches the caller's proxy (outbound listener)
 *   o->i  the caller's proxy's request reaches the callee's proxy (mTLS)
 *   i->a  the callee's proxy's request reaches the app
 *   a->i  the app's response reaches the callee's proxy
 *   i->o  the callee's proxy's response reaches the caller's proxy (mTLS)
 *   o->c  the caller's proxy's response reaches the client
 *
 * and between them: how long the proxy process waited to run after it was
 * woken (run-queue delay), how long it ran, and how long CPU 1 ran anything
 * outside the chain (other work on a shared machine).
 *
 *   node out/bench/dataplane/timeline.js [rate=100] [seconds=5] [--chains=devmesh,lean] [--rounds=2]
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createCa } from '../../simulator/control/ca';
import { benchSnapshot, SERVICE_HOST, startDevmeshChain } from './devmeshChain';
import type { PacedResult } from './paced';
import { freePort } from './ports';
import { CPUS, firstJsonLine, pin, sleep, spawnPinned } from './procs';

interface Chain { name: string; outbound: number; inbound: number[]; app: number; pids: number[]; stop(): Promise<void> }

/** Every TCP port `pid` listens on (from /proc/PID/net/tcp and the process's socket inodes). */
function listeningPorts(pid: number): number[] {
  const inodes = new Set<string>();
  for (const fd of execFileSync('ls', ['-l', `/proc/${pid}/fd`], { encoding: 'utf8' }).split('\n')) {
    const m = /socket:\[(\d+)\]/.exec(fd);
    if (m) inodes.add(m[1]);
  }
  return readFileSync(`/proc/${pid}/net/tcp`, 'utf8').split('\n').slice(1).map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length > 9 && f[3] === '0A' && inodes.has(f[9])).map((f) => parseInt(f[1].split(':')[1], 16));
}

type Leg = 'c->o' | 'o->i' | 'i->a' | 'a->i' | 'i->o' | 'o->c';
const LEGS: Leg[] = ['c->o', 'o->i', 'i->a', 'a->i', 'i->o', 'o->c'];

interface Seg { t: number; leg: Leg; len: number }
interface Sched { t: number; cpu: number; kind: 'switch' | 'wakeup'; prevPid?: number; nextPid?: number; pid?: number }

/** tcp_probe's `src` is the receiving socket's own address, `dest` its peer. */
function legOf(c: Chain, local: number, peer: number): Leg | undefined {
  if (local === c.outbound) return 'c->o';
  if (peer === c.outbound) return 'o->c';
  if (local === c.app) return 'i->a';
  if (peer === c.app) return 'a->i';
  if (c.inbound.includes(local)) return 'o->i';
  if (c.inbound.includes(peer)) return 'i->o';
  return undefined;
}

function parse(c: Chain, text: string): { segs: Seg[]; sched: Sched[] } {
  const segs: Seg[] = [];
  const sched: Sched[] = [];
  for (const line of text.split('\n')) {
    const m = /\[(\d+)\]\s+([\d.]+):\s+(\S+):\s+(.*)$/.exec(line);
    if (!m) continue;
    const t = Number(m[2]) * 1000;
    const cpu = Number(m[1]);
    if (m[3] === 'tcp:tcp_probe') {
      const p = /src=127\.0\.0\.1:(\d+) dest=127\.0\.0\.1:(\d+) .*data_len=(\d+)/.exec(m[4]);
      if (!p) continue;
      const leg = legOf(c, Number(p[1]), Number(p[2]));
      if (leg) segs.push({ t, leg, len: Number(p[3]) });
    } else if (m[3] === 'sched:sched_switch') {
      const p = /prev_pid=(\d+).*next_pid=(\d+)/.exec(m[4]);
      if (p) sched.push({ t, cpu, kind: 'switch', prevPid: Number(p[1]), nextPid: Number(p[2]) });
    } else if (m[3] === 'sched:sched_wakeup') {
      const p = /pid=(\d+)/.exec(m[4]);
      if (p) sched.push({ t, cpu, kind: 'wakeup', pid: Number(p[1]) });
    }
  }
  return { segs, sched };
}

interface Req { t: Record<Leg, number>; segments: Record<Leg, number>; end: number }

/** Requests from the segments: a `c->o` segment opens one, the first `o->c` after it closes it. */
function requests(segs: Seg[]): Req[] {
  const out: Req[] = [];
  let cur: Req | undefined;
  for (const s of segs) {
    if (s.leg === 'c->o') {
      cur = { t: { 'c->o': s.t } as Record<Leg, number>, segments: Object.fromEntries(LEGS.map((l) => [l, 0])) as Record<Leg, number>, end: NaN };
    }
    if (!cur) continue;
    cur.segments[s.leg]++;
    if (cur.t[s.leg] === undefined) cur.t[s.leg] = s.t;
    if (s.leg === 'o->c') { cur.end = s.t; if (LEGS.every((l) => cur!.t[l] !== undefined)) out.push(cur); cur = undefined; }
  }
  return out;
}

type Who = 'proxy' | 'helpers' | 'app' | 'other' | 'idle';
const WHO: Who[] = ['proxy', 'helpers', 'app', 'other', 'idle'];

/**
 * Within [a, b] on the proxies' CPU, what ran: the proxy processes' main
 * threads, their other threads (V8's helpers), the app, anything else, or
 * nothing (idle). `switches`: the proxies' CPU's sched_switch events in order.
 */
function cpuIn(switches: Sched[], a: number, b: number, mains: Set<number>, helpers: Set<number>, app: Set<number>): Record<Who, number> {
  const r: Record<Who, number> = { proxy: 0, helpers: 0, app: 0, other: 0, idle: 0 };
  const who = (pid: number | undefined): Who => (pid === 0 ? 'idle' : pid === undefined ? 'other' : mains.has(pid) ? 'proxy' : helpers.has(pid) ? 'helpers' : app.has(pid) ? 'app' : 'other');
  // Binary search for the first switch at or after a.
  let lo = 0, hi = switches.length;
  while (lo < hi) { const mid = (lo + hi) >> 1; if (switches[mid].t < a) lo = mid + 1; else hi = mid; }
  let running = lo > 0 ? switches[lo - 1].nextPid : switches[lo]?.prevPid;
  let from = a;
  for (let i = lo; i < switches.length && switches[i].t <= b; i++) {
    r[who(running)] += switches[i].t - from;
    running = switches[i].nextPid;
    from = switches[i].t;
  }
  r[who(running)] += b - from;
  return r;
}

const tidsOf = (pid: number): number[] => { try { return execFileSync('ls', [`/proc/${pid}/task`], { encoding: 'utf8' }).trim().split('\n').map(Number); } catch { return []; } };
const pct = (xs: number[], q: number) => { const s = [...xs].sort((x, y) => x - y); return s[Math.min(s.length - 1, Math.floor(s.length * q))] ?? NaN; };

/** `devmesh`: this build; `devmesh@DIR`: the build in DIR (a directory holding its `out/`), for A/B. */
async function devmeshChain(spec: string, app: number): Promise<Chain> {
  const dir = spec.split('@')[1];
  const m = (dir ? require(path.resolve(dir, 'out/bench/dataplane/devmeshChain')) : { benchSnapshot, startDevmeshChain }) as { benchSnapshot: typeof benchSnapshot; startDevmeshChain: typeof startDevmeshChain };
  const ports = async (k: number) => Promise.all(Array.from({ length: k }, () => freePort()));
  const client = await ports(3), server = await ports(3);
  const snap = m.benchSnapshot(app, { client, server, ingress: await ports(2) });
  const mesh = await m.startDevmeshChain(createCa({ trustDomain: 'cluster.local' }), snap, { sampling: 100, printAccessLog: false }, 'shared');
  for (const pid of mesh.pids()) pin(pid, CPUS?.proxies);
  return { name: spec, outbound: client[1], inbound: [server[0], client[0]], app, pids: mesh.pids(), stop: () => mesh.stop() };
}

async function leanChain(app: number): Promise<Chain> {
  const child = spawnPinned(CPUS?.proxies, process.execPath, [path.join(__dirname, 'lean.js'), String(app)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const { port } = await firstJsonLine<{ port: number }>(child);
  pin(child.pid, CPUS?.proxies);
  return { name: 'lean', outbound: port, inbound: listeningPorts(child.pid!).filter((p) => p !== port), app, pids: [child.pid!], stop: async () => { child.kill(); } };
}

function paced(port: number, rate: number, seconds: number): Promise<PacedResult> {
  const arg = JSON.stringify({ port, host: SERVICE_HOST, rate, seconds, connections: 32, warmupSeconds: 0 });
  const child = spawnPinned(CPUS?.load, process.execPath, [path.join(__dirname, 'paced.js'), arg], { stdio: ['ignore', 'pipe', 'inherit'] });
  return firstJsonLine<PacedResult>(child, (seconds + 30) * 1000);
}

async function record(c: Chain, svcPid: number, rate: number, seconds: number, dir: string): Promise<string[]> {
  const file = path.join(dir, 'perf.data');
  const perf = spawn('perf', ['record', '-q', '-a', '-e', 'tcp:tcp_probe', '--filter', 'data_len > 0', '-e', 'sched:sched_switch', '-e', 'sched:sched_wakeup', '-o', file], { stdio: 'ignore' });
  await sleep(500);
  const r = await paced(c.outbound, rate, seconds);
  await new Promise<void>((res) => { perf.once('exit', () => res()); perf.kill('SIGINT'); });
  const text = execFileSync('perf', ['script', '-i', file, '-F', 'cpu,time,event,trace'], { encoding: 'utf8', maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'ignore'] });
  const { segs, sched } = parse(c, text);
  const reqs = requests(segs);
  const mains = new Set(c.pids);
  const helpers = new Set(c.pids.flatMap(tidsOf).filter((t) => !mains.has(t)));
  const app = new Set(tidsOf(svcPid));
  const cpu = Number(CPUS?.proxies ?? 1);
  const switches = sched.filter((e) => e.kind === 'switch' && e.cpu === cpu);
  // Run-queue delay of the proxy's main thread: from each wake-up to its next switch-in.
  const wakeDelay: number[] = [];
  for (const pid of c.pids) {
    let woke: number | undefined;
    for (const e of sched) {
      if (e.kind === 'wakeup' && e.pid === pid) woke ??= e.t;
      else if (e.kind === 'switch' && e.nextPid === pid && woke !== undefined) { wakeDelay.push(e.t - woke); woke = undefined; }
    }
  }
  const gaps = LEGS.slice(1).map((l, i) => ({ name: `${LEGS[i]} .. ${l}`, ms: reqs.map((q) => q.t[l] - q.t[LEGS[i]]), who: reqs.map((q) => cpuIn(switches, q.t[LEGS[i]], q.t[l], mains, helpers, app)) }));
  const total = reqs.map((q) => q.t['o->c'] - q.t['c->o']);
  const split = reqs.map((q) => cpuIn(switches, q.t['c->o'], q.t['o->c'], mains, helpers, app));
  // What the proxy's main thread still ran after the response left, before it slept (bookkeeping off the request's path).
  const after = reqs.map((q) => { const i = switches.findIndex((e) => e.t > q.t['o->c'] && mains.has(e.prevPid!)); return i < 0 ? NaN : switches[i].t - q.t['o->c']; });
  // Requests whose whole span saw no other task on the proxies' CPU: the chain alone.
  const clean = reqs.map((_, k) => split[k].other === 0);
  const segsPer = LEGS.map((l) => `${l} ${(reqs.reduce((x, q) => x + q.segments[l], 0) / reqs.length).toFixed(2)}`).join(', ');
  const f = (x: number) => (x * 1000).toFixed(0).padStart(5);
  return [
    `== ${c.name}: ${rate} req/s, ${seconds} s, ${reqs.length} requests traced of ${r.sent} (client p50 ${pct(r.latenciesMs, 0.5).toFixed(3)} ms, p99 ${pct(r.latenciesMs, 0.99).toFixed(3)}); load ${os.loadavg().map((x) => x.toFixed(2)).join(' / ')}`,
    `segments per request: ${segsPer}`,
    `µs, p10 / p50 / p90 of all traced requests; then the medians of the ${clean.filter(Boolean).length} requests no other task on CPU ${cpu} touched: the gap and what CPU ${cpu} ran in it (${WHO.join(' / ')})`,
    ...gaps.map((g) => `  ${g.name.padEnd(14)} ${f(pct(g.ms, 0.1))} ${f(pct(g.ms, 0.5))} ${f(pct(g.ms, 0.9))}   clean: ${f(pct(g.ms.filter((_, k) => clean[k]), 0.5))} = ${WHO.map((w) => f(pct(g.who.filter((_, k) => clean[k]).map((x) => x[w]), 0.5)).trim()).join(' / ')}`),
    `  ${'c->o .. o->c'.padEnd(14)} ${f(pct(total, 0.1))} ${f(pct(total, 0.5))} ${f(pct(total, 0.9))}   clean: ${f(pct(total.filter((_, k) => clean[k]), 0.5))} = ${WHO.map((w) => f(pct(split.filter((_, k) => clean[k]).map((x) => x[w]), 0.5)).trim()).join(' / ')}  (first byte in to first byte out, kernel clock)`,
    `  the proxy main thread ran on after the response left: p50 ${f(pct(after.filter((x, k) => clean[k] && Number.isFinite(x)), 0.5))} µs (clean requests)`,
    `  proxy main thread: ${wakeDelay.length} wake-ups in the run (${(wakeDelay.length / (r.sent || 1)).toFixed(2)} per request), run-queue delay p50 ${f(pct(wakeDelay, 0.5))} p90 ${f(pct(wakeDelay, 0.9))} µs`,
  ];
}

async function main(): Promise<void> {
  const plain = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  const opt = (n: string) => process.argv.find((a) => a.startsWith(`--${n}=`))?.split('=')[1];
  const rate = Number(plain[0] ?? 100);
  const seconds = Number(plain[1] ?? 5);
  const rounds = Number(opt('rounds') ?? 2);
  const names = (opt('chains') ?? 'devmesh,lean').split(',');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'devmesh-timeline-'));
  const svc = spawnPinned(CPUS?.proxies, process.execPath, [path.join(__dirname, 'service.js')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const chains: Chain[] = [];
  try {
    const { port } = await firstJsonLine<{ port: number }>(svc);
    pin(svc.pid, CPUS?.proxies);
    for (const n of names) chains.push(n === 'lean' ? await leanChain(port) : await devmeshChain(n, port));
    for (const c of chains) await paced(c.outbound, 1000, 4);
    for (let round = 0; round < rounds; round++) {
      for (const c of chains.map((_, i) => chains[(i + round) % chains.length])) {
        process.stdout.write(`${(await record(c, svc.pid!, rate, seconds, dir)).join('\n')}\n\n`);
      }
    }
  } finally {
    for (const c of chains) await c.stop();
    svc.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) void main().catch((e) => { process.stderr.write(`${(e as Error).stack}\n`); process.exitCode = 1; });
