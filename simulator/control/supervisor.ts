/**
 * Keeps one child process alive: restarts it with exponential backoff when it
 * dies unexpectedly, records every start/crash/restart, and stops it (with
 * everything it spawned) on request. Each child leads its own process group
 * (`detached: true`) so `kill(-pid)` reaches grandchildren such as the node
 * behind `npm start`, and a Ctrl-C in the terminal reaches only devmesh,
 * which then stops children in order instead of all at once.
 */
import type { ChildProcess } from 'node:child_process';
import type { EventLog } from './events';

export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
  /** A child that ran this long is considered healthy again: backoff resets. */
  resetAfterMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 100, maxMs: 5_000, resetAfterMs: 10_000 };

/** Delay before restart number `attempt` (0-based): initial * 2^attempt, capped. Pure. */
export function backoffDelay(attempt: number, p: BackoffPolicy = DEFAULT_BACKOFF): number {
  return Math.min(p.maxMs, p.initialMs * 2 ** Math.min(attempt, 30));
}

export interface SupervisedOptions {
  workload: string;
  process: 'app' | 'sidecar';
  spawn: () => ChildProcess;
  events: EventLog;
  backoff?: BackoffPolicy;
  /** Called after every (re)start, e.g. to bootstrap a sidecar over IPC. */
  onSpawn?: (child: ChildProcess, restart: boolean) => void;
  /** Lines of output, already split; the runtime prefixes and prints them. */
  onOutput?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** The sidecars a shared process hosts: named in its events, since a crash takes them all down. */
  hosts?: () => string[];
}

export class Supervised {
  child: ChildProcess | undefined;
  restarts = 0;
  private consecutiveCrashes = 0;
  private startedAt = 0;
  private stopping = false;
  private timer: NodeJS.Timeout | undefined;
  /** The last lines of output, for error messages when a child dies at once. */
  readonly tail: string[] = [];
  private exitWaiters: Array<(info: ExitInfo) => void> = [];
  /** Set by recycle(): the coming exit is a restart we asked for, not a crash. */
  private recycling = false;

  constructor(private readonly opts: SupervisedOptions) {}

  get pid(): number | undefined { return this.child?.pid; }
  /** A restart is waiting out its backoff. */
  get restartPending(): boolean { return this.timer !== undefined; }
  get running(): boolean { return !!this.child && this.child.exitCode === null && this.child.signalCode === null; }

