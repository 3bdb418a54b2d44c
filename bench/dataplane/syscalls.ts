/**
 * The system calls per request on each leg of a chain, devmesh's against
 * the lean Node pair's: the bench's service behind each, wrk through each,
 * and `strace -f -yy` attached to the service and the proxy process(es)
 * for one wrk run, every read/write-family call put on the leg its socket
 * is on by the socket's ports (wrk <-> outbound listener, the mTLS HTTP/2
 * session between the sidecars, the sidecar <-> app, the pipes), with the
 * bytes each moved. strace slows the traced processes several times, so
 * the absolute rate means nothing; calls per request on each leg are what
 * to compare (a slower proxy batches a little more per read).
 *
 *   node out/bench/dataplane/syscalls.js [seconds] [connections] [lean|devmesh|both]
 *
 * Needs strace and ptrace rights (root here).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createCa } from '../../simulator/control/ca';
import { benchSnapshot, SERVICE_HOST, startDevmeshChain } from './devmeshChain';
import { freePort } from './ports';
import { CPUS, firstJsonLine, pin, runWrk, spawnPinned } from './procs';

/** One traced call: which process, which call, on which leg, how many bytes it moved. */
interface Call { pid: number; name: string; leg: string; bytes: number }

const CALLS = ['read', 'write', 'writev', 'readv', 'recvfrom', 'sendto', 'sendmsg', 'recvmsg'];

/** Parses one thread's strace -yy output (`-ff`: a file per thread, so no call is split): `name(FD<TCP:[a:p->b:q]>, ...) = N`. */
export function parseStrace(pid: number, text: string, legOf: (local: number, remote: number) => string): Call[] {
  const calls: Call[] = [];
  const line = /^(\w+)\((\d+)<(TCP:\[[^\]]*\]|[^>]*)>.*\)\s+=\s+(-?\d+)/;
  for (const l of text.split('\n')) {
    const m = line.exec(l);
    if (!m || !CALLS.includes(m[1])) continue;
    const sock = /TCP:\[[\d.]+:(\d+)->[\d.]+:(\d+)\]/.exec(m[3]);
    const leg = sock ? legOf(Number(sock[1]), Number(sock[2])) : m[3].startsWith('UNIX') || m[3].startsWith('pipe') ? 'pipe (IPC, stdio)' : `other (${m[3].replace(/\[.*$/, '')})`;
    calls.push({ pid, name: m[1], leg, bytes: Math.max(0, Number(m[4])) });
  }
  return calls;
}

async function traced(pids: number[], run: () => Promise<number>, file: string, legOf: (local: number, remote: number) => string): Promise<{ calls: Call[]; requests: number }> {
  const strace: ChildProcess = spawn('strace', ['-f', '-ff', '-yy', '-qq', '-s', '0', '-e', `trace=${CALLS.join(',')}`, '-o', file, ...pids.flatMap((p) => ['-p', String(p)])], { stdio: ['ignore', 'ignore', 'inherit'] });
  // strace attaches to each thread before it traces: give it a moment, then run.
  await new Promise((r) => setTimeout(r, 1000));
  const requests = await run();
  await new Promise<void>((r) => { strace.once('close', () => r()); strace.kill('SIGINT'); });
  const dir = path.dirname(file), base = path.basename(file);
  const calls: Call[] = [];
  for (const f of readdirSync(dir).filter((x) => x.startsWith(`${base}.`))) {
    calls.push(...parseStrace(Number(f.slice(base.length + 1)), readFileSync(path.join(dir, f), 'utf8'), legOf));
    rmSync(path.join(dir, f));
  }
  return { calls, requests };
}

