/**
 * Sidecar processes, forked from the sidecar's entry (shipped.ts) with an IPC
 * channel. The control plane speaks only the messages of `protocol.ts`:
 * `bootstrap` on every (re)start with the current snapshot and certificates,
 * `config` on every accepted edit, `certs` on rotation, `shutdown` at the end.
 *
 * Process layout (issue 8). A Node process costs ~50 MB idle and ~100 MB
 * under load before any of it is proxying, so by default every sidecar of
 * the mesh lives in one shared process (a `SidecarHost`), each with its own
 * listeners, identity, tables and stats, and messages carry the sidecar's
 * key. `DEVMESH_SIDECAR_LAYOUT=process` gives each sidecar its own process
 * instead (a crash or a `kill` then hits only that workload). In the shared
 * layout a crash of the process takes every sidecar in it down: the
 * supervisor restarts the process, every member is bootstrapped again, and
 * the topology shows each of them restarted with the same pid.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import type { Addressed, Certificates, ControlMessage, MeshSnapshot, SidecarMessage, SidecarStatus } from '../protocol';
import type { EventLog } from './events';
import { SIDECAR_MAIN } from '../shipped';
import { Supervised } from './supervisor';

/** The sidecar (compiled, or dist/sidecar.js when bundled); DEVMESH_SIDECAR_ENTRY swaps it (tests of supervision use a stub). */
export const SIDECAR_ENTRY = process.env.DEVMESH_SIDECAR_ENTRY || SIDECAR_MAIN;

export type SidecarLayout = 'shared' | 'process';

/**
 * Shared unless DEVMESH_SIDECAR_LAYOUT says `process`, or a custom entry
 * (DEVMESH_SIDECAR_ENTRY) is in use: one written for a single sidecar per
 * process is not assumed to route by key.
 */
export function sidecarLayout(env: NodeJS.ProcessEnv = process.env): SidecarLayout {
  if (env.DEVMESH_SIDECAR_LAYOUT === 'process' || env.DEVMESH_SIDECAR_LAYOUT === 'shared') return env.DEVMESH_SIDECAR_LAYOUT;
  return env.DEVMESH_SIDECAR_ENTRY ? 'process' : 'shared';
}

/**
 * How many shared processes the workloads' sidecars get (issue 19): one per
 * core, so that busy chains are not serialised on one event loop, but never
 * fewer than two workloads per process — a process costs ~60 MB idle and
 * ~85 MB at its peak, so two workloads must share one to stay within 40 MB
 * each (BENCHMARKS.md "Every core"). DEVMESH_SIDECAR_PROCESSES=N sets the
 * number (1 is the single shared process of before).
 */
export function sharedProcessCount(workloads: number, cores = availableParallelism(), env: NodeJS.ProcessEnv = process.env): number {
  const asked = Number(env.DEVMESH_SIDECAR_PROCESSES);
  const most = Number.isInteger(asked) && asked >= 1 ? asked : cores;
  return Math.max(1, Math.min(most, Math.floor(workloads / 2)));
}

/**
 * The shared processes of a mesh's workload sidecars, and which one a
 * sidecar joins: the one hosting fewest, so the workloads in Mesh order go
 * round robin (the replicas of a service land on different cores). A new
 * process is started when the mesh has grown enough for one more; a process
 * whose last sidecar left has stopped and is forgotten.
 */
export class SharedHosts {
  private hosts: SidecarHost[] = [];
  private made = 0;

  constructor(private readonly make: (name: string) => SidecarHost, private readonly count: (workloads: number) => number = sharedProcessCount) {}

  /** The process for one more sidecar, in a mesh that will have `workloads` workloads. */
  pick(workloads: number): SidecarHost {
    // A process whose last sidecar left has been stopped (one not started yet is kept).
    this.hosts = this.hosts.filter((h) => h.size > 0 || !h.supervised.child);
    const target = this.count(workloads);
    if (this.hosts.length < target) {
      const host = this.make(target === 1 ? `sidecars (${workloads})` : `sidecars ${++this.made} of ${target}`);
      this.hosts.push(host);
      return host;
    }
    return this.hosts.reduce((a, b) => (b.size < a.size ? b : a));
  }

