/**
 * `npm run bench -- dataplane [--quick]`: the data plane measured side by side,
 * in one run, on 127.0.0.1:
 *
 *   direct   wrk -> service
 *   devmesh  wrk -> client sidecar (outbound) -> mTLS HTTP/2 -> bench sidecar (inbound) -> service
 *   nginx    wrk -> nginx -> mTLS -> nginx -> service
 *   lean     wrk -> lean Node pair (one HTTP/2 mTLS session, no filters; dataplane/lean.ts) -> service
 *
 * The load generator runs on CPU 0; the service and the proxies on CPU 1
 * (taskset), so every chain gets the same single core and the figures are
 * ratios first, absolute numbers second. Scenarios: closed-loop throughput
 * (wrk, keep-alive, 16 and 64 connections), open-loop latency at fixed
 * rates (paced.ts, 100 and 1,000 req/s), a 64 KiB response, RSS idle and
 * under load, two chains against one by process layout (every core),
 * `devmesh up` time for bookinfo, config propagation, and telemetry on vs off;
 * with `--only=tail` (never by default) what the slow requests of the fixed
 * rates overlapped in the sidecar process (dataplane/tail.ts).
 * Every step has a deadline; nothing here is pass/fail.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { createCa } from '../simulator/control/ca';
import { sharedProcessCount } from '../simulator/control/sidecars';
import { spiffeId } from '../simulator/policy/hosts';
import type { BootstrapOptions } from '../simulator/protocol';
import { benchSnapshot, chainHost, chainsSnapshot, SERVICE_HOST, startDevmeshChain, type DevmeshChain, type Placement } from './dataplane/devmeshChain';
import { nginxAvailable, startNginxChain, type NginxChain } from './dataplane/nginx';
import type { PacedResult } from './dataplane/paced';
import { freePort } from './dataplane/ports';
import { CPUS, cpuMsOf, firstJsonLine, has, machineBusyMs, memoryOf, NICE, pin, runWrk, sleep, spawnPinned, type WrkResult } from './dataplane/procs';
import { tailRuns } from './dataplane/tail';
import { prepareBookinfo, timePropagation, timeUp } from './dataplane/up';
import { percentile, type BenchResult } from './stats';
import { onCleanup, phase } from './lifecycle';

interface Target { name: string; port: number; host?: string; pids: () => number[] }

const LEAN = 'lean Node pair (one HTTP/2 mTLS session)';

export interface DataplaneOptions { quick?: boolean; only?: string[] }

const fmt = (n: number, d = 0) => (Number.isFinite(n) ? n.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d }) : '—');
const ratio = (a: number, b: number | undefined) => (b && Number.isFinite(a) && Number.isFinite(b) ? `${(a / b).toFixed(2)}x` : '—');
const table = (head: string[], rows: string[][]) => [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');

function get(port: number, host: string | undefined, p = '/'): Promise<{ status: number; headers: http.IncomingHttpHeaders; bytes: number }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: p, headers: host ? { host } : {}, agent: false, timeout: 5000 }, (res) => {
      let bytes = 0;
      res.on('data', (d: Buffer) => (bytes += d.length));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, bytes }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

async function paced(t: Target, rate: number, seconds: number): Promise<PacedResult> {
  const arg = JSON.stringify({ port: t.port, host: t.host, rate, seconds, connections: 32, warmupSeconds: 1 });
  const child = spawnPinned(CPUS?.load, process.execPath, [path.join(__dirname, 'dataplane', 'paced.js'), arg], { stdio: ['ignore', 'pipe', 'inherit'] });
  return firstJsonLine<PacedResult>(child, (seconds + 30) * 1000);
}

/** An open loop at `rate` for `seconds` (no warm-up) with the CPU per request of the target's processes. */
async function pacedWithCpu(t: Target, rate: number, seconds: number, connections: number): Promise<{ cpu: number; p50: number; p99: number; errors: number }> {
  const pids = t.pids();
  const before = pids.map(cpuMsOf);
  const arg = JSON.stringify({ port: t.port, host: t.host, rate, seconds, connections, warmupSeconds: 0 });
  const child = spawnPinned(CPUS?.load, process.execPath, [path.join(__dirname, 'dataplane', 'paced.js'), arg], { stdio: ['ignore', 'pipe', 'inherit'] });
  const r = await firstJsonLine<PacedResult>(child, (seconds + 30) * 1000);
  const used = pids.map(cpuMsOf).reduce((a, b, i) => a + b - before[i], 0);
  return { cpu: r.sent > 0 ? (used * 1000) / r.sent : NaN, p50: percentile(r.latenciesMs, 50), p99: percentile(r.latenciesMs, 99), errors: r.errors };
}

async function wrkWithCpu(t: Target, connections: number, seconds: number, p = '/'): Promise<WrkResult & { cpuUsPerReq: number }> {
  const pids = t.pids();
  const before = pids.map(cpuMsOf);
  const r = await runWrk(`http://127.0.0.1:${t.port}${p}`, { connections, seconds, host: t.host });
  const used = pids.map(cpuMsOf).reduce((a, b, i) => a + b - before[i], 0);
  return { ...r, cpuUsPerReq: r.requests > 0 ? (used * 1000) / r.requests : NaN };
}

