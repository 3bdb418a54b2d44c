/**
 * Process plumbing for the data-plane benchmark: CPU pinning with taskset,
 * RSS and CPU time from /proc, wrk runs and their parsing. Linux only; every
 * helper degrades to "not measured" rather than failing the run.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import { track } from '../lifecycle';

export const has = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

/**
 * Load generator on CPU 0, everything under test on CPU 1 (when there are
 * two). DEVMESH_BENCH_PIN=off pins nothing (as `devmesh up` runs on a
 * laptop: the sidecar process's GC and compiler helper threads may use the
 * other core).
 */
export const CPUS = os.cpus().length >= 2 && has('taskset') && process.env.DEVMESH_BENCH_PIN !== 'off' ? { load: '0', proxies: '1' } : undefined;

/**
 * `setpriv --pdeathsig KILL` before a child's command: the kernel SIGKILLs it
 * when the harness dies, however it dies (a harness SIGKILLed once left nginx
 * running; lifecycle.ts's reaper is the second net, for what is spawned elsewhere).
 */
const DEATH_SIG = process.platform === 'linux' && has('setpriv') ? ['setpriv', '--pdeathsig', 'KILL'] : [];

/** Spawns a child pinned to `cpu` (taskset), at the run's niceness, that dies with the harness; tracked until it exits (lifecycle.ts). */
export function spawnPinned(cpu: string | undefined, cmd: string, args: string[], opts: Parameters<typeof spawn>[2] = {}): ChildProcess {
  const argv = [...DEATH_SIG, ...(cpu ? ['taskset', '-c', cpu] : []), cmd, ...args];
  const child = spawn(argv[0], argv.slice(1), opts);
  track(child, { what: [cmd.split('/').pop(), ...args.map((a) => (a.includes('/') ? a.split('/').slice(-2).join('/') : a))].join(' ') });
  pin(child.pid, undefined);
  return child;
}

/**
 * Pins a running process and all its threads (libuv pool, V8 helpers), and
 * raises its priority (nice -5 when allowed) so that other work on a shared
 * machine disturbs every chain less; every process under test gets the same.
 */
export function pin(pid: number | undefined, cpu: string | undefined): void {
  if (!pid) return;
  if (cpu) { try { execFileSync('taskset', ['-a', '-pc', cpu, String(pid)], { stdio: 'ignore' }); } catch { /* best effort */ } }
  try { execFileSync('renice', ['-n', String(NICE), '-p', String(pid)], { stdio: 'ignore' }); } catch { /* not allowed: fine */ }
}

/** Niceness of every process under test; DEVMESH_BENCH_NICE changes it (a busier shared machine disturbs a run less at -15). */
export const NICE = Number(process.env.DEVMESH_BENCH_NICE ?? -5);

/** Resident set (VmRSS) and its peak (VmHWM), in MB. */
export function memoryOf(pid: number | undefined): { rssMb: number; peakMb: number } | undefined {
  if (!pid) return undefined;
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)?.[1] ?? NaN);
    return { rssMb: kb('VmRSS') / 1024, peakMb: kb('VmHWM') / 1024 };
  } catch { return undefined; }
}

const TICK_MS = 1000 / 100; // USER_HZ is 100 on Linux
/** User + system CPU time of a process so far, in ms. */
export function cpuMsOf(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
  } catch { return 0; }
}

/**
 * A process's CPU time so far, in ms, split by where it went: user and
 * system time, and the main thread (the event loop, JavaScript, system
 * calls) apart from the other threads (V8's GC and compiler helpers, the
 * libuv pool); and its context switches (voluntary, involuntary). A
 * thread that ended is in user and system but in neither thread figure
 * (V8's helpers live as long as the process).
 */
export interface CpuSplit { user: number; system: number; main: number; helpers: number; voluntary: number; involuntary: number }
export function cpuSplitOf(pid: number | undefined): CpuSplit {
  const split: CpuSplit = { user: 0, system: 0, main: 0, helpers: 0, voluntary: 0, involuntary: 0 };
  if (!pid) return split;
  const fieldsOf = (file: string) => { const stat = readFileSync(file, 'utf8'); return stat.slice(stat.lastIndexOf(')') + 2).split(' '); };
  try {
    const f = fieldsOf(`/proc/${pid}/stat`);
    split.user = Number(f[11]) * TICK_MS;
    split.system = Number(f[12]) * TICK_MS;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        const t = fieldsOf(`/proc/${pid}/task/${tid}/stat`);
        const ms = (Number(t[11]) + Number(t[12])) * TICK_MS;
        if (Number(tid) === pid) split.main += ms;
        else split.helpers += ms;
      } catch { /* the thread ended */ }
    }
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    split.voluntary = Number(/\nvoluntary_ctxt_switches:\s+(\d+)/.exec(status)?.[1] ?? 0);
    split.involuntary = Number(/\nnonvoluntary_ctxt_switches:\s+(\d+)/.exec(status)?.[1] ?? 0);
  } catch { /* gone: not measured */ }
  return split;
}