  /** How many sidecars each process hosts, in order. */
  sizes(): number[] { return this.hosts.map((h) => h.size);
  }

  get processes(): readonly SidecarHost[] { return this.hosts; }
}

/**
 * Node flags of a sidecar process. A 4 MB semi-space (V8's default grows to
 * 16 MB) keeps ~25 MB of young generation off the RSS under load at no
 * measurable CPU cost (BENCHMARKS.md). The old generation may grow to 1.5x
 * what the last full GC left (V8 lets a small heap grow to ~4x): a sidecar's
 * live heap is ~11 MB, and the rest of a peak under load is promoted garbage
 * (issue 19: ~-18 MB peak RSS for two workloads, CPU within the rounds'
 * noise). Measured and left out (issue 19, gcmem13 in BENCHMARKS.md):
 * `--single-threaded-gc` (no GC helper threads' CPU, shorter pauses on a
 * busy pinned CPU) adds ~3.5 MB to the two-workload peak, since it also
 * stops concurrent marking and sweeping; `MALLOC_ARENA_MAX` only moves the V8
 * threads' live malloc into the main arena; `--optimize-for-size` saves
 * 5-6 MB at +25 % CPU; never `--no-parallel-marking` alone (V8 11.3 fails a
 * check under a full GC). `--no-concurrent-recompilation` takes ~2.7 MB off
 * the two-workload peak (TurboFan's compile zones then reuse the main malloc
 * arena instead of growing one per V8 worker thread) at the same CPU per
 * request, but every optimizing compile then stalls the event loop (loop
 * delay p99 +30-40 % at 100 req/s): left out until a quiet run measures the
 * latency tail with it (mem14). DEVMESH_SIDECAR_EXEC_ARGV adds flags (the benchmark passes
 * `--cpu-prof`, which NODE_OPTIONS refuses; the last of a flag wins);
 * inherited --inspect/--test flags are never passed on.
 */
export function sidecarExecArgv(env: NodeJS.ProcessEnv = process.env): string[] {
  const extra = env.DEVMESH_SIDECAR_EXEC_ARGV?.trim();
  return ['--max-semi-space-size=4', '--heap-growing-percent=50', ...(extra ? extra.split(/\s+/) : [])];
}

export interface SidecarHostOptions {
  onOutput?: (line: string, stream: 'stdout' | 'stderr') => void;
  entry?: string;
  /** After a crash and restart: every sidecar in the new process serves again. */
  onServing?: (sidecars: string[], pid: number) => void;
}

/** One sidecar process and the sidecars it hosts. */
export class SidecarHost {
  readonly supervised: Supervised;
  private readonly members = new Map<string, ManagedSidecar>();

  constructor(readonly name: string, events: EventLog, opts: SidecarHostOptions = {}) {
    this.supervised = new Supervised({
      workload: name,
      process: 'sidecar',
      events,
      onOutput: opts.onOutput,
      spawn: () => fork(opts.entry ?? SIDECAR_ENTRY, [], {
        // Own process group (see supervisor.ts); no inherited --inspect/--test flags.
        detached: true,
        execArgv: sidecarExecArgv(),
        stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
        env: { ...process.env, DEVMESH_SIDECAR: name },
      }),
      onSpawn: (child, restart) => {
        this.attach(child);
        if (restart) this.whenAllServing(child, opts.onServing);
      },
      hosts: () => [...this.members.keys()],
    });
  }

  /** Tells `onServing` once every member of a restarted process is ready again (not if that process dies first). */
  private whenAllServing(child: ChildProcess, onServing?: (sidecars: string[], pid: number) => void): void {
    if (!onServing) return;
    const members = [...this.members.values()];
    let exited = false;
    child.once('exit', () => { exited = true; });
    void Promise.all(members.map((m) => m.whenReady())).then(() => {
      if (!exited && this.supervised.child === child) onServing(members.map((m) => m.key), child.pid!);
    });
  }

  get pid(): number | undefined { return this.supervised.pid; }
  get size(): number { return this.members.size; }

  /** Adds a sidecar; starts the process, or bootstraps the sidecar in the running one. */
  add(member: ManagedSidecar): void {
    this.members.set(member.key, member);
    if (!this.supervised.child || !this.supervised.running) {
      if (!this.supervised.child) this.supervised.start();
      return;
    }
    member.attach(this.supervised.child);
  }

