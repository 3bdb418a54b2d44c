/**
 * Where a TCP relay's time goes: iperf3 through a devmesh tcp chain (local
 * upstream port -> caller's sidecar -> mTLS tunnel -> callee's sidecar ->
 * iperf3 server), the sidecar process with `--cpu-prof`, and the top
 * functions by self time (the .cpuprofile stays in the output dir).
 *
 *   node out/bench/tcp/profile.js [h2|tls] [seconds] [streams] [outDir] [--no-prof] [--conn]
 *
 * `--conn`: new connections per second instead (bench/tcp/connRate.ts to the
 * echo service, `streams` at a time), CPU per connection.
 * `--syscalls`: also the sidecar process's system calls per MB (or per
 * connection), counted by `perf stat -e raw_syscalls:sys_enter` (root): a
 * figure other load on a shared machine does not move, unlike CPU time.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { createCa } from '../../simulator/control/ca';
import { startDevmeshChain } from '../dataplane/devmeshChain';
import { topSelf } from '../dataplane/profile';
import { freePort } from '../dataplane/ports';
import { CPUS, cpuMsOf, firstJsonLine, pin, spawnPinned } from '../dataplane/procs';
import { connRate, iperf, tcpSnapshot } from '../tcp';

async function main() {
  const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  const transport = (args[0] ?? 'h2') as 'h2' | 'tls';
  const seconds = Number(args[1] ?? 5), streams = Number(args[2] ?? 1);
  const out = path.resolve(args[3] ?? '/tmp/devmesh-tcp-prof');
  mkdirSync(out, { recursive: true });
  const iperfPort = await freePort();
  const iperfd = spawnPinned(CPUS?.proxies, 'iperf3', ['-s', '-p', String(iperfPort), '-B', '127.0.0.1'], { stdio: 'ignore' });
  const echo = spawnPinned(CPUS?.proxies, process.execPath, [path.join(__dirname, 'echo.js')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const { port: echoPort } = await firstJsonLine<{ port: number }>(echo);
  const ports = async (k: number) => Promise.all(Array.from({ length: k }, () => freePort()));
  const upstreams = (await ports(2)) as [number, number];
  const snap = tcpSnapshot({ iperfPort, echoPort, client: await ports(3), iperfSc: await ports(3), echoSc: await ports(3), ingress: await ports(2), upstreams });
  const profile = !process.argv.includes('--no-prof');
  if (profile) process.env.DEVMESH_SIDECAR_EXEC_ARGV = `${process.env.DEVMESH_SIDECAR_EXEC_ARGV ?? ''} --cpu-prof --cpu-prof-dir=${out}`;
  const chain = await startDevmeshChain(createCa({ trustDomain: 'cluster.local' }), snap, { printAccessLog: false, tcpTunnel: transport }, 'shared', 1, 'chain');
  delete process.env.DEVMESH_SIDECAR_EXEC_ARGV;
  try {
    for (const pid of chain.pids()) pin(pid, CPUS?.proxies);
    const conn = process.argv.includes('--conn');
    if (conn) {
      await connRate(upstreams[1], 1, streams);
      const pids = [echo.pid!, ...chain.pids()];
      const before = pids.map(cpuMsOf);
      const calls = syscalls(chain.pids());
      const r = await connRate(upstreams[1], seconds, streams);
      const used = pids.map((p, i) => cpuMsOf(p) - before[i]);
      const n = r.perSecond * seconds;
      process.stdout.write(`${transport}: ${r.perSecond.toFixed(0)} connections/s (${streams} at a time, p50 ${r.p50Ms.toFixed(2)} ms, ${r.errors} errors); CPU µs per connection: echo ${(used[0] * 1000 / n).toFixed(0)}, sidecar process ${(used.slice(1).reduce((a, b) => a + b, 0) * 1000 / n).toFixed(0)}${await syscallsPer(calls, n, 'connection')}\n`);
      return;
    }
    await iperf(upstreams[0], 1, streams);
    const pids = [iperfd.pid!, ...chain.pids()];
    const before = pids.map(cpuMsOf);
    const calls = syscalls(chain.pids());
    const r = await iperf(upstreams[0], seconds, streams);
    const used = pids.map((p, i) => cpuMsOf(p) - before[i]);
    process.stdout.write(`${transport}: ${r.mbps.toFixed(0)} MB/s (${streams} stream(s)); CPU ms per MB: iperf3 server ${(used[0] / (r.mbps * seconds)).toFixed(2)}, sidecar process ${(used.slice(1).reduce((a, b) => a + b, 0) / (r.mbps * seconds)).toFixed(2)}${await syscallsPer(calls, r.mbps * seconds, 'MB')}\n`);
  } finally {
    const pids = chain.pids();
    await chain.stop();
    iperfd.kill();
    echo.kill();
    await new Promise((res) => setTimeout(res, 500));
    if (profile) {
      for (const f of readdirSync(out).filter((x) => x.endsWith('.cpuprofile') && pids.includes(Number(/^CPU\.\d+\.\d+\.(\d+)\./.exec(x)?.[1])))) {
        process.stdout.write(`\n== ${f}\n${topSelf(path.join(out, f), 30).join('\n')}\n`);
      }
    }
  }
}

/** With --syscalls: counts these processes' system calls until the returned function stops the count. */
function syscalls(pids: number[]): (() => Promise<number | undefined>) | undefined {
  if (!process.argv.includes('--syscalls')) return undefined;
  const perf = spawn('perf', ['stat', '-x,', '-e', 'raw_syscalls:sys_enter', '-p', pids.join(',')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let text = '';
  perf.stderr.on('data', (c: Buffer) => { text += c.toString(); });
  perf.on('error', () => undefined);
  const counted = () => {
    const n = Number(text.split('\n').find((l) => l.includes('raw_syscalls:sys_enter'))?.split(',')[0]);
    return Number.isFinite(n) ? n : undefined;
  };
  return () => new Promise((resolve) => {
    // No perf on this machine (the spawn failed), or it already gave up: nothing to wait for.
    if (perf.pid === undefined || perf.exitCode !== null) return resolve(counted());
    perf.once('close', () => resolve(counted()));
    perf.kill('SIGINT');
  });
}

async function syscallsPer(count: ReturnType<typeof syscalls>, n: number, unit: string): Promise<string> {
  if (!count) return '';
  const c = await count();
  return c === undefined ? '; perf stat counted no system calls (needs perf and root)' : `; system calls per ${unit} (sidecar process): ${(c / n).toFixed(1)}`;
}

if (require.main === module) void main();