function report(title: string, calls: Call[], requests: number, who: (pid: number) => string): string {
  const rows = new Map<string, { n: number; bytes: number }>();
  for (const c of calls) {
    const k = `${who(c.pid)}\t${c.leg}\t${c.name}`;
    const r = rows.get(k) ?? { n: 0, bytes: 0 };
    r.n++;
    r.bytes += c.bytes;
    rows.set(k, r);
  }
  const lines = [...rows].sort((a, b) => a[0].localeCompare(b[0])).map(([k, r]) => {
    const [proc, leg, name] = k.split('\t');
    return `| ${proc} | ${leg} | ${name} | ${(r.n / requests).toFixed(2)} | ${r.n ? Math.round(r.bytes / r.n) : 0} |`;
  });
  return [`\n== ${title}: ${requests} requests traced`, '| process | leg | call | per request | bytes per call |', '| --- | --- | --- | --- | --- |', ...lines].join('\n');
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const seconds = Number(args[0] ?? 3), connections = Number(args[1] ?? 16), which = args[2] ?? 'both';
  const svc = spawnPinned(CPUS?.proxies, process.execPath, [path.join(__dirname, 'service.js')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const { port: servicePort } = await firstJsonLine<{ port: number }>(svc);
  pin(svc.pid, CPUS?.proxies);
  const tmp = os.tmpdir();
  process.stdout.write(`load average ${os.loadavg().map((x) => x.toFixed(2)).join(' / ')}; wrk -c${connections} for ${seconds} s per chain, strace -f -yy on the service and the proxies\n`);
  const drive = async (port: number) => (await runWrk(`http://127.0.0.1:${port}/`, { connections, seconds, host: SERVICE_HOST })).requests;

  if (which !== 'devmesh') {
    const lean = spawnPinned(CPUS?.proxies, process.execPath, [path.join(__dirname, 'lean.js'), String(servicePort)], { stdio: ['ignore', 'pipe', 'inherit'] });
    const { port } = await firstJsonLine<{ port: number }>(lean);
    pin(lean.pid, CPUS?.proxies);
    await drive(port);
    const legOf = (l: number, r: number) => l === port || r === port ? 'wrk <-> outbound' : l === servicePort || r === servicePort ? 'proxy <-> app' : 'HTTP/2 mTLS session';
    const { calls, requests } = await traced([svc.pid!, lean.pid!], () => drive(port), path.join(tmp, `syscalls-lean-${process.pid}`), legOf);
    const leanPid = lean.pid!;
    process.stdout.write(`${report('lean Node pair', calls, requests, (p) => (p === svc.pid ? 'service' : p === leanPid ? 'lean pair' : `lean pair thread ${p}`))}\n`);
    lean.kill();
  }
  if (which !== 'lean') {
    const ports = async (k: number) => Promise.all(Array.from({ length: k }, () => freePort()));
    const snap = benchSnapshot(servicePort, { client: await ports(3), server: await ports(3), ingress: await ports(2) });
    const mesh = await startDevmeshChain(createCa({ trustDomain: 'cluster.local' }), snap, { sampling: 100, printAccessLog: false });
    for (const pid of mesh.pids()) pin(pid, CPUS?.proxies);
    const out = mesh.outboundPort;
    const inbound = new Set(snap.workloads.map((w) => w.sidecar.inboundPort));
    await drive(out);
    const legOf = (l: number, r: number) => l === out || r === out ? 'wrk <-> outbound' : l === servicePort || r === servicePort ? 'proxy <-> app' : inbound.has(l) || inbound.has(r) ? 'HTTP/2 mTLS session' : `tcp ${l}->${r}`;
    const { calls, requests } = await traced([svc.pid!, ...mesh.pids()], () => drive(out), path.join(tmp, `syscalls-devmesh-${process.pid}`), legOf);
    const pids = mesh.pids();
    process.stdout.write(`${report(`devmesh (${mesh.layout} layout)`, calls, requests, (p) => (p === svc.pid ? 'service' : pids.includes(p) ? 'sidecar process' : `sidecar thread ${p}`))}\n`);
    await mesh.stop();
  }
  svc.kill();
  setTimeout(() => process.exit(0), 200).unref();
}

if (require.main === module) void main();