  remove(member: ManagedSidecar): void { this.members.delete(member.key); }

  private attach(child: ChildProcess): void {
    child.on('message', (m: Addressed<SidecarMessage>) => {
      // A process hosting one sidecar (a custom entry) may not address its messages.
      const to = m.sidecar !== undefined ? this.members.get(m.sidecar) : this.members.size === 1 ? [...this.members.values()][0] : undefined;
      to?.onMessage(m);
    });
    for (const m of this.members.values()) m.attach(child);
  }

  send(key: string, msg: ControlMessage, onError: (err: Error) => void): boolean {
    const child = this.supervised.child;
    if (!child?.connected) return false;
    // The callback swallows EPIPE from a process dying mid-send; its restart re-bootstraps.
    child.send({ ...msg, sidecar: key }, (err) => { if (err) onError(err); });
    return true;
  }
}

export interface ManagedSidecarOptions {
  /** Workload name, or null for the ingress gateway. */
  workload: string | null;
  /** Name shown in events and the table; the sidecar's key in a shared process. */
  name: string;
  events: EventLog;
  /** What a (re)started sidecar boots with: always the latest snapshot and certs. */
  bootstrap: () => Extract<ControlMessage, { type: 'bootstrap' }>;
  onOutput?: (line: string, stream: 'stdout' | 'stderr') => void;
  onLog?: (level: string, message: string) => void;
  onTelemetry?: (data: unknown) => void;
  entry?: string;
  /** The process to live in; default: a process of its own. */
  host?: SidecarHost;
  /** A process of its own: told when it serves again after a crash. */
  onServing?: (sidecars: string[], pid: number) => void;
}

/** Why a sidecar did not start: `port` when another process held that port. */
export interface SidecarFailure { error: string; port?: number }

interface Pending { version: number; resolve: (r: { ok: boolean; error?: string }) => void }

/**
 * The control plane's handle on one sidecar (the sidecar itself is
 * `sidecar/sidecar.ts`): boots it in its host process, counts its
 * acknowledgements, and knows whether it serves.
 */
export class ManagedSidecar {
  readonly host: SidecarHost;
  ready = false;
  appliedVersion = 0;
  /** Serial of the certificate the sidecar says new connections use (after a rotation). */
  certsSerial: string | undefined;
  /** What the sidecar last reported of its app and its ejections (undefined until the running process reports). */
  status: SidecarStatus | undefined;
  private readyWaiters: Array<() => void> = [];
  private failureWaiters: Array<(f: SidecarFailure) => void> = [];
  private appWaiters: Array<() => void> = [];
  private pending: Pending[] = [];
  private stopped = false;
  /** The snapshot version of the last bootstrap: a sidecar that says ready serves it. */
  private bootVersion = 0;

  constructor(private readonly opts: ManagedSidecarOptions) {
    this.host = opts.host ?? new SidecarHost(opts.name, opts.events, { onOutput: opts.onOutput, entry: opts.entry, onServing: opts.onServing });
  }

  get key(): string { return this.opts.name; }
  /** The process it runs in (shared with other sidecars in the default layout). */
  get supervised(): Supervised { return this.host.supervised; }
  get pid(): number | undefined { return this.host.pid; }

  start(): void {
    this.stopped = false;
    this.host.add(this);
  }

  /** Called by the host for every (re)started process. */
  attach(child: ChildProcess): void {
    this.ready = false;
    this.status = undefined;
    child.once('exit', () => {
      this.ready = false;
      this.status = undefined;
      // A sidecar that died cannot apply anything; whoever waits learns it now.
      const pending = this.pending; this.pending = [];
      pending.forEach((p) => p.resolve({ ok: false, error: 'sidecar exited' }));
    });
    this.sendBoot();
  }

  private sendBoot(): void {
    const boot = this.opts.bootstrap();
    this.bootVersion = boot.snapshot.version;
    this.send(boot);
  }