  start(restart = false): ChildProcess {
    const child = this.opts.spawn();
    this.child = child;
    this.startedAt = Date.now();
    for (const [stream, name] of [[child.stdout, 'stdout'], [child.stderr, 'stderr']] as const) {
      stream?.setEncoding('utf8');
      let buf = '';
      stream?.on('data', (chunk: string) => {
        buf += chunk;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) { this.line(buf.slice(0, nl), name); buf = buf.slice(nl + 1); }
      });
      stream?.on('end', () => { if (buf) this.line(buf, name); buf = ''; });
    }
    // A spawn failure (ENOENT, EACCES) arrives as 'error' and then 'exit'/'close' may not follow.
    child.once('error', (err) => { this.line(`${err.message}`, 'stderr'); if (child.exitCode === null && child.pid === undefined) this.onExit(child, -1, null); });
    child.once('exit', (code, signal) => this.onExit(child, code, signal));
    if (child.pid !== undefined) {
      const shared = this.shared();
      this.opts.events.record({
        type: restart ? 'process.restarted' : 'process.started',
        workload: this.opts.workload, process: this.opts.process,
        message: `${this.who()} ${restart ? `restarted (restart ${this.restarts})` : 'started'} as pid ${child.pid}${restart && shared ? `: the sidecars of ${shared.join(', ')} boot again` : ''}`,
        data: { pid: child.pid, restarts: this.restarts, ...this.hosted() },
      });
    }
    this.opts.onSpawn?.(child, restart);
    return child;
  }

  private hosted(): { sidecars?: string[] } {
    return this.opts.hosts ? { sidecars: this.opts.hosts() } : {};
  }

  /** The sidecars of a process several share (its name is not theirs), or undefined. */
  private shared(): string[] | undefined {
    const hosts = this.opts.hosts?.() ?? [];
    return hosts.length > 1 || (hosts.length === 1 && hosts[0] !== this.opts.workload) ? hosts : undefined;
  }

  /** `app of ratings-v1`, `sidecar of reviews-v1`, or a shared process by its name (`sidecars (6)`). */
  private who(): string {
    return this.shared() ? this.opts.workload : `${this.opts.process} of ${this.opts.workload}`;
  }

  /** Resolves on the next exit of the current child. */
  nextExit(): Promise<ExitInfo> {
    return new Promise((resolve) => this.exitWaiters.push(resolve));
  }

  private line(text: string, stream: 'stdout' | 'stderr') {
    this.tail.push(text);
    if (this.tail.length > 20) this.tail.shift();
    this.opts.onOutput?.(text, stream);
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null) {
    if (child !== this.child || (child as { _devmeshExited?: boolean })._devmeshExited) return;
    (child as { _devmeshExited?: boolean })._devmeshExited = true;
    const recycled = this.recycling && !this.stopping;
    this.recycling = false;
    const waiters = this.exitWaiters; this.exitWaiters = [];
    waiters.forEach((w) => w({ code, signal, recycled }));
    if (this.stopping) return;
    if (recycled) { this.restarts++; this.start(true); return; }
    if (Date.now() - this.startedAt >= (this.opts.backoff ?? DEFAULT_BACKOFF).resetAfterMs) this.consecutiveCrashes = 0;
    const delay = backoffDelay(this.consecutiveCrashes++, this.opts.backoff);
    const shared = this.shared();
    this.opts.events.record({
      type: 'process.crashed', workload: this.opts.workload, process: this.opts.process,
      message: `${this.who()} (pid ${child.pid}) exited (${signal ?? `code ${code}`})${shared ? `: the sidecars of ${shared.join(', ')} are down` : ''}; restarting in ${delay} ms`,
      data: { pid: child.pid, code, signal, restartInMs: delay, ...this.hosted() },
    });
    this.timer = setTimeout(() => { this.timer = undefined; if (!this.stopping) { this.restarts++; this.start(true); } }, delay);
  }

  /**
   * Restarts the child at once because its settings changed (e.g. a sidecar
   * port moved, so the app's HTTP_PROXY did): recorded as a restart, not a
   * crash, and without backoff. A child not running restarts on its own.
   */
  recycle(graceMs = 1_000): void {
    const child = this.child;
    if (this.stopping || !child?.pid || !this.running) return;
    this.recycling = true;
    killGroup(child.pid, 'SIGTERM');
    const t = setTimeout(() => { if (this.child === child && this.running) killGroup(child.pid, 'SIGKILL'); }, graceMs);
    t.unref();
  }

  /** From now on an exit is expected: no restart. */
  markStopping(): void {
    this.stopping = true;
    if (this.timer) { clearTimeout(this.timer); this.timer = undefined; }
  }

  /** Stops restarting, SIGTERMs the process group, SIGKILLs it after `graceMs`. */
  async stop(graceMs = 2_000, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    this.markStopping();
    const child = this.child;
    if (!child || child.pid === undefined || !this.running) { killGroup(child?.pid, 'SIGKILL'); return; }
    const exited = this.nextExit();
    killGroup(child.pid, signal);
    const timedOut = await Promise.race([exited.then(() => false), delay(graceMs).then(() => true)]);
    // Even after a clean exit of the leader, stragglers in its group are killed.
    killGroup(child.pid, 'SIGKILL');
    if (timedOut) await Promise.race([exited, delay(500)]);
    this.opts.events.record({ type: 'process.stopped', workload: this.opts.workload, process: this.opts.process, message: `${this.opts.process} of ${this.opts.workload} stopped` });
  }
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The exit came from recycle(): the supervisor is already starting the next child. */
  recycled?: boolean;
}

export function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (!pid) return;
  try { process.kill(-pid, signal); } catch { try { process.kill(pid, signal); } catch { /* already gone */ } }
}

export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}
