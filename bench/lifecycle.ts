/**
 * A benchmark run stops every process it started, whatever ends it, and
 * says why it stopped. (Issue 19: a data-plane run once left its sidecars
 * and nginx running, and the run after it measured beside them.)
 *
 * - Every child is tracked (`track`): spawnPinned does it for the
 *   processes the benchmarks spawn, startDevmeshChain for the sidecar
 *   processes (each leads its own process group).
 * - A reaper process (reaper.ts), detached, hears of every tracked pid
 *   over a pipe; when the pipe closes (the harness ended in any way, SIGKILL
 *   and the OOM killer included) it stops the ones still running. A pid is
 *   only signalled while it is the process that was tracked (start time).
 * - `runHarness`: SIGINT, SIGTERM and SIGHUP, an uncaught exception or an
 *   unhandled rejection are said on stderr with the phase the run was in
 *   (`phase`), the cleanups registered with `onCleanup` get a few seconds,
 *   tracked processes still running are killed, and the exit code is not 0
 *   (1 for an error, 128 + the signal's number for a signal).
 * - On any exit of the harness, processes still tracked are SIGKILLed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { signalTracked, startTimeOf } from './reaper';

interface Tracked { pid: number; start: string; group: boolean; what: string }

const tracked = new Map<number, Tracked>();
let reaper: ChildProcess | undefined;
let exitHook = false;
let current = 'starting';

/** Names what the run is doing now; every error and signal report says it. */
export function phase(name: string): void { current = name; }
export function currentPhase(): string { return current; }

function tell(line: string): void {
  if (!reaper?.stdin?.writable) return;
  try { reaper.stdin.write(`${line}\n`); } catch { /* the reaper is gone: the exit hook still kills */ }
}

function startReaper(): void {
  if (reaper || process.env.DEVMESH_BENCH_REAPER === 'off') return;
  reaper = spawn(process.execPath, [path.join(__dirname, 'reaper.js'), String(process.pid)], { detached: true, stdio: ['pipe', 'ignore', 'inherit'] });
  reaper.on('error', () => { reaper = undefined; });
  reaper.stdin!.on('error', () => { /* EPIPE if the reaper died: the exit hook still kills */ });
  // Neither the reaper nor its pipe keeps the harness alive.
  reaper.unref();
  (reaper.stdin as unknown as { unref?: () => void }).unref?.();
}

/**
 * Tracks a child until it exits: killed when the harness ends in any way.
 * `group`: the child leads its own process group (spawned detached), whose
 * every member goes with it.
 */
export function track(child: ChildProcess | number | undefined, o: { what: string; group?: boolean }): void {
  const pid = typeof child === 'number' ? child : child?.pid;
  if (!pid) return;
  const start = startTimeOf(pid);
  if (!start) return;
  if (!exitHook) {
    exitHook = true;
    process.on('exit', () => killTracked('SIGKILL'));
  }
  startReaper();
  const e: Tracked = { pid, start, group: !!o.group, what: o.what.replace(/\s+/g, ' ').slice(0, 120) };
  tracked.set(pid, e);
  tell(`+ ${pid} ${start} ${e.group ? 1 : 0} ${e.what}`);
  if (typeof child === 'object') child.once('exit', () => untrack(pid, start));
}

/** Forgets a tracked pid (it exited). */
export function untrack(pid: number, start?: string): void {
  const e = tracked.get(pid);
  if (!e || (start && e.start !== start)) return;
  tracked.delete(pid);
  tell(`- ${pid}`);
}

/** The processes tracked and still running. */
export function trackedAlive(): Array<{ pid: number; what: string }> {
  return [...tracked.values()].filter((e) => startTimeOf(e.pid) === e.start).map(({ pid, what }) => ({ pid, what }));
}

/** Signals every tracked process still running (synchronous: usable in an exit handler); answers how many were. */
export function killTracked(signal: NodeJS.Signals): number {
  let n = 0;
  for (const e of tracked.values()) if (signalTracked(e, signal)) n++;
  return n;
}

const cleanups = new Set<() => unknown>();
/** Registers an orderly stop (sidecars drained, nginx told) to run on a signal or an error; returns its removal. */
export function onCleanup(fn: () => unknown): () => void {
  cleanups.add(fn);
  return () => cleanups.delete(fn);
}

/** Runs the registered cleanups, last first, for at most `ms`; then kills what is still tracked. */
async function stopEverything(ms: number): Promise<void> {
  const all = [...cleanups].reverse();
  cleanups.clear();
  const run = (async () => { for (const c of all) { try { await c(); } catch { /* the next one still runs */ } } })();
  await Promise.race([run, new Promise((r) => setTimeout(r, ms).unref())]);
  if (killTracked('SIGTERM') > 0) {
    const until = Date.now() + 1000;
    while (trackedAlive().length > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    killTracked('SIGKILL');
  }
}

/** An error as one report: where the run was and what failed. */
export function errorReport(name: string, e: unknown, where = current): string {
  const err = e instanceof Error ? e : new Error(String(e));
  // The stack after the message (its frames only: the message may span lines, as wrk's output does).
  const frames = (err.stack ?? '').split('\n').filter((l) => /^\s+at /.test(l)).join('\n');
  return `${name}: failed in phase "${where}": ${err.message}${frames ? `\n${frames}` : ''}\n`;
}

/**
 * Runs a benchmark's main with the above: on success exits 0 (or
 * process.exitCode); every way it can end otherwise is said on stderr with
 * the phase and gives a non-zero exit code, after the processes it started
 * are stopped.
 */
export function runHarness(name: string, main: () => Promise<void>): void {
  let ending = false;
  const end = async (report: string, code: number) => {
    if (ending) {
      // A second Ctrl-C while the orderly stop runs: kill at once.
      if (code > 128) { killTracked('SIGKILL'); process.exit(code); }
      return;
    }
    ending = true;
    process.stderr.write(report);
    const left = trackedAlive();
    if (left.length || cleanups.size) process.stderr.write(`${name}: stopping the ${left.length} process(es) it started${left.length ? ` (${left.map((p) => `${p.pid} ${p.what}`).join('; ')})` : ''}\n`);
    await stopEverything(5_000);
    process.exit(code);
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => void end(`${name}: stopped by ${signal} in phase "${current}"\n`, 128 + (os.constants.signals[signal] ?? 0)));
  }
  process.on('uncaughtException', (e) => void end(errorReport(name, e), 1));
  process.on('unhandledRejection', (e) => void end(errorReport(name, e), 1));
  main().then(
    async () => {
      // Whatever a benchmark forgot to stop goes now, said so (a bug to fix, not a reason to skew the next run).
      const left = trackedAlive();
      if (left.length) process.stderr.write(`${name}: ${left.length} process(es) still running at the end, stopped: ${left.map((p) => `${p.pid} ${p.what}`).join('; ')}\n`);
      await stopEverything(0);
      process.exit(process.exitCode ?? 0);
    },
    (e) => void end(errorReport(name, e), 1),
  );
}
