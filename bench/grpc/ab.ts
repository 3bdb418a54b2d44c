/**
 * Two builds of devmesh's gRPC benchmark chain side by side (each a
 * directory holding its `out/`, e.g. main's and a branch's), alternating
 * rounds on one shared pair of services, so a change to the gRPC or HTTP/1.1
 * path is sized on a loaded machine: per round and build, h2load drives
 * gRPC (1 x 16 and 4 x 4) and HTTP/1.1 (16 x 1) through that build's chain
 * process; CPU per call (chain + service, from /proc), medians of the
 * rounds, the B/A ratio, and each build's gRPC / HTTP/1.1 ratio by CPU per
 * call and by calls/s (issue 15's target). Pinned as `npm run bench -- grpc`.
 *
 *   node out/bench/grpc/ab.js DIR_A DIR_B [rounds] [seconds]
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { CPUS, cpuMsOf, firstJsonLine, pin, spawnPinned } from '../dataplane/procs';
import { runH2load } from '../grpc';
import { REQUEST_FRAME } from './service';

interface Load { label: string; h1: boolean; clients: number; streams: number }
const LOADS: Load[] = [
  { label: 'gRPC 1 x 16', h1: false, clients: 1, streams: 16 },
  { label: 'gRPC 4 x 4', h1: false, clients: 4, streams: 4 },
  { label: 'HTTP/1.1 16 x 1', h1: true, clients: 16, streams: 1 },
];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  const [dirA, dirB] = process.argv.slice(2, 4).map((d) => path.resolve(d));
  const rounds = Number(process.argv[4] ?? 5), seconds = Number(process.argv[5] ?? 4);
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'devmesh-grpc-ab-'));
  const dataFile = path.join(tmp, 'say.bin');
  writeFileSync(dataFile, REQUEST_FRAME);
  const children: ChildProcess[] = [];
  const spawnJson = async <T>(script: string, arg?: string) => {
    const child = spawnPinned(CPUS?.proxies, process.execPath, [script, ...(arg ? [arg] : [])], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(child);
    const json = await firstJsonLine<T>(child, 30_000);
    pin(child.pid, CPUS?.proxies);
    return { pid: child.pid!, json };
  };
  const load = () => os.loadavg().map((x) => x.toFixed(1)).join(' / ');
  process.stdout.write(`A ${dirA}\nB ${dirB}\n${rounds} rounds x ${seconds} s per load and build; load average at start ${load()}\n`);
  try {
    const http1 = await spawnJson<{ port: number }>(path.join(dirB, 'out/bench/dataplane/service.js'));
    const grpcSvc = await spawnJson<{ port: number }>(path.join(dirB, 'out/bench/grpc/service.js'));
    const builds = await Promise.all([dirA, dirB].map((d) => spawnJson<{ outbound: number; upstream: number }>(path.join(d, 'out/bench/grpc/chain.js'), JSON.stringify({ httpPort: http1.json.port, grpcPort: grpcSvc.json.port }))));
    const run = async (b: number, l: Load, s: number) => {
      const chain = builds[b];
      const target = { name: l.label, port: l.h1 ? chain.json.outbound : chain.json.upstream, h1: l.h1, authority: l.h1 ? 'bench:9080' : 'bench:9090', pids: () => [] };
      const pids = [chain.pid, l.h1 ? http1.pid : grpcSvc.pid];
      const before = pids.map(cpuMsOf);
      const r = await runH2load(target, { clients: l.clients, streams: l.streams, seconds: s, dataFile, logFile: path.join(tmp, 'h2load.log') });
      const us = pids.map((p, i) => ((cpuMsOf(p) - before[i]) * 1000) / r.done);
      return { rps: r.rps, cpu: us[0] + us[1], chain: us[0], failed: r.failed + r.non2xx };
    };
    for (const b of [0, 1]) for (const l of LOADS) await run(b, l, 2); // warm-up, unmeasured
    const results = new Map<string, Array<Awaited<ReturnType<typeof run>>>>();
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? [0, 1] : [1, 0];
      for (const l of LOADS) {
        for (const b of order) {
          const r = await run(b, l, seconds);
          const key = `${'AB'[b]} ${l.label}`;
          (results.get(key) ?? results.set(key, []).get(key)!).push(r);
        }
      }
      const line = LOADS.map((l) => `${l.label}: A ${results.get(`A ${l.label}`)![round].cpu.toFixed(0)} B ${results.get(`B ${l.label}`)![round].cpu.toFixed(0)}`).join('; ');
      process.stdout.write(`round ${round + 1}: CPU µs/call ${line}; load ${load()}\n`);
    }
    const med = (key: string, f: 'cpu' | 'chain' | 'rps') => median(results.get(key)!.map((r) => r[f]));
    process.stdout.write('\n| load | A CPU µs/call (chain + service) | B | B/A of the medians | median of the rounds\' B/A | A chain only | B chain only | A calls/s | B calls/s | failed |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n');
    for (const l of LOADS) {
      const a = `A ${l.label}`, b = `B ${l.label}`;
      const failed = [...results.get(a)!, ...results.get(b)!].reduce((s, r) => s + r.failed, 0);
      const paired = median(results.get(b)!.map((r, i) => r.cpu / results.get(a)![i].cpu));
      process.stdout.write(`| ${l.label} | ${med(a, 'cpu').toFixed(0)} | ${med(b, 'cpu').toFixed(0)} | ${(med(b, 'cpu') / med(a, 'cpu')).toFixed(3)} | ${paired.toFixed(3)} | ${med(a, 'chain').toFixed(0)} | ${med(b, 'chain').toFixed(0)} | ${med(a, 'rps').toFixed(0)} | ${med(b, 'rps').toFixed(0)} | ${failed} |\n`);
    }
    for (const x of ['A', 'B']) {
      const h1 = `${x} HTTP/1.1 16 x 1`;
      process.stdout.write(`${x}: gRPC / HTTP/1.1 by CPU per call ${LOADS.filter((l) => !l.h1).map((l) => `${l.label} ${(med(h1, 'cpu') / med(`${x} ${l.label}`, 'cpu')).toFixed(2)}x`).join(', ')}; by calls/s ${LOADS.filter((l) => !l.h1).map((l) => `${l.label} ${(med(`${x} ${l.label}`, 'rps') / med(h1, 'rps')).toFixed(2)}x`).join(', ')}\n`);
    }
    process.stdout.write(`load average at end ${load()}\n`);
  } finally {
    for (const c of children) c.kill();
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (require.main === module) void main();