export async function benchDataplane(o: DataplaneOptions = {}): Promise<BenchResult> {
  const want = (s: string) => !o.only || o.only.length === 0 || o.only.includes(s);
  const secs = o.quick ? 1 : 4;
  const rounds = o.quick ? 1 : 3;
  const notes: string[] = [];
  const md: string[] = [];
  const load = () => os.loadavg().map((x) => x.toFixed(2)).join(' / ');
  md.push(`Load average at start (1/5/15 min): ${load()}. Pinning: ${CPUS ? `wrk and the paced client on CPU ${CPUS.load}; service, sidecars and nginx on CPU ${CPUS.proxies}` : 'none (taskset missing or one CPU)'}; every process of the run at nice ${NICE} (when allowed) so other work on the machine disturbs all chains less. Run length: ${secs} s per wrk run after a warm-up (3 s passes at 64 connections until a chain has served 10,000 requests, three at most); throughput figures are the median of ${rounds} rounds that alternate the chains.`);
  if (!has('wrk')) throw new Error('wrk is not installed (apt-get install -y wrk); the data-plane benchmark needs it');

  /** Issue 19's target rows, filled in by the scenarios that measure them and printed together at the end. */
  const goals: Goals = { cpu: [], latency: [], memory: [], cores: [] };
  const dir = mkdtempSync(path.join(os.tmpdir(), 'devmesh-bench-'));
  const ca = createCa({ trustDomain: 'cluster.local' });
  const stops: Array<() => unknown> = [];
  // A signal or an uncaught error (runHarness in lifecycle.ts) still stops nginx and the sidecars in order; every process is tracked besides.
  const noCleanup = onCleanup(async () => { await stopAll(stops); rmSync(dir, { recursive: true, force: true }); });
  try {
    // ---- the service ----
    phase('dataplane: start the service');
    const svc = spawnPinned(CPUS?.proxies, process.execPath, [path.join(__dirname, 'dataplane', 'service.js')], { stdio: ['ignore', 'pipe', 'inherit'] });
    stops.push(() => svc.kill());
    const { port: servicePort, bytes } = await firstJsonLine<{ port: number; bytes: number }>(svc);

    // ---- devmesh: the telemetry setting the obs work reads (sampling %) ----
    const ports = async (n: number) => Promise.all(Array.from({ length: n }, () => freePort()));
    const snap = benchSnapshot(servicePort, { client: await ports(3), server: await ports(3), ingress: await ports(2) });
    // As `devmesh up` runs them: access-log lines kept for /access_log, not printed; 100 % trace sampling.
    const telemetryOn: BootstrapOptions = { sampling: 100, printAccessLog: false };
    const telemetryOff: BootstrapOptions = { ...telemetryOn, observability: false };
    phase('dataplane: start the devmesh chain (shared layout)');
    const mesh: DevmeshChain = await startDevmeshChain(ca, snap, telemetryOn, 'shared');
    stops.push(() => mesh.stop());
    for (const pid of mesh.pids()) pin(pid, CPUS?.proxies);
    // The same chain with one process per sidecar (DEVMESH_SIDECAR_LAYOUT=process), for the throughput table.
    const snapP = benchSnapshot(servicePort, { client: await ports(3), server: await ports(3), ingress: await ports(2) });
    phase('dataplane: start the devmesh chain (a process per sidecar)');
    const meshP: DevmeshChain = await startDevmeshChain(ca, snapP, telemetryOn, 'process');
    stops.push(() => meshP.stop());
    for (const pid of meshP.pids()) pin(pid, CPUS?.proxies);

    // ---- nginx ----
    let nginx: NginxChain | undefined;
    if (nginxAvailable()) {
      phase('dataplane: start nginx');
      nginx = await startNginxChain(path.join(dir, 'nginx'), {
        servicePort, frontPort: await freePort(), backPort: await freePort(), cpu: CPUS?.proxies,
        client: ca.issue(spiffeId('cluster.local', 'default', 'nginx-front')), server: ca.issue(spiffeId('cluster.local', 'default', 'nginx-back')),
      });
      stops.push(() => nginx!.stop());
    } else notes.push('nginx is not installed: the nginx chain was skipped (apt-get install -y nginx).');

    // ---- the lean Node pair: what Node's HTTP stack costs used plainly (the baseline devmesh is held to) ----
    phase('dataplane: start the lean pair');
    const lean = spawnPinned(CPUS?.proxies, process.execPath, [path.join(__dirname, 'dataplane', 'lean.js'), String(servicePort)], { stdio: ['ignore', 'pipe', 'inherit'] });
    stops.push(() => lean.kill());
    const { port: leanPort } = await firstJsonLine<{ port: number }>(lean);
    pin(lean.pid, CPUS?.proxies);

    const targets: Target[] = [
      { name: 'direct', port: servicePort, pids: () => [svc.pid!] },
      { name: 'devmesh', port: mesh.outboundPort, host: SERVICE_HOST, pids: () => [svc.pid!, ...mesh.pids()] },
      { name: 'devmesh, process per sidecar', port: meshP.outboundPort, host: SERVICE_HOST, pids: () => [svc.pid!, ...meshP.pids()] },
      { name: LEAN, port: leanPort, pids: () => [svc.pid!, lean.pid!] },
      ...(nginx ? [{ name: 'nginx', port: nginx.frontPort, pids: () => [svc.pid!, nginx!.front.pid!, nginx!.back.pid!] }] : []),
    ];
    /** Direct, devmesh (default layout) and nginx: the chains every scenario compares. */
    const main = targets.filter((t) => !t.name.includes('process per sidecar') && t.name !== LEAN);
    /** The fixed-rate latency also runs the lean pair: what plain Node adds at those rates. */
    const pacedChains = targets.filter((t) => !t.name.includes('process per sidecar'));
    for (const t of targets) {
      phase(`dataplane: first GET / through ${t.name}`);
      const r = await get(t.port, t.host);
      if (r.status !== 200) throw new Error(`${t.name}: GET / answered ${r.status}`);
    }
    const check = await get(mesh.outboundPort, SERVICE_HOST);
    md.push(`Response: ${bytes} bytes of JSON; through devmesh the route's response header is ${check.headers['x-bench-route'] ? 'present' : 'MISSING'} (VirtualService applied).`);

    const proxyMem = () => {
      const rows: Array<[string, ReturnType<typeof memoryOf>]> = [[`devmesh, shared process of client-v1 + bench-v1 (pid ${mesh.pids()[0]})`, memoryOf(mesh.pids()[0])]];
      for (const sc of meshP.sidecars) rows.push([`devmesh, own process of ${sc.key} (pid ${sc.pid})`, memoryOf(sc.pid)]);
      if (nginx) rows.push([`nginx front pid ${nginx.front.pid}`, memoryOf(nginx.front.pid)], [`nginx back pid ${nginx.back.pid}`, memoryOf(nginx.back.pid)]);
      return rows;
    };
    const idle = proxyMem();

    // ---- warm-up: JIT and pools, not recorded ----
    // A sidecar's CPU per request still falls over its first ~5,000 requests (TurboFan
    // reaching the per-request code; cpu11 in BENCHMARKS.md): a chain warms until it has
    // served WARM_REQUESTS or for three passes, whichever comes first.
    const WARM_REQUESTS = o.quick ? 0 : 10_000;
    for (const t of targets) {
      phase(`dataplane: warm-up of ${t.name}`);
      let served = 0;
      for (let pass = 0; pass < 3 && (pass === 0 || served < WARM_REQUESTS); pass++) {
        served += (await runWrk(`http://127.0.0.1:${t.port}/`, { connections: 64, seconds: o.quick ? 1 : 3, host: t.host })).requests;
      }
    }

    // ---- throughput ----
    if (want('throughput')) {
      const rows: string[][] = [];
      let command = '';
      let at64: Record<string, WrkResult & { cpuUsPerReq: number }> = {};
      for (const c of [16, 64]) {
        // Rounds alternate the chains so a burst of outside load hits them alike; the median round counts.
        const runs: Record<string, Array<WrkResult & { cpuUsPerReq: number }>> = {};
        for (let round = 0; round < rounds; round++) {
          for (const t of targets) {
            phase(`dataplane: throughput, ${c} connections, round ${round + 1} of ${rounds}, ${t.name}`);
            (runs[t.name] ??= []).push(await wrkWithCpu(t, c, secs)); command ||= runs[t.name][0].command;
          }
        }
        const res: Record<string, WrkResult & { cpuUsPerReq: number }> = {};
        for (const [name, rs] of Object.entries(runs)) res[name] = [...rs].sort((a, b) => a.rps - b.rps)[Math.floor(rs.length / 2)];
        for (const t of targets) {
          const r = res[t.name];
          rows.push([`${t.name}`, String(c), fmt(r.rps), ratio(r.rps, res.direct.rps), ratio(r.rps, res.nginx?.rps), fmt(r.p50Ms, 2), fmt(r.p99Ms, 2), fmt(r.cpuUsPerReq), ratio(r.cpuUsPerReq, res[LEAN]?.cpuUsPerReq), `${r.errors + r.non2xx}`]);
        }
        if (c === 64) at64 = res;
        const lean = res[LEAN]?.cpuUsPerReq;
        if (lean) for (const name of ['devmesh', 'devmesh, process per sidecar']) goals.cpu.push({ what: `${name}, ${c} connections`, ratio: res[name].cpuUsPerReq / lean, devmesh: res[name].cpuUsPerReq, lean });
      }
      md.push('### Throughput (closed loop, keep-alive, ~100-byte responses)', '', `Command per figure: \`${command.replace(/-c\d+/, '-cN').replace(/http:\/\/\S+/, 'http://127.0.0.1:PORT/')}\``, '',
        table(['chain', 'connections', 'req/s', 'x direct', 'x nginx', 'p50 ms', 'p99 ms', 'CPU µs/req (service + proxies)', 'CPU x lean pair', 'errors'], rows));

      // ---- CPU per request at equal load ----
      // A closed loop drives each chain to its own saturation: on the one pinned core its CPU per request is
      // 1 / its throughput, so two layouts (and the lean pair) are compared at different loads and the one
      // that saturates first is charged for it. An open loop at one rate all of them sustain compares the work per request.
      const equal = targets.filter((t) => t.name.startsWith('devmesh') || t.name === LEAN);
      const slowest = Math.min(...equal.map((t) => at64[t.name]?.rps ?? NaN));
      const rate = Math.max(50, Math.round((0.6 * slowest) / 50) * 50);
      if (Number.isFinite(slowest)) {
        const eq: Record<string, Array<{ cpu: number; p50: number; p99: number; errors: number }>> = {};
        for (let round = 0; round < rounds; round++) {
          for (const t of equal) {
            phase(`dataplane: CPU per request at equal load (${rate} req/s), round ${round + 1} of ${rounds}, ${t.name}`);
            (eq[t.name] ??= []).push(await pacedWithCpu(t, rate, secs, 64));
          }
        }
        const med = (name: string) => [...eq[name]].sort((a, b) => a.cpu - b.cpu)[Math.floor(eq[name].length / 2)];
        const lean = med(LEAN).cpu;
        md.push('', `#### CPU per request at equal load (open loop, ${fmt(rate)} req/s, 64 connections)`, '',
          `The closed-loop table charges each chain its CPU at its own saturation (there, CPU per request is 1 / throughput on the pinned core). Here every chain gets the same ${fmt(rate)} req/s (0.6x the slowest one's 64-connection throughput above) from \`bench/dataplane/paced.ts\` with 64 keep-alive connections: the work per request, at the same load. Median of ${rounds} alternating rounds of ${secs} s (by CPU).`, '',
          table(['chain', 'CPU µs/req (service + proxies)', 'CPU x lean pair', 'closed-loop CPU µs/req (64 connections)', 'p50 ms', 'p99 ms', 'errors'],
            equal.map((t) => { const m = med(t.name); return [t.name, fmt(m.cpu), ratio(m.cpu, lean), fmt(at64[t.name].cpuUsPerReq), fmt(m.p50, 2), fmt(m.p99, 2), String(m.errors)]; })));
      }
    }
    const loaded = proxyMem();

    // ---- 64 KiB ----
    if (want('big')) {
      phase('dataplane: 64 KiB responses');
      const res: Record<string, WrkResult & { cpuUsPerReq: number }> = {};
      for (const t of main) res[t.name] = await wrkWithCpu(t, 16, secs, '/big');
      md.push('### 64 KiB responses (16 connections)', '', table(['chain', 'req/s', 'MiB/s', 'x direct', 'x nginx', 'p50 ms', 'p99 ms', 'CPU µs/req'],
        main.map((t) => { const r = res[t.name]; return [t.name, fmt(r.rps), fmt(r.rps / 16, 0), ratio(r.rps, res.direct.rps), ratio(r.rps, res.nginx?.rps), fmt(r.p50Ms, 2), fmt(r.p99Ms, 2), fmt(r.cpuUsPerReq)]; })));
    }

    // ---- latency at fixed rates ----
    if (want('latency')) {
      phase('dataplane: latency at fixed rates');
      const rows: string[][] = [];
      for (const rate of [100, 1000]) {
        const seconds = o.quick ? 2 : rate === 100 ? 20 : 10;
        const res: Record<string, { p50: number; p99: number; p999: number; n: number; errors: number; lag: number }> = {};
        for (const t of pacedChains) {
          const r = await paced(t, rate, seconds);
          res[t.name] = { p50: percentile(r.latenciesMs, 50), p99: percentile(r.latenciesMs, 99), p999: percentile(r.latenciesMs, 99.9), n: r.latenciesMs.length, errors: r.errors, lag: r.sendLagP99Ms };
        }
        for (const t of pacedChains) {
          const r = res[t.name], d = res.direct;
          const added = (a: number, b: number) => (t.name === 'direct' ? '—' : signed(a - b));
          rows.push([t.name, String(rate), String(r.n), fmt(r.p50, 3), fmt(r.p99, 3), fmt(r.p999, 3), added(r.p50, d.p50), added(r.p99, d.p99), String(r.errors), fmt(r.lag, 3)]);
        }
        const dm = res.devmesh, lean = res[LEAN], d = res.direct;
        goals.latency.push({ rate, p50: dm.p50 - d.p50, p99: dm.p99 - d.p99, leanP50: lean ? lean.p50 - d.p50 : NaN, leanP99: lean ? lean.p99 - d.p99 : NaN });
      }
      md.push('### Latency at fixed rates (open loop, latency from each request\'s due time)', '',
        'Client: `bench/dataplane/paced.ts` (Node, pinned to the load CPU, 32 keep-alive connections, 1 s warm-up not counted; wrk2 is not in Debian). Added = chain minus direct, same run.', '',
        table(['chain', 'req/s', 'samples', 'p50 ms', 'p99 ms', 'p99.9 ms', 'added p50 ms', 'added p99 ms', 'errors', 'client send lag p99 ms'], rows));
    }

    // ---- what the slow requests overlapped: only when asked (`--only=tail`), it starts a probed chain of its own ----
    if (o.only?.includes('tail')) {
      phase('dataplane: what the slow requests overlapped (tail)');
      const out: string[] = [];
      await tailRuns({ rates: [100, 1000], seconds: o.quick ? 2 : 10, stalls: false }, (lines) => out.push(...lines, ''));
      md.push('### What the slow requests overlapped (fixed rates, `--only=tail`)', '',
        'The devmesh chain of the latency table, started again with `bench/dataplane/tailProbe.js` preloaded in its sidecar process (GC pauses, IPC sends, loop delay), under the same paced client; every request above the run\'s p99 is lined up with what the sidecar\'s event loop did while it was in flight (`node out/bench/dataplane/tail.js RATE SECONDS` runs one rate alone).', '',
        '```', ...out, '```');
    }

    // ---- memory ----
    const after = proxyMem();
    md.push('### Memory (RSS)', '', table(['process', 'idle MB', 'after throughput runs MB', 'at end MB', 'peak (VmHWM) MB'],
      idle.map(([name, m], i) => [name, fmt(m?.rssMb ?? NaN, 1), fmt(loaded[i][1]?.rssMb ?? NaN, 1), fmt(after[i][1]?.rssMb ?? NaN, 1), fmt(after[i][1]?.peakMb ?? NaN, 1)])));
    const sharedPeak = after[0][1]?.peakMb ?? NaN;
    // Only a peak under the throughput runs counts for the target (without them the chain had the warm-up only).
    if (want('throughput')) goals.memory.push({ workloads: mesh.sidecars.length, perWorkloadMb: sharedPeak / mesh.sidecars.length, where: 'the throughput chain' });
    md.push('', `Per workload, devmesh default layout: ${fmt(sharedPeak / mesh.sidecars.length, 1)} MB (peak of the shared process / ${mesh.sidecars.length} workloads); process per sidecar: ${after.slice(1, 3).map(([, m]) => fmt(m?.peakMb ?? NaN, 1)).join(' / ')} MB each.`);

    // ---- memory per added workload (the default layout) ----
    const both = CPUS ? `${CPUS.load},${CPUS.proxies}` : undefined;
    if (want('scaling')) {
      phase('dataplane: memory per workload');
      const rows: string[][] = [];
      let prev: { n: number; peak: number; idle: number } | undefined;
      for (const replicas of [1, 2, 4]) {
        const more = await Promise.all(Array.from({ length: 2 * (replicas - 1) }, () => ports(3)));
        const snapN = benchSnapshot(servicePort, { client: await ports(3), server: await ports(3), ingress: await ports(2), more }, 1, 'v1', replicas);
        const chain = await startDevmeshChain(ca, snapN, telemetryOn, 'shared', 1, 'default');
        try {
          const pids = chain.pids();
          for (const pid of pids) pin(pid, both ?? CPUS?.proxies);
          for (const p of chain.outboundPorts) await get(p, SERVICE_HOST);
          const sum = (f: (m: { rssMb: number; peakMb: number }) => number) => pids.reduce((a, pid) => { const m = memoryOf(pid); return a + (m ? f(m) : NaN); }, 0);
          const idleMb = sum((m) => m.rssMb);
          await Promise.all(chain.outboundPorts.map((p) => runWrk(`http://127.0.0.1:${p}/`, { connections: 64 / replicas, seconds: o.quick ? 1 : 4, host: SERVICE_HOST })));
          const n = snapN.workloads.length;
          const peak = sum((m) => m.peakMb);
          goals.memory.push({ workloads: n, perWorkloadMb: peak / n, where: `the scaling rows (${pids.length} process${pids.length > 1 ? 'es' : ''})` });
          rows.push([String(n), String(pids.length), fmt(idleMb, 1), fmt(sum((m) => m.rssMb), 1), fmt(peak, 1), fmt(peak / n, 1), prev ? `${fmt((idleMb - prev.idle) / (n - prev.n), 1)} idle / ${fmt((peak - prev.peak) / (n - prev.n), 1)} under load` : '—']);
          prev = { n, peak, idle: idleMb };
        } finally {
          await chain.stop();
        }
      }
      md.push('### Memory per workload in the default layout', '',
        `N workloads' sidecars in the default layout (one shared process per core, two workloads or more each: ${[2, 4, 8].map((n) => `${n} -> ${sharedProcessCount(n)}`).join(', ')} on this machine), N/2 caller/service pairs, 64 wrk connections spread over the callers for ${o.quick ? 1 : 4} s; the processes may use CPUs ${both ?? 'any'}. RSS and peaks are summed over the processes.`, '',
        table(['workloads', 'processes', 'RSS idle MB', 'RSS after load MB', 'peak MB', 'peak per workload MB', 'each added workload costs (MB)'], rows));
    }

    // ---- every core: two independent caller -> callee chains against one, by process layout ----
    const cpus = CPUS;
    if (want('cores') && cpus) {
      phase('dataplane: every core (two chains against one)');
      // Each chain has its own service process and its own callee service (chainsSnapshot), so no request crosses chains.
      const svc2 = spawnPinned(cpus.load, process.execPath, [path.join(__dirname, 'dataplane', 'service.js')], { stdio: ['ignore', 'pipe', 'inherit'] });
      stops.push(() => svc2.kill());
      const { port: servicePort2 } = await firstJsonLine<{ port: number }>(svc2);
      const services = [svc, svc2];
      const chainPorts = async (n: number) => ({ chains: await Promise.all(Array.from({ length: n }, async () => ({ client: await ports(3), server: await ports(3) }))), ingress: await ports(2) });
      // One CPU per chain: the single chain gets CPU 1; of two, chain 1 gets CPU 0 and chain 2 CPU 1.
      const cpuOf = (chains: number, i: number) => (chains === 1 ? cpus.proxies : i === 1 ? cpus.load : cpus.proxies);
      const layouts: Array<[string, 'shared' | 'process', number, Placement, BootstrapOptions, number]> = [
        ['one chain (2 workloads, one process)', 'shared', 1, 'default', telemetryOn, 1],
        ['one chain, telemetry off', 'shared', 1, 'default', telemetryOff, 1],
        [`two chains (4 workloads), the default layout (${sharedProcessCount(4)} processes: one per core, two workloads or more each)`, 'shared', 1, 'default', telemetryOn, 2],
        ['two chains (4 workloads), one shared process (the default before)', 'shared', 1, 'chain', telemetryOn, 2],
        ['two chains (4 workloads), one process per core (2), callers in one, callees in the other', 'shared', 2, 'role', telemetryOn, 2],
        ['two chains (4 workloads), one process per sidecar', 'process', 1, 'chain', telemetryOn, 2],
        ['two chains (4 workloads), the default layout, telemetry off', 'shared', 1, 'default', telemetryOff, 2],
      ];
      interface Row { name: string; n: number; ports: number[]; hosts: string[]; pins: () => Array<[number, string]>; pids: () => number[]; where: () => string }
      const rows: Row[] = [];
      for (const [name, layout, hosts, placement, opts, n] of layouts) {
        const snapC = chainsSnapshot([servicePort, servicePort2].slice(0, n), await chainPorts(n));
        const c = await startDevmeshChain(ca, snapC, opts, layout, hosts, placement);
        stops.push(() => c.stop());
        const chainOf = (workload: string) => Number(/-v(\d+)$/.exec(workload)![1]);
        // A process whose sidecars all belong to one chain runs on that chain's CPU; one holding both chains' sidecars may use both.
        const processes = () => {
          const byPid = new Map<number, Set<number>>();
          for (const s of c.sidecars) if (s.pid) (byPid.get(s.pid) ?? byPid.set(s.pid, new Set()).get(s.pid)!).add(chainOf(s.key));
          return byPid;
        };
        rows.push({
          name, n, ports: c.outboundPorts, hosts: Array.from({ length: n }, (_, i) => chainHost(i + 1)), pids: () => c.pids(),
          pins: () => [
            ...[...processes()].map(([pid, chains]): [number, string] => [pid, chains.size === 1 ? cpuOf(n, [...chains][0]) : `${cpus.load},${cpus.proxies}`]),
            ...services.slice(0, n).map((s, i): [number, string] => [s.pid!, cpuOf(n, i + 1)]),
          ],
          where: () => [...processes().values()].map((chains) => (chains.size === 1 ? `chain ${[...chains][0]}` : 'both chains')).join(' + '),
        });
      }
      const runRow = (r: Row, seconds: number) => {
        for (const [pid, cpu] of r.pins()) pin(pid, cpu);
        return Promise.all(r.ports.map((p, i) => runWrk(`http://127.0.0.1:${p}/`, { connections: 32, seconds, host: r.hosts[i], cpu: cpuOf(r.n, i + 1) })));
      };
      for (const r of rows) await runRow(r, o.quick ? 1 : 2);
      const runs: Record<string, Array<{ rps: number; cpu: number; intake: number; busy: number; load: number }>> = {};
      for (let round = 0; round < rounds; round++) {
        for (const r of rows) {
          const pids = [...services.slice(0, r.n).map((s) => s.pid!), ...r.pids()];
          for (const [pid, cpu] of r.pins()) pin(pid, cpu);
          const before = pids.map(cpuMsOf);
          const own = process.cpuUsage();
          const busy = machineBusyMs();
          const rs = await runRow(r, secs);
          const used = pids.map(cpuMsOf).reduce((a, b, i) => a + b - before[i], 0);
          const ownUs = process.cpuUsage(own);
          const requests = rs.reduce((a, x) => a + x.requests, 0);
          (runs[r.name] ??= []).push({ rps: rs.reduce((a, x) => a + x.rps, 0), cpu: (used * 1000) / requests, intake: (ownUs.user + ownUs.system) / requests, busy: (machineBusyMs() - busy) / (secs * 1000), load: os.loadavg()[0] });
        }
      }
      const med = (name: string) => [...runs[name]].sort((a, b) => a.rps - b.rps)[Math.floor(runs[name].length / 2)];
      const base = med(rows[0].name).rps;
      const baseOff = med(rows[1].name).rps;
      for (const r of rows.filter((x) => x.n === 2 && !x.name.includes('telemetry off'))) goals.cores.push({ layout: r.name, ratio: med(r.name).rps / base });
      md.push('### Every core: two independent chains against one (32 connections per chain)', '',
        `Each chain is a caller's sidecar -> its own callee service's sidecar -> its own service process (\`chainsSnapshot\`: services \`bench\` and \`bench-2\`, each with the VirtualService, DestinationRule and AuthorizationPolicy of the other tables), so no request crosses chains. **One CPU per chain:** the single chain (its sidecar process, its service and its wrk) is pinned to CPU ${cpus.proxies}; of two chains, chain 1's to CPU ${cpus.load} and chain 2's to CPU ${cpus.proxies}; a sidecar process holding sidecars of both chains may use both CPUs. Each chain's load generator (wrk, one thread) runs on its chain's CPU, so it is inside that chain's budget in both cases. The benchmark's own process (the telemetry intake: it receives the sidecars' telemetry batches over IPC as the control plane does, parses them, stores nothing) is not pinned. Median of ${rounds} alternating rounds of ${secs} s. CPUs busy = all CPUs' busy time from /proc/stat over the run (2.00 = both saturated, other work on the machine included).`, '',
        table(['chains', 'req/s (sum)', 'x one chain', 'CPU µs/req (services + proxies)', 'telemetry intake µs/req', 'CPUs busy', 'load (1 min)', 'sidecar processes (what each holds)'],
          rows.map((r) => { const m = med(r.name); return [r.name, fmt(m.rps), ratio(m.rps, r.name.includes('telemetry off') ? baseOff : base), fmt(m.cpu), fmt(m.intake, 1), fmt(m.busy, 2), fmt(m.load, 1), `${r.pids().length} (${r.where()})`]; })));
      pin(svc.pid, cpus.proxies);
    }

    // ---- telemetry on vs off ----
    if (want('telemetry')) {
      phase('dataplane: telemetry on vs off');
      await mesh.stop();
      await meshP.stop();
      const variants: Array<[string, BootstrapOptions]> = [
        ['devmesh, tracing and metrics off', telemetryOff],
        ['devmesh, tracing (100 % sampling, the devmesh default) and metrics on', telemetryOn],
        ['devmesh, tracing (1 % sampling, Istio\'s default) and metrics on', { ...telemetryOn, sampling: 1 }],
      ];
      const chains: Target[] = [];
      for (const [name, opts] of variants) {
        const snapV = benchSnapshot(servicePort, { client: await ports(3), server: await ports(3), ingress: await ports(2) });
        const c = await startDevmeshChain(ca, snapV, opts);
        stops.push(() => c.stop());
        for (const pid of c.pids()) pin(pid, CPUS?.proxies);
        chains.push({ name, port: c.outboundPort, host: SERVICE_HOST, pids: () => [svc.pid!, ...c.pids()] });
        await runWrk(`http://127.0.0.1:${c.outboundPort}/`, { connections: 64, seconds: o.quick ? 1 : 3, host: SERVICE_HOST });
      }
      const runs: Record<string, Array<WrkResult & { cpuUsPerReq: number }>> = {};
      for (let round = 0; round < rounds; round++) for (const t of chains) (runs[t.name] ??= []).push(await wrkWithCpu(t, 64, secs));
      const med = (name: string) => [...runs[name]].sort((a, b) => a.rps - b.rps)[Math.floor(runs[name].length / 2)];
      const off = med(chains[0].name);
      md.push('### Tracing and metrics on vs off (64 connections, median of alternating rounds)', '', table(['chain', 'req/s', 'x off', 'p50 ms', 'p99 ms', 'CPU µs/req'],
        chains.map((t) => { const r = med(t.name); return [t.name, fmt(r.rps), ratio(r.rps, off.rps), fmt(r.p50Ms, 2), fmt(r.p99Ms, 2), fmt(r.cpuUsPerReq)]; })));
    }
    await stopAll(stops);

    // ---- devmesh up + propagation (not pinned: what a developer sees) ----
    if (want('up')) {
      phase('dataplane: devmesh up and config propagation');
      const meshFile = await prepareBookinfo(path.join(dir, 'bookinfo'));
      const runs = await timeUp(meshFile, o.quick ? 1 : 5);
      const wall = runs.map((r) => r.wallMs), rep = runs.map((r) => r.reportedMs);
      md.push('### `devmesh up` on bookinfo (7 workloads + ingress, apps included: redis-server among them) to every listener ready', '',
        'Command: `node bin/devmesh.js up -f <copy of examples/bookinfo/mesh.yaml with free ports>`; wall = from spawning the CLI to the "ready" line (includes Node start-up and module loading); reported = devmesh\'s own figure from the start of `up`.', '',
        table(['runs', 'wall p50 ms', 'wall max ms', 'reported p50 ms', 'reported max ms', 'phases (last run)'], [[String(runs.length), fmt(percentile(wall, 50)), fmt(Math.max(...wall)), fmt(percentile(rep, 50)), fmt(Math.max(...rep)), runs[runs.length - 1].phases]]));
      const prop = await timePropagation(meshFile, o.quick ? 5 : 50);
      md.push('', '### Config propagation (policy file saved -> every sidecar serving it)', '',
        'Edit: the reviews VirtualService\'s header match changes on each save. End to end = file written -> devmesh prints "applied to N/N sidecars" (after each sidecar acknowledged the swap over IPC); includes the watcher and its 20 ms debounce.', '',
        table(['edits', 'sidecars', 'end-to-end p50 ms', 'p99 ms', 'max ms', 'reload+push p50 ms', 'reload+push p99 ms'],
          [[String(prop.endToEndMs.length), prop.sidecars, fmt(percentile(prop.endToEndMs, 50), 1), fmt(percentile(prop.endToEndMs, 99), 1), fmt(Math.max(...prop.endToEndMs), 1), fmt(percentile(prop.reportedMs, 50), 1), fmt(percentile(prop.reportedMs, 99), 1)]]));
    }
    md.push('', ...targetRows(goals), '', `Load average at end (1/5/15 min): ${load()}.`);
  } finally {
    await stopAll(stops);
    noCleanup();
    rmSync(dir, { recursive: true, force: true });
  }
  return { name: 'dataplane', rows: [], notes, markdown: ['## Data plane', '', ...md.map((l) => (l.startsWith('### ') ? `\n${l}` : l)), ...notes.map((n) => `\n${n}`)].join('\n') };
}

