/**
 * The benchmark's reaper (lifecycle.ts starts it, detached, in a session of
 * its own): reads the processes the harness started on stdin, and when
 * stdin closes — the harness ended, however: a normal exit, a signal,
 * SIGKILL, the OOM killer, a native crash — stops every one of them still
 * running (SIGTERM, SIGKILL after a grace), then exits. It signals a pid
 * only while /proc says it is the same process (same start time), so a pid
 * the system reused is never touched.
 *
 *   + PID START GROUP WHAT   tracked (GROUP 1: the process leads its own group; the group is signalled)
 *   - PID                    ended or stopped by the harness
 *
 *   node out/bench/reaper.js HARNESS_PID
 */
import { readFileSync } from 'node:fs';

interface Entry { pid: number; start: string; group: boolean; what: string }

/** A process's start time (field 22 of /proc/PID/stat, clock ticks since boot), or undefined when it is gone. */
export function startTimeOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // A zombie has ended: nothing left to stop.
    return fields[0] === 'Z' ? undefined : fields[19];
  } catch { return undefined; }
}

/** Signals a tracked process (or its group) if it is still the process that was tracked; false if it is gone. */
export function signalTracked(e: { pid: number; start: string; group: boolean }, signal: NodeJS.Signals): boolean {
  if (startTimeOf(e.pid) !== e.start) return false;
  try { process.kill(e.group ? -e.pid : e.pid, signal); return true; } catch { return false; }
}

/** Applies one line of the protocol to the tracked set. */
export function applyLine(tracked: Map<number, Entry>, line: string): void {
  const [op, pid, start, group, ...what] = line.trim().split(' ');
  if (op === '+' && Number(pid) > 0 && start) tracked.set(Number(pid), { pid: Number(pid), start, group: group === '1', what: what.join(' ') });
  else if (op === '-') tracked.delete(Number(pid));
}

function main(): void {
  const harness = process.argv[2] ?? '?';
  const tracked = new Map<number, Entry>();
  let buf = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (d: string) => {
    buf += d;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) { applyLine(tracked, buf.slice(0, nl)); buf = buf.slice(nl + 1); }
  });
  process.stdin.on('error', () => { /* the harness died mid-write: 'close' follows */ });
  process.stdin.on('close', () => {
    const alive = [...tracked.values()].filter((e) => signalTracked(e, 'SIGTERM'));
    if (alive.length === 0) process.exit(0);
    process.stderr.write(`bench reaper: the benchmark (pid ${harness}) ended with ${alive.length} of its processes still running; stopping them: ${alive.map((e) => `${e.pid} (${e.what})`).join(', ')}\n`);
    const deadline = Date.now() + 1500;
    const check = setInterval(() => {
      const left = alive.filter((e) => startTimeOf(e.pid) === e.start);
      if (left.length > 0 && Date.now() < deadline) return;
      for (const e of left) signalTracked(e, 'SIGKILL');
      if (left.length) process.stderr.write(`bench reaper: SIGKILLed ${left.map((e) => e.pid).join(', ')} (still running 1.5 s after SIGTERM)\n`);
      clearInterval(check);
      process.exit(0);
    }, 50);
  });
}

if (require.main === module) main();