  onMessage(m: SidecarMessage): void {
    switch (m.type) {
      case 'ready': {
        this.ready = true;
        this.appliedVersion = Math.max(this.appliedVersion, this.bootVersion);
        const w = this.readyWaiters; this.readyWaiters = [];
        w.forEach((f) => f());
        break;
      }
      case 'applied':
      case 'rejected': {
        if (m.type === 'applied') this.appliedVersion = Math.max(this.appliedVersion, m.version);
        const done = this.pending.filter((p) => p.version <= m.version);
        this.pending = this.pending.filter((p) => p.version > m.version);
        done.forEach((p) => p.resolve(m.type === 'applied' ? { ok: true } : { ok: false, error: m.error }));
        break;
      }
      case 'failed': {
        const w = this.failureWaiters; this.failureWaiters = [];
        w.forEach((f) => f({ error: m.error, port: m.port }));
        break;
      }
      case 'certsApplied': this.certsSerial = m.serial; break;
      case 'status': {
        this.status = m.status;
        if (m.status.app === 'up') { const w = this.appWaiters; this.appWaiters = []; w.forEach((f) => f()); }
        break;
      }
      case 'log':
        // Kept with the output tail: a sidecar that fails to start says why in a log message.
        if (m.level !== 'info') this.supervised.tail.push(m.message);
        this.opts.onLog?.(m.level, m.message);
        break;
      case 'telemetry': this.opts.onTelemetry?.(m.data); break;
    }
  }

  /** Resolves when the current process reports this sidecar `ready`. */
  whenReady(): Promise<void> {
    return this.ready ? Promise.resolve() : new Promise((r) => this.readyWaiters.push(r));
  }

  /** Resolves when this sidecar next says it could not start (its process may go on hosting others). */
  nextFailure(): Promise<SidecarFailure> {
    return new Promise((r) => this.failureWaiters.push(r));
  }

  /** Boots it again in its running process, with the latest snapshot and certificates (after a failed start). */
  boot(): void {
    const child = this.supervised.child;
    if (child?.connected) this.sendBoot(); // else a process on its way out: its restart boots every member
  }

  /** Its app was (re)started: what the sidecar said of it is stale until it probes again. */
  recheckApp(): void {
    if (this.status) this.status = { ...this.status, app: undefined };
    this.send({ type: 'recheckApp' });
  }

  /** Resolves when the sidecar reports that its app accepts connections. */
  whenAppUp(): Promise<void> {
    return this.status?.app === 'up' ? Promise.resolve() : new Promise((r) => this.appWaiters.push(r));
  }

  send(msg: ControlMessage): boolean {
    if (this.stopped) return false;
    return this.host.send(this.key, msg, (err) => this.opts.onLog?.('warn', `could not send ${msg.type} to ${this.opts.name}: ${err.message}`));
  }

  /**
   * Pushes a snapshot; resolves when the sidecar applied or rejected it (or
   * after `timeoutMs`). One that already runs this version or a newer one
   * (it booted with it) is not sent an older one.
   */
  pushConfig(snapshot: MeshSnapshot, timeoutMs = 2_000): Promise<{ ok: boolean; error?: string }> {
    if (Math.max(this.appliedVersion, this.bootVersion) >= snapshot.version) {
      return Promise.resolve(this.ready ? { ok: true } : { ok: false, error: `starting with config v${this.bootVersion}` });
    }
    if (!this.send({ type: 'config', snapshot })) return Promise.resolve({ ok: false, error: 'sidecar not running (it will boot with this snapshot)' });
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve({ ok: false, error: `no answer within ${timeoutMs} ms` }), timeoutMs);
      this.pending.push({ version: snapshot.version, resolve: (r) => { clearTimeout(timer); resolve(r); } });
    });
  }

  pushCerts(certs: Certificates): void { this.send({ type: 'certs', certs }); }

  /**
   * Asks the sidecar to drain and stop. The last sidecar of a process takes
   * the process with it (the supervisor kills its group if it lingers);
   * others sharing the process keep serving.
   */
  async stop(graceMs = 1_000): Promise<void> {
    const last = this.host.size <= 1;
    if (last) this.supervised.markStopping();
    const sent = this.supervised.running && this.send({ type: 'shutdown', graceMs });
    this.stopped = true;
    this.ready = false;
    this.host.remove(this);
    if (!last) return;
    if (sent) await Promise.race([this.supervised.nextExit(), new Promise((r) => setTimeout(r, graceMs + 200))]);
    await this.supervised.stop(500);
  }
}