/** A difference in ms with its sign: +0.420, -3.283. */
const signed = (ms: number): string => `${ms >= 0 ? '+' : ''}${fmt(ms, 3)}`;

/** What each scenario measured of issue 19's targets. */
interface Goals {
  cpu: Array<{ what: string; ratio: number; devmesh: number; lean: number }>;
  latency: Array<{ rate: number; p50: number; p99: number; leanP50: number; leanP99: number }>;
  memory: Array<{ workloads: number; perWorkloadMb: number; where: string }>;
  cores: Array<{ layout: string; ratio: number }>;
}

/** Issue 19's targets as one table: each row with this run's figure and whether it is met (a scenario left out says so). */
export function targetRows(g: Goals): string[] {
  const met = (ok: boolean) => (ok ? 'met' : '**missed**');
  const notRun = (what: string) => [what, 'not measured in this run (scenario left out)', '—'];
  const rows: string[][] = [];
  rows.push(g.cpu.length === 0 ? notRun('CPU per request, everything on, <= 1.3x the lean Node pair')
    : ['CPU per request, everything on, <= 1.3x the lean Node pair (same rounds)', g.cpu.map((c) => `${c.what}: ${c.ratio.toFixed(2)}x (${fmt(c.devmesh)} vs ${fmt(c.lean)} µs)`).join('; '), met(g.cpu.filter((c) => !c.what.includes('process per sidecar')).every((c) => c.ratio <= 1.3))]);
  if (g.latency.length === 0) rows.push(notRun('added p50 <= 0.3 ms, added p99 <= 2 ms at 100 and 1,000 req/s'));
  for (const l of g.latency) {
    rows.push([`added p50 <= 0.3 ms, added p99 <= 2 ms over direct at ${fmt(l.rate)} req/s`, `${signed(l.p50)} / ${signed(l.p99)} ms (lean pair ${signed(l.leanP50)} / ${signed(l.leanP99)})`, met(l.p50 <= 0.3 && l.p99 <= 2)]);
  }
  const mem = (n: number, limit: number) => {
    const m = g.memory.filter((x) => x.workloads === n);
    return m.length === 0 ? notRun(`memory per workload, default layout, ${n} workloads, <= ${limit} MB`)
      : [`memory per workload, default layout, peaks included, ${n} workloads: <= ${limit} MB`, m.map((x) => `${fmt(x.perWorkloadMb, 1)} MB (${x.where})`).join('; '), met(m.every((x) => x.perWorkloadMb <= limit))];
  };
  rows.push(mem(2, 40), mem(8, 25));
  rows.push(g.cores.length === 0 ? notRun('two independent chains on two CPUs >= 1.7x one chain')
    : ['two independent chains on two CPUs >= 1.7x one chain', g.cores.map((c) => `${c.layout.replace(/^two chains \(4 workloads\), /, '')}: ${c.ratio.toFixed(2)}x`).join('; '), met(g.cores.some((c) => c.ratio >= 1.7))]);
  return ['### Targets (issue 19), this run', '', table(['target', 'this run', 'met?'], rows)];
}

/** Stops everything started so far, last first; one failing stop never leaves the others running. */
async function stopAll(stops: Array<() => unknown>): Promise<void> {
  for (const s of stops.splice(0).reverse()) {
    try { await s(); } catch { /* already stopped */ }
  }
}

export function machineLine(): string {
  let cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  try { cpu = execFileSync('sh', ['-c', "lscpu | sed -n 's/^Model name: *//p'"], { encoding: 'utf8' }).trim() || cpu; } catch { /* keep os.cpus() */ }
  return `${os.cpus().length} x ${cpu}`;
}

void sleep;
