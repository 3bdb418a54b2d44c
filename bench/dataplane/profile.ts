/**
 * Where the sidecars' time goes: starts the service and the devmesh chain
 * with `--cpu-prof` in each sidecar, drives it with wrk, and prints the top
 * functions by self time per sidecar (the .cpuprofile files stay in the
 * output dir for a flame graph in Chrome DevTools or speedscope).
 *
 *   node out/bench/dataplane/profile.js [seconds] [connections] [outDir]
 *
 * `--heap` samples allocations instead (heapSampler.ts, over exactly the
 * measured wrk run) and prints what each sidecar process allocates per
 * request: devmesh's own frames, Node's, and the top allocation sites with
 * what they allocate under them. `--mem` prints where each sidecar process's
 * resident memory is when idle and at its peak over the measured run
 * (memProbe.ts: the node binary, malloc, V8's spaces, the live old space
 * after each full GC).
 */
import { existsSync, readdirSync, readFileSync, mkdirSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { createCa } from '../../simulator/control/ca';
import { benchSnapshot, SERVICE_HOST, startDevmeshChain } from './devmeshChain';
import { freePort } from './ports';
import { describe as describeMemory } from './memProbe';
import { CPUS, cpuMsOf, firstJsonLine, memoryOf, pin, runWrk, spawnPinned } from './procs';

interface Node { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number; children?: number[] }

interface HeapNode { callFrame: Node['callFrame']; selfSize: number; children: HeapNode[] }

/** Bytes per request of a sampled heap profile: by origin, and by the innermost devmesh frame each allocation happened under. */
export function allocationsPerRequest(file: string, requests: number, n = 20): string[] {
  const prof = JSON.parse(readFileSync(file, 'utf8')) as { head: HeapNode };
  const origin = new Map<string, number>();
  const site = new Map<string, number>();
  const name = (f: Node['callFrame']) => `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/out\//, '')}:${f.lineNumber + 1}`;
  let total = 0;
  const walk = (node: HeapNode, under: string | undefined) => {
    const f = node.callFrame;
    const own = f.url.includes('/out/');
    const here = own ? name(f) : under;
    const size = node.selfSize;
    total += size;
    const o = own ? 'devmesh code itself' : f.url.startsWith('node:') ? 'Node internals' : 'V8 builtins and natives';
    origin.set(o, (origin.get(o) ?? 0) + size);
    if (here) site.set(here, (site.get(here) ?? 0) + size);
    for (const c of node.children) walk(c, here);
  };
  walk(prof.head, undefined);
  const kb = (b: number) => `${(b / 1024 / requests).toFixed(1)} KB`;
  const under = [...site.values()].reduce((a, b) => a + b, 0);
  return [
    `allocated ${kb(total)} per request; ${[...origin].map(([k, v]) => `${k} ${kb(v)}`).join(', ')}; under devmesh frames (Node calls included) ${kb(under)}`,
    ...[...site].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, v]) => `${String(Math.round(v / requests)).padStart(7)} B/req  ${k}`),
  ];
}

export function topSelf(file: string, n = 25): string[] {
  const prof = JSON.parse(readFileSync(file, 'utf8')) as { nodes: Node[]; samples: number[] };
  const total = prof.samples.length;
  const byFn = new Map<string, number>();
  for (const node of prof.nodes) {
    const f = node.callFrame;
    const key = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(node_modules|out|node:)/, '$1').replace('file://', '')}:${f.lineNumber + 1}`;
    byFn.set(key, (byFn.get(key) ?? 0) + (node.hitCount ?? 0));
  }
  return [...byFn].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, v]) => `${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}`);
}

/**
 * Self time per call of a CPU profile that covers exactly `calls` calls: the
 * busy total, then by origin (devmesh, each Node module, natives, GC), then
 * the top functions, all in µs per call.
 */
export function selfPerCall(file: string, calls: number, n = 25): string[] {
  const prof = JSON.parse(readFileSync(file, 'utf8')) as { nodes: Node[]; samples: number[]; timeDeltas: number[] };
  const timeOf = new Map<number, number>();
  prof.samples.forEach((id, i) => timeOf.set(id, (timeOf.get(id) ?? 0) + (prof.timeDeltas[i + 1] ?? 0)));
  const byFn = new Map<string, number>();
  const byOrigin = new Map<string, number>();
  const add = (m: Map<string, number>, k: string, v: number) => m.set(k, (m.get(k) ?? 0) + v);
  let busy = 0;
  for (const node of prof.nodes) {
    const t = timeOf.get(node.id) ?? 0;
    const f = node.callFrame;
    if (!t || f.functionName === '(idle)') continue;
    busy += t;
    add(byFn, `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(node_modules|out)\//, '$1/').replace('file://', '')}:${f.lineNumber + 1}`, t);
    const module = /^node:(?:internal\/)?(\w+)/.exec(f.url)?.[1];
    add(byOrigin, f.url.includes('/out/') ? 'devmesh' : module ? `node:${module}` : f.url ? 'node_modules' : f.functionName, t);
  }
  const us = (t: number) => (t / calls).toFixed(1).padStart(7);
  const top = (m: Map<string, number>, k: number) => [...m].sort((a, b) => b[1] - a[1]).slice(0, k);
  return [
    `busy ${us(busy).trim()} µs per call (profiler on)`,
    `by origin: ${top(byOrigin, 14).map(([k, v]) => `${k} ${us(v).trim()}`).join(', ')}`,
    ...top(byFn, n).map(([k, v]) => `${us(v)} µs  ${k}`),
  ];
}

