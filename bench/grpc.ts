/**
 * `npm run bench -- grpc [--quick]`: gRPC unary calls through the mesh, side
 * by side in one run on 127.0.0.1, with h2load (Debian's nghttp2-client)
 * driving every chain:
 *
 *   direct gRPC      h2load (h2c) -> grpc-js service
 *   devmesh gRPC     h2load (h2c) -> local upstream port -> client sidecar (HTTP/2 entry, outbound chain per call)
 *                    -> mTLS HTTP/2 -> bench sidecar (inbound) -> h2c -> grpc-js service
 *   nginx grpc_pass  h2load (h2c) -> nginx -> grpcs (mTLS) -> nginx -> grpc -> grpc-js service
 *   direct HTTP/1.1  h2load --h1 -> Node HTTP service
 *   devmesh HTTP/1.1 h2load --h1 -> client sidecar (outbound listener) -> mTLS HTTP/2 -> bench sidecar -> HTTP/1.1 service
 *
 * The issue's target: gRPC calls through the mesh at least 0.8x the HTTP/1.1
 * requests through the mesh on the same machine; both devmesh paths run in
 * the same sidecar pair, with the HTTP/1.1 benchmark's policies. The load
 * generator runs on CPU 0, services and proxies on CPU 1 (taskset), as in the
 * data-plane benchmark. Same concurrency for every chain: 16 calls in flight
 * (h2: 1 connection x 16 streams, what one gRPC channel does, and 4 x 4;
 * h1: 16 connections). Latency percentiles come from h2load's per-request
 * log (every call of the run: h2load's --warm-up-time writes more lines to
 * its log than it counts, so each chain gets an unmeasured run first
 * instead). Nothing here is pass/fail.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { createCa } from '../simulator/control/ca';
import { spiffeId } from '../simulator/policy/hosts';
import { nginxAvailable, startNginxGrpcChain, type NginxChain } from './dataplane/nginx';
import { freePort } from './dataplane/ports';
import { phase } from './lifecycle';
import { CPUS, cpuMsOf, firstJsonLine, has, pin, spawnPinned, stopChild } from './dataplane/procs';
import { ECHO, REQUEST_FRAME, SAY_PATH } from './grpc/service';
import { percentile, type BenchResult } from './stats';

export interface Chain { name: string; port: number; h1: boolean; authority: string; pids: () => number[] }

interface H2loadResult { rps: number; done: number; failed: number; non2xx: number; p50Ms: number; p99Ms: number; command: string }

const fmt = (n: number, d = 0) => (Number.isFinite(n) ? n.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d }) : '—');
const ratio = (a: number, b: number | undefined) => (b && Number.isFinite(a) && Number.isFinite(b) ? `${(a / b).toFixed(2)}x` : '—');
const table = (head: string[], rows: string[][]) => [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');

/** One h2load run pinned to the load CPU; percentiles from its per-request log (one line per call done). */
export function runH2load(chain: Chain, o: { clients: number; streams: number; seconds: number; dataFile: string; logFile: string }): Promise<H2loadResult> {
  const url = `http://127.0.0.1:${chain.port}${chain.h1 ? '/' : SAY_PATH}`;
  const args = [
    '-t1', `-c${o.clients}`, `-m${o.streams}`, `-D${o.seconds}`, `--log-file=${o.logFile}`,
    '-H', `:authority: ${chain.authority}`,
    ...(chain.h1 ? ['--h1'] : ['-d', o.dataFile, '-H', 'content-type: application/grpc', '-H', 'te: trailers']),
    url,
  ];
  const command = `${CPUS ? `taskset -c ${CPUS.load} ` : ''}h2load ${args.map((a) => (a.includes(' ') ? `'${a}'` : a)).join(' ')}`;
  rmSync(o.logFile, { force: true });
  return new Promise((resolve, reject) => {
    const child = spawnPinned(CPUS?.load, 'h2load', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), (o.seconds + 30) * 1000);
    child.on('error', reject);
    child.on('close', () => {
      clearTimeout(timer);
      const num = (re: RegExp) => Number(re.exec(out)?.[1] ?? NaN);
      const rps = num(/finished in [\d.]+\w+, ([\d.]+) req\/s/);
      if (Number.isNaN(rps)) return reject(new Error(`h2load output not understood:\n${out}`));
      const rows = readFileSync(o.logFile, 'utf8').trim().split('\n').map((l) => l.split('\t').map(Number)).filter((r) => r.length === 3);
      const done = num(/(\d+) done/);
      if (rows.length !== done) return reject(new Error(`h2load logged ${rows.length} calls for ${done} done: its log cannot give the percentiles`));
      const measured = rows.map((r) => r[2] / 1000);
      resolve({
        rps, done, failed: num(/(\d+) failed/) + num(/(\d+) errored/) + num(/(\d+) timeout/),
        non2xx: num(/status codes: \d+ 2xx, (\d+) 3xx/) + num(/(\d+) 4xx/) + num(/(\d+) 5xx/),
        p50Ms: percentile(measured, 50), p99Ms: percentile(measured, 99), command,
      });
    });
  });
}

