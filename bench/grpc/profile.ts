/**
 * Where the gRPC path's time goes, next to the HTTP/1.1 path's: the gRPC
 * benchmark's chain process (both sidecars, bench/grpc/chain.ts) under one
 * load at a time, with `--cpu-prof` (or `--heap`: the sampling heap profiler
 * over exactly the measured run), and the top functions by self time.
 *
 *   node out/bench/grpc/profile.js grpc|h1 [seconds] [connections] [streams] [outDir] [--heap] [--no-prof] [--syscalls]
 *
 * grpc: h2load (h2c) -> local upstream port -> client sidecar -> mTLS h2 ->
 * bench sidecar -> h2c -> grpc-js service; h1: h2load --h1 -> outbound
 * listener -> mTLS h2 -> bench sidecar -> HTTP/1.1 service. Prints calls/s
 * and CPU µs per call of the chain process and of the service (from /proc).
 * The profile spans the process's whole life (a 2 s warm-up first), the
 * CPU per call only the measured run. `--syscalls` (with `--no-prof`: the
 * profiler's own writes would count): the chain's and the service's system
 * calls per call over the measured run, by call (`perf stat` on the
 * syscalls tracepoints; needs perf and root), e.g. how many writes the
 * sidecars make per call at 1 x 16 against 4 x 4.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { allocationsPerRequest, selfPerCall } from '../dataplane/profile';
import { CPUS, cpuMsOf, firstJsonLine, pin, sleep, spawnPinned } from '../dataplane/procs';
import { runH2load } from '../grpc';
import { REQUEST_FRAME } from './service';

const SYSCALLS = ['read', 'readv', 'write', 'writev', 'epoll_wait', 'epoll_pwait', 'futex', 'mprotect', 'madvise', 'munmap', 'mmap', 'getpid'];

/** Counts each process's system calls (those above and all of them) until the returned function stops the count. */
function countSyscalls(pids: number[]): () => Promise<Array<Map<string, number>>> {
  const perfs = pids.map((pid) => {
    const perf = spawn('perf', ['stat', '-x,', '-e', ['raw_syscalls:sys_enter', ...SYSCALLS.map((c) => `syscalls:sys_enter_${c}`)].join(','), '-p', String(pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
    let text = '';
    perf.stderr.on('data', (c: Buffer) => { text += c.toString(); });
    perf.on('error', () => undefined);
    return { perf, text: () => text };
  });
  const parse = (text: string) => new Map(text.split('\n').map((l) => l.split(',')).filter((f) => /sys_enter/.test(f[2] ?? '')).map((f) => [f[2].replace(/^.*sys_enter_?/, '') || 'all', Number(f[0])] as const));
  return () => Promise.all(perfs.map(({ perf, text }) => new Promise<Map<string, number>>((resolve) => {
    if (perf.pid === undefined || perf.exitCode !== null) return resolve(parse(text()));
    perf.once('close', () => resolve(parse(text())));
    perf.kill('SIGINT');
  })));
}

/** CPU ms so far of each thread of a process, by `name/tid` (the main thread's tid is the pid). */
function threadCpuMs(pid: number): Map<string, number> {
  const m = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      m.set(`${Number(tid) === pid ? 'main' : name}/${tid}`, (Number(f[11]) + Number(f[12])) * 10);
    } catch { /* the thread ended */ }
  }
  return m;
}

async function main() {
  const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  const mode = (args[0] ?? 'grpc') as 'grpc' | 'h1';
  const seconds = Number(args[1] ?? 8);
  const h1 = mode === 'h1';
  const clients = Number(args[2] ?? (h1 ? 16 : 1)), streams = h1 ? 1 : Number(args[3] ?? 16);
  const out = path.resolve(args[4] ?? `/tmp/devmesh-grpc-prof-${mode}`);
  mkdirSync(out, { recursive: true });
  for (const f of readdirSync(out).filter((x) => /\.(cpu|heap)profile$/.test(x))) rmSync(path.join(out, f));
  const heap = process.argv.includes('--heap');
  const profile = !heap && !process.argv.includes('--no-prof');
  const here = path.join(__dirname, '..');
  const spawnJson = async <T>(script: string, nodeArgs: string[], arg?: string, env?: NodeJS.ProcessEnv) => {
    const child = spawnPinned(CPUS?.proxies, process.execPath, [...nodeArgs, path.join(here, ...script.split('/')), ...(arg ? [arg] : [])], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
    const json = await firstJsonLine<T>(child, 20_000);
    pin(child.pid, CPUS?.proxies);
    return { child, json };
  };
  const http1 = await spawnJson<{ port: number }>('dataplane/service.js', []);
  const svc = await spawnJson<{ port: number }>('grpc/service.js', []);
  const sampler = profile ? 'cpuSampler.js' : heap ? 'heapSampler.js' : undefined;
  const chainArgs = [...(process.env.BENCH_CHAIN_NODE_ARGS?.split(' ').filter(Boolean) ?? []), ...(sampler ? ['--require', path.join(here, 'dataplane', sampler)] : [])];
  const chain = await spawnJson<{ outbound: number; upstream: number }>('grpc/chain.js', chainArgs, JSON.stringify({ httpPort: http1.json.port, grpcPort: svc.json.port }), { DEVMESH_HEAP_DIR: out, DEVMESH_PROFILE_DIR: out });
  const dataFile = path.join(out, 'say.bin');
  writeFileSync(dataFile, REQUEST_FRAME);
  const target = { name: mode, port: h1 ? chain.json.outbound : chain.json.upstream, h1, authority: h1 ? 'bench:9080' : 'bench:9090', pids: () => [] };
  const run = (s: number) => runH2load(target, { clients, streams, seconds: s, dataFile, logFile: path.join(out, 'h2load.log') });
  try {
    await run(2);
    const service = h1 ? http1.child.pid! : svc.child.pid!;
    if (sampler) process.kill(chain.child.pid!, 'SIGUSR2');
    const syscalls = process.argv.includes('--syscalls') ? countSyscalls([chain.child.pid!, service]) : undefined;
    const threadsBefore = threadCpuMs(chain.child.pid!);
    const before = [chain.child.pid!, service].map(cpuMsOf);
    const r = await run(seconds);
    const [chainUs, serviceUs] = [chain.child.pid!, service].map((pid, i) => ((cpuMsOf(pid) - before[i]) * 1000) / r.done);
    if (sampler) process.kill(chain.child.pid!, 'SIGUSR2');
    if (syscalls) {
      const counts = await syscalls();
      for (const [i, who] of ['chain', 'service'].entries()) {
        const c = counts[i];
        process.stdout.write(`${who} system calls per call: ${c.size === 0 ? 'not counted (needs perf and root)' : [...c].filter(([, n]) => n > 0).map(([k, n]) => `${k} ${(n / r.done).toFixed(2)}`).join(', ')}\n`);
      }
    }
    const threads = [...threadCpuMs(chain.child.pid!)].map(([t, ms]) => [t, ms - (threadsBefore.get(t) ?? 0)] as const).filter(([, ms]) => ms > 0);
    process.stdout.write(`chain threads, CPU µs/call: ${threads.map(([t, ms]) => `${t} ${((ms * 1000) / r.done).toFixed(0)}`).join(', ')}\n`);
    process.stdout.write(`${mode} ${clients} x ${streams}: ${r.rps.toFixed(0)} calls/s, p50 ${r.p50Ms.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(2)} ms, failed ${r.failed + r.non2xx}; CPU µs/call: chain (both sidecars) ${chainUs.toFixed(0)}, service ${serviceUs.toFixed(0)}\n`);
    const file = path.join(out, `${chain.child.pid}.${heap ? 'heap' : 'cpu'}profile`);
    for (let i = 0; sampler && i < 100 && !existsSync(file); i++) await sleep(100);
    if (heap) process.stdout.write(`\n== ${file}\n${allocationsPerRequest(file, r.done, 30).join('\n')}\n`);
    if (profile) process.stdout.write(`\n== ${file} (${r.done} calls)\n${selfPerCall(file, r.done, 45).join('\n')}\n`);
  } finally {
    chain.child.kill('SIGTERM');
    await new Promise((r) => chain.child.once('exit', r));
    http1.child.kill();
    svc.child.kill();
  }
}

if (require.main === module) void main();