async function main() {
  const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  const seconds = Number(args[0] ?? 5), connections = Number(args[1] ?? 64);
  const out = path.resolve(args[2] ?? '/tmp/devmesh-prof');
  mkdirSync(out, { recursive: true });
  const svc = spawnPinned(CPUS?.proxies, process.execPath, [path.join(__dirname, 'service.js')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const { port } = await firstJsonLine<{ port: number }>(svc);
  const ports = async (k: number) => Promise.all(Array.from({ length: k }, () => freePort()));
  const snap = benchSnapshot(port, { client: await ports(3), server: await ports(3), ingress: await ports(2) });
  const heap = process.argv.includes('--heap');
  const mem = !heap && process.argv.includes('--mem');
  const profile = !heap && !mem && !process.argv.includes('--no-prof');
  if (profile) process.env.DEVMESH_SIDECAR_EXEC_ARGV = `${process.env.DEVMESH_SIDECAR_EXEC_ARGV ?? ''} --cpu-prof --cpu-prof-dir=${out}`;
  if (heap) {
    for (const f of readdirSync(out).filter((x) => x.endsWith('.heapprofile'))) rmSync(path.join(out, f));
    process.env.DEVMESH_SIDECAR_EXEC_ARGV = `${process.env.DEVMESH_SIDECAR_EXEC_ARGV ?? ''} --require ${path.join(__dirname, 'heapSampler.js')}`;
    process.env.DEVMESH_HEAP_DIR = out;
  }
  if (mem) {
    for (const f of readdirSync(out).filter((x) => x.endsWith('.memprobe.json'))) rmSync(path.join(out, f));
    process.env.DEVMESH_SIDECAR_EXEC_ARGV = `${process.env.DEVMESH_SIDECAR_EXEC_ARGV ?? ''} --require ${path.join(__dirname, 'memProbe.js')}`;
    process.env.DEVMESH_MEM_DIR = out;
  }
  const mesh = await startDevmeshChain(createCa({ trustDomain: 'cluster.local' }), snap, { sampling: 100, printAccessLog: false, observability: process.env.BENCH_OBSERVABILITY !== 'off' });
  delete process.env.DEVMESH_SIDECAR_EXEC_ARGV;
  for (const pid of mesh.pids()) pin(pid, CPUS?.proxies);
  await runWrk(`http://127.0.0.1:${mesh.outboundPort}/`, { connections, seconds: 2, host: SERVICE_HOST });
  const all = [svc.pid!, ...mesh.pids()];
  if (mem) for (const pid of mesh.pids()) process.kill(pid, 'SIGUSR2');
  if (heap) for (const pid of mesh.pids()) process.kill(pid, 'SIGUSR2');
  const before = all.map(cpuMsOf);
  const r = await runWrk(`http://127.0.0.1:${mesh.outboundPort}/`, { connections, seconds, host: SERVICE_HOST });
  if (heap || mem) for (const pid of mesh.pids()) process.kill(pid, 'SIGUSR2');
  const perReq = all.map((pid, i) => ((cpuMsOf(pid) - before[i]) * 1000) / r.requests);
  process.stdout.write(`${r.rps.toFixed(0)} req/s, p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms; CPU µs/req: service ${perReq[0].toFixed(0)}, sidecar processes ${perReq.slice(1).map((x) => x.toFixed(0)).join(' + ')} (${mesh.layout} layout); RSS/peak MB ${mesh.pids().map((p) => { const m = memoryOf(p); return `${m?.rssMb.toFixed(0)}/${m?.peakMb.toFixed(0)}`; }).join(', ')}\n`);
  const pids = mesh.pids();
  // The sampler writes its profile after the second signal: wait for it before the processes stop.
  const written = (pid: number) => existsSync(path.join(out, heap ? `${pid}.heapprofile` : `${pid}.memprobe.json`));
  for (let i = 0; (heap || mem) && i < 100 && !pids.every(written); i++) await new Promise((res) => setTimeout(res, 100));
  await mesh.stop();
  svc.kill();
  await new Promise((res) => setTimeout(res, 500));
  for (const pid of heap ? pids : []) {
    const file = path.join(out, `${pid}.heapprofile`);
    process.stdout.write(`\n== ${file} (sidecar process ${pid})\n${allocationsPerRequest(file, r.requests).join('\n')}\n`);
  }
  for (const pid of mem ? pids : []) {
    const file = path.join(out, `${pid}.memprobe.json`);
    process.stdout.write(`\n== ${file}\n${describeMemory(JSON.parse(readFileSync(file, 'utf8'))).join('\n')}\n`);
  }
  for (const f of readdirSync(out).filter((x) => x.endsWith('.cpuprofile'))) {
    const pid = Number(/^CPU\.\d+\.\d+\.(\d+)\./.exec(f)?.[1]);
    if (!pids.includes(pid)) continue;
    process.stdout.write(`\n== ${f} (${pid === pids[0] ? 'client-v1: outbound' : 'bench-v1: inbound'})\n${topSelf(path.join(out, f)).join('\n')}\n`);
  }
}

if (require.main === module) void main();