/** One gRPC call with grpc-js: every gRPC chain must answer OK (h2load sees only HTTP 200). */
function checkCall(port: number, authority: string): Promise<void> {
  const Client = grpc.makeGenericClientConstructor(ECHO, 'Echo');
  const client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), { 'grpc.default_authority': authority }) as unknown as { Say: (req: Buffer, cb: (e: grpc.ServiceError | null, r?: Buffer) => void) => void; close(): void };
  return new Promise((resolve, reject) => client.Say(REQUEST_FRAME.subarray(5), (e, r) => {
    client.close();
    if (e) reject(new Error(`gRPC call failed: ${e.message}`));
    else if (!r || r.length !== 100) reject(new Error(`unexpected reply of ${r?.length} bytes`));
    else resolve();
  }));
}

export async function benchGrpc(o: { quick?: boolean } = {}): Promise<BenchResult> {
  if (!has('h2load')) throw new Error('h2load is not installed (apt-get install -y nghttp2-client); the gRPC benchmark needs it');
  const seconds = o.quick ? 2 : 5;
  const rounds = o.quick ? 1 : 3;
  const md: string[] = [];
  const notes: string[] = [];
  const load = () => os.loadavg().map((x) => x.toFixed(2)).join(' / ');
  md.push(`Load average at start (1/5/15 min): ${load()}. Pinning: ${CPUS ? `h2load on CPU ${CPUS.load}; services, sidecars and nginx on CPU ${CPUS.proxies}` : 'none (taskset missing or one CPU)'}. ${seconds} s per h2load run; each figure is the median of ${rounds} rounds that alternate the chains, after one unmeasured 2 s run per chain.`);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'devmesh-bench-grpc-'));
  const dataFile = path.join(dir, 'say.bin');
  writeFileSync(dataFile, REQUEST_FRAME);
  const stops: Array<() => unknown> = [];
  try {
    const spawnJson = async <T>(script: string, arg?: string) => {
      const child = spawnPinned(CPUS?.proxies, process.execPath, [path.join(__dirname, ...script.split('/')), ...(arg ? [arg] : [])], { stdio: ['ignore', 'pipe', 'inherit'] });
      stops.push(() => stopChild(child));
      const out = await firstJsonLine<T>(child, 20_000);
      pin(child.pid, CPUS?.proxies);
      return { child, out };
    };
    phase('grpc: start the services and the devmesh chain');
    const http1 = await spawnJson<{ port: number }>('dataplane/service.js');
    const grpcSvc = await spawnJson<{ port: number }>('grpc/service.js');
    const chain = await spawnJson<{ outbound: number; upstream: number }>('grpc/chain.js', JSON.stringify({ httpPort: http1.out.port, grpcPort: grpcSvc.out.port }));
    const ca = createCa({ trustDomain: 'cluster.local' });
    let nginx: NginxChain | undefined;
    if (nginxAvailable()) {
      phase('grpc: start the nginx grpc_pass pair');
      nginx = await startNginxGrpcChain(path.join(dir, 'nginx'), {
        servicePort: grpcSvc.out.port, frontPort: await freePort(), backPort: await freePort(), cpu: CPUS?.proxies,
        client: ca.issue(spiffeId('cluster.local', 'default', 'nginx-front')), server: ca.issue(spiffeId('cluster.local', 'default', 'nginx-back')),
      });
      stops.push(() => nginx!.stop());
    } else notes.push('nginx is not installed: the nginx grpc_pass pair was skipped (apt-get install -y nginx).');

    const svcH1 = () => [http1.child.pid!];
    const svcGrpc = () => [grpcSvc.child.pid!];
    const chains: Chain[] = [
      { name: 'direct gRPC', port: grpcSvc.out.port, h1: false, authority: 'bench:9090', pids: svcGrpc },
      { name: 'devmesh gRPC', port: chain.out.upstream, h1: false, authority: 'bench:9090', pids: () => [...svcGrpc(), chain.child.pid!] },
      ...(nginx ? [{ name: 'nginx grpc_pass mTLS pair', port: nginx.frontPort, h1: false, authority: 'bench:9090', pids: () => [...svcGrpc(), nginx!.front.pid!, nginx!.back.pid!] }] : []),
      { name: 'direct HTTP/1.1', port: http1.out.port, h1: true, authority: 'bench:9080', pids: svcH1 },
      { name: 'devmesh HTTP/1.1', port: chain.out.outbound, h1: true, authority: 'bench:9080', pids: () => [...svcH1(), chain.child.pid!] },
    ];
    phase('grpc: first call through every chain');
    for (const c of chains.filter((x) => !x.h1)) await checkCall(c.port, c.authority);

    // One unmeasured run per chain first: the first seconds of a fresh Node process (JIT, pools, TLS sessions) are not its speed.
    phase('grpc: warm-up');
    for (const c of chains) await runH2load(c, { clients: c.h1 ? 16 : 4, streams: c.h1 ? 1 : 4, seconds: 2, dataFile, logFile: path.join(dir, 'h2load.log') });

    const shapes = [{ label: '1 x 16', clients: 1, streams: 16 }, { label: '4 x 4', clients: 4, streams: 4 }];
    const rows: string[][] = [];
    let command = '';
    const summary: Record<string, number> = {};
    const byCpu: Record<string, number> = {};
    for (const shape of shapes) {
      const runs: Record<string, Array<H2loadResult & { cpuUsPerCall: number }>> = {};
      for (let round = 0; round < rounds; round++) {
        for (const c of chains) {
          // HTTP/1.1 has one request in flight per connection: 16 connections for the same 16 in flight.
          const clients = c.h1 ? shape.clients * shape.streams : shape.clients;
          phase(`grpc: ${shape.label}, round ${round + 1} of ${rounds}, ${c.name}`);
          const before = c.pids().map(cpuMsOf);
          const r = await runH2load(c, { clients, streams: c.h1 ? 1 : shape.streams, seconds, dataFile, logFile: path.join(dir, 'h2load.log') });
          const used = c.pids().map(cpuMsOf).reduce((a, b, i) => a + b - before[i], 0);
          (runs[c.name] ??= []).push({ ...r, cpuUsPerCall: r.done > 0 ? (used * 1000) / r.done : NaN });
          if (!c.h1) command ||= r.command;
        }
      }
      const med: Record<string, H2loadResult & { cpuUsPerCall: number }> = {};
      for (const [name, rs] of Object.entries(runs)) med[name] = [...rs].sort((a, b) => a.rps - b.rps)[Math.floor(rs.length / 2)];
      for (const c of chains) {
        const r = med[c.name];
        const base = c.h1 ? med['direct HTTP/1.1'] : med['direct gRPC'];
        rows.push([c.name, c.h1 ? `${shape.clients * shape.streams} x 1` : shape.label, fmt(r.rps), ratio(r.rps, base.rps), c.h1 ? '—' : ratio(r.rps, med['nginx grpc_pass mTLS pair']?.rps),
          fmt(r.p50Ms, 2), fmt(r.p99Ms, 2), fmt(r.cpuUsPerCall), String(r.failed + r.non2xx)]);
      }
      summary[`grpc ${shape.label}`] = med['devmesh gRPC'].rps / med['devmesh HTTP/1.1'].rps;
      // What the chain would reach alone: the HTTP/1.1 path's CPU per request over the gRPC path's per call.
      byCpu[`grpc ${shape.label}`] = med['devmesh HTTP/1.1'].cpuUsPerCall / med['devmesh gRPC'].cpuUsPerCall;
    }
    md.push('', `Command per gRPC figure: \`${command.replace(/-c\d+ -m\d+/, '-cC -mM').replace(/--log-file=\S+/, '--log-file=LOG').replace(/-d \S+/, '-d say.bin').replace(/http:\/\/\S+/, 'http://127.0.0.1:PORT/devmesh.bench.Echo/Say')}\`; HTTP/1.1 figures: \`h2load --h1 -cC -m1 ... http://127.0.0.1:PORT/\`.`, '',
      table(['chain', 'connections x streams', 'calls/s', 'x direct', 'x nginx', 'p50 ms', 'p99 ms', 'CPU µs/call (service + proxies)', 'failed'], rows), '',
      `gRPC through devmesh vs HTTP/1.1 through devmesh, same run (target >= 0.8x): ${Object.entries(summary).map(([k, v]) => `${k}: ${v.toFixed(2)}x`).join('; ')} in calls/s (${Object.values(summary).every((v) => v >= 0.8) ? 'met' : '**missed**'}); by CPU per call ${Object.entries(byCpu).map(([k, v]) => `${k}: ${v.toFixed(2)}x`).join('; ')}. Load average at end: ${load()}.`);
    return { name: 'grpc', rows: [], notes, markdown: [...md, ...notes.map((n) => `\n${n}`)].join('\n') };
  } finally {
    phase('grpc: stop');
    for (const s of stops.reverse()) { try { await s(); } catch { /* already gone */ } }
    rmSync(dir, { recursive: true, force: true });
  }
}