/** The sum of several processes' splits (a chain's sidecar processes). */
export function cpuSplitOfAll(pids: readonly number[]): CpuSplit {
  const sum: CpuSplit = { user: 0, system: 0, main: 0, helpers: 0, voluntary: 0, involuntary: 0 };
  for (const pid of pids) {
    const s = cpuSplitOf(pid);
    for (const k of Object.keys(sum) as (keyof CpuSplit)[]) sum[k] += s[k];
  }
  return sum;
}

/** Busy time of every CPU so far (all but idle and iowait, from /proc/stat), in ms. */
export function machineBusyMs(): number {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    return (total - f[3] - f[4]) * TICK_MS;
  } catch { return NaN; }
}

export interface WrkResult {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  non2xx: number;
  requests: number;
  command: string;
}

export function parseDuration(s: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(s.trim());
  if (!m) return NaN;
  const n = Number(m[1]);
  return m[2] === 'us' ? n / 1000 : m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : n * 60_000;
}

export function parseWrk(out: string): Omit<WrkResult, 'command'> {
  const num = (re: RegExp) => Number(re.exec(out)?.[1] ?? NaN);
  const pct = (p: string) => parseDuration(new RegExp(`^\\s+${p}%\\s+(\\S+)`, 'm').exec(out)?.[1] ?? '');
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    rps: num(/Requests\/sec:\s+([\d.]+)/),
    requests: num(/(\d+) requests in/),
    p50Ms: pct('50'),
    p99Ms: pct('99'),
    errors: sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
    non2xx: num(/Non-2xx or 3xx responses: (\d+)/) || 0,
  };
}

/** One wrk run, pinned to the load CPU (or `cpu`), keep-alive (wrk's default), one thread. */
export function runWrk(url: string, o: { connections: number; seconds: number; host?: string; cpu?: string; script?: string }): Promise<WrkResult> {
  const args = ['-t1', `-c${o.connections}`, `-d${o.seconds}s`, '--latency', ...(o.host ? ['-H', `Host: ${o.host}`] : []), ...(o.script ? ['-s', o.script] : []), url];
  const cpu = o.cpu ?? CPUS?.load;
  const command = `${cpu ? `taskset -c ${cpu} ` : ''}wrk ${args.map((a) => (a.includes(' ') ? `'${a}'` : a)).join(' ')}`;
  const deadlineS = o.seconds + 20;
  return new Promise((resolve, reject) => {
    const child = spawnPinned(cpu, 'wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let timedOut = false;
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (err += d));
    const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, deadlineS * 1000);
    child.on('error', (e) => { clearTimeout(timer); reject(new Error(`${command}: could not start wrk: ${e.message}`)); });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const r = parseWrk(out);
      if (Number.isNaN(r.rps)) reject(new Error(wrkFailure({ command, stdout: out, stderr: err, code, signal, timedOut, deadlineS })));
      else resolve({ ...r, command });
    });
  });
}

/**
 * Why a wrk run gave no figures: how it ended (exit code, signal, our
 * deadline), its stdout and its stderr apart. wrk prints its report only at
 * the end and its stdout is a pipe (block-buffered), so a wrk that is
 * killed prints nothing at all: an empty stdout says so.
 */
export function wrkFailure(f: { command: string; stdout: string; stderr: string; code: number | null; signal: NodeJS.Signals | null; timedOut: boolean; deadlineS: number }): string {
  const how = f.timedOut ? `did not finish within ${f.deadlineS} s and was killed (SIGKILL by the harness's deadline)`
    : f.signal ? `was killed by ${f.signal} (not by the harness: another process signalled it)`
      : `exited with code ${f.code}`;
  const text = (s: string, name: string) => (s.trim() ? `${name}:\n${s.trim().split('\n').map((l) => `  ${l}`).join('\n')}` : `${name}: (empty${name === 'stdout' && (f.timedOut || f.signal) ? ': wrk prints its report when it ends, a killed wrk prints nothing' : ''})`);
  return `wrk output not understood: \`${f.command}\` ${how}\n${text(f.stdout, 'stdout')}\n${text(f.stderr, 'stderr')}`;
}

/** Waits for the first JSON line a child prints on stdout. */
export function firstJsonLine<T>(child: ChildProcess, timeoutMs = 10_000): Promise<T> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`no output within ${timeoutMs} ms`)), timeoutMs);
    child.stdout!.on('data', (d) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        try { resolve(JSON.parse(buf.slice(0, nl)) as T); } catch (e) { reject(e); }
      }
    });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`exited with code ${code} before printing`)); });
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Stops a child and waits for it to exit (SIGKILL after `graceMs`), so that a run's stop check never finds it still going. */
export function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => { clearTimeout(timer); resolve(); });
    child.kill(signal);
  });
}
