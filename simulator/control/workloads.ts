/**
 * The processes of a running mesh: one sidecar per workload (in one shared
 * process by default, sidecars.ts says why) plus the ingress's, and the apps
 * devmesh starts. Starts them, waits until they serve, starts, restarts and
 * stops them as Mesh edits say, and knows their pids for the API and for a
 * last-resort kill. Every sidecar boots with the publisher's snapshot in
 * force; this module never builds or pushes a config itself (it asks the
 * publisher, e.g. when a sidecar's port has to move).
 */
import type { BootstrapOptions } from '../protocol';
import type { WorkloadSpec } from '../policy/model';
import type { DiagnosticCode } from '../policy';
import { accepts } from '../net-probe';
import { appEnvironment, spawnApp, type ResolvedCommand } from './apps';
import type { WorkloadCertificates } from './certs';
import type { EventLog } from './events';
import { forgetChildren, recordChildren, type ChildRecord } from './leftovers';
import type { MeshChangePlan, PlacedWorkload } from './mesh-change';
import { freePorts, isPortFree, type PortClaim } from './ports';
import type { Ack, ConfigPublisher } from './publisher';
import { ManagedSidecar, SharedHosts, SidecarHost, SIDECAR_ENTRY, sidecarLayout, type SidecarFailure } from './sidecars';
import type { SidecarPortAssignment } from './snapshot';
import { delay, killGroup, Supervised, type ExitInfo } from './supervisor';

/** A failure before the mesh is up: each line is printed as is, then devmesh exits 1. */
export class UpError extends Error {
  constructor(readonly lines: string[]) { super(lines.join('\n')); }
}

export interface AppProcess { spec: WorkloadSpec; cmd: ResolvedCommand; proc: Supervised }

export interface WorkloadsOptions {
  publisher: ConfigPublisher;
  events: EventLog;
  /** Each sidecar's certificates (the ingress's carry its Gateway listeners'). */
  certs: Pick<WorkloadCertificates, 'get' | 'forget'>;
  /** Folder of the Mesh file: `.devmesh/children.json` is kept there. */
  rootDir: string;
  boot: BootstrapOptions;
  /** Print every sidecar's access log (else only their stderr). */
  accessLog: boolean;
  onTelemetry: (data: unknown) => void;
  /** Ports the Mesh (or the command line) names, with their Mesh fields: never handed out when a port moves. */
  claims: () => PortClaim[];
  /** A finding at a Mesh field, printed as `validate` prints one. */
  finding: (field: (string | number)[] | undefined, code: DiagnosticCode, message: string) => string;
  out: (line: string) => void;
  err: (line: string) => void;
}

/** How often one sidecar's unpinned ports may be moved at startup before `up` gives up. */
const MAX_PORT_MOVES = 5;

export class Workloads {
  readonly sidecars = new Map<string, ManagedSidecar>();
  readonly apps = new Map<string, AppProcess>();
  /** The processes of the workloads' sidecars in the default layout (one per core, two workloads or more each). */
  private shared?: SharedHosts;
  private stopping = false;
  /** Ports each sidecar was moved away from: a failure on one of them is from a boot with the config before the move. */
  private readonly movedFrom = new Map<string, Set<number>>();

  constructor(private readonly o: WorkloadsOptions) {}

  private get snapshot() { return this.o.publisher.snapshot; }

  // ---------- start ----------

  /**
   * The ingress's sidecar, one per workload, then the apps. The workloads'
   * sidecars share processes (one per core, sidecars.ts says how many)
   * unless DEVMESH_SIDECAR_LAYOUT=process; the ingress keeps a process of
   * its own, as Istio's gateway is its own deployment: a crash of a
   * workloads' process then gives callers outside the mesh 503s from the
   * edge, not reset connections.
   */
  startAll(commands: Map<string, ResolvedCommand>, specs: readonly WorkloadSpec[]): void {
    const s = this.snapshot;
    this.shared = sidecarLayout() === 'shared'
      ? new SharedHosts((name) => new SidecarHost(name, this.o.events, {
        onOutput: (line, stream) => { if (stream === 'stderr' || this.o.accessLog) this.o.out(/^\[[^\]]+ sidecar\] /.test(line) ? line : `[${name}] ${line}`); },
        onServing: (names, pid) => this.o.out(`devmesh: sidecars of ${names.join(', ')} serving again in pid ${pid} (config v${this.snapshot.version})`),
      }))
      : undefined;
    this.startSidecar(s.ingress.name, null);
    for (const w of s.workloads) this.startSidecar(w.name, w.name);
    for (const spec of specs) {
      const cmd = commands.get(spec.name);
      if (cmd) this.startApp(spec, cmd);
    }
  }

  /** Starts the sidecar of a workload (or of the ingress, `workload` null); it boots with the config in force. */
  startSidecar(name: string, workload: string | null): ManagedSidecar {
    const identity = () => workload === null ? this.snapshot.ingress.spiffeId : this.snapshot.workloads.find((w) => w.name === name)!.spiffeId;
    const sidecar = new ManagedSidecar({
      workload, name, events: this.o.events, host: workload === null ? undefined : this.shared?.pick(this.snapshot.workloads.length),
      bootstrap: () => ({ type: 'bootstrap', workload, snapshot: this.snapshot, certs: this.o.certs.get(name, identity()), options: this.o.boot }),
      // Spans, edge samples and access-log entries, batched by the sidecar.
      onTelemetry: this.o.onTelemetry,
      // stdout carries access logs: printed on request only, since every line costs the
      // control plane CPU under load; stderr (crashes, warnings) is always shown.
      onOutput: (line, stream) => { if (stream === 'stderr' || this.o.accessLog) this.o.out(`[${name} sidecar] ${line}`); },
      onLog: (level, message) => (level === 'info' ? this.o.out : this.o.err)(`[${name} sidecar] ${message}`),
      onServing: (names, pid) => this.o.out(`devmesh: the sidecar of ${names.join(', ')} is serving again in pid ${pid} (config v${this.snapshot.version})`),
    });
    this.sidecars.set(name, sidecar);
    sidecar.start();
    return sidecar;
  }

  startApp(spec: WorkloadSpec, cmd: ResolvedCommand): AppProcess {
    const proc = new Supervised({
      workload: spec.name, process: 'app', events: this.o.events,
      // The config in force: a sidecar port moved at startup changes HTTP_PROXY.
      spawn: () => spawnApp(cmd, appEnvironment(process.env, spec, this.snapshot.workloads.find((w) => w.name === spec.name)!)),
      // A new app process: its sidecar checks again whether it listens.
      onSpawn: () => this.sidecars.get(spec.name)?.recheckApp(),
      onOutput: (line) => this.o.out(`[${spec.name}] ${line}`),
    });
    const entry = { spec, cmd, proc };
    this.apps.set(spec.name, entry);
    proc.start();
    return entry;
  }

  /**
   * Every sidecar says ready and its listeners accept; every started app
   * accepts on its port, as its sidecar reports. `portField` places an app's
   * port in the Mesh for the error when it never listens.
   */
  async waitForListeners(deadline: number, portField: (workload: string) => (string | number)[] | undefined): Promise<void> {
    const waits: Promise<void>[] = [];
    for (const [name, sc] of this.sidecars) waits.push(this.sidecarListening(name, sc, deadline));
    for (const [name, app] of this.apps) waits.push(this.appListening(name, app, deadline, portField(name)));
    await Promise.all(waits);
  }

  private async appListening(name: string, app: AppProcess, deadline: number, field: (string | number)[] | undefined): Promise<void> {
    const port = this.snapshot.workloads.find((w) => w.name === name)!.appPort;
    const late = new Promise<'late'>((r) => setTimeout(() => r('late'), Math.max(0, deadline - Date.now())).unref());
    const exited = (async () => {
      for (;;) {
        const exit = await app.proc.nextExit();
        // recycle() after a moved sidecar port: the supervisor is already starting it again.
        if (!exit.recycled) return exit;
      }
    })();
    const outcome = await Promise.race([this.sidecars.get(name)!.whenAppUp().then(() => 'up' as const), late, exited]);
    if (outcome === 'up') return;
    if (outcome === 'late') {
      throw new UpError([this.o.finding(field, 'app-not-listening', `the app of ${name} (command ${JSON.stringify(app.spec.command?.join(' '))}) did not accept connections on 127.0.0.1:${port} in time; it must listen on 127.0.0.1:$PORT`),
        'devmesh up: stopped everything it started.']);
    }
    throw exitedEarly(name, `the app (${app.spec.command?.join(' ')})`, app.proc, outcome);
  }

  /**
   * Waits for one sidecar to be ready and accepting. Unpinned ports are
   * probed free before anything starts, so another process can take one
   * before the sidecar binds it (parallel test runs do): such a port is moved
   * to a new free one and the sidecar, restarted by its supervisor, boots with
   * the new config. Bounded; a pinned port taken is a one-line error.
   */
  async sidecarListening(name: string, sc: ManagedSidecar, deadline: number): Promise<void> {
    for (let moves = 0; ;) {
      const outcome = await Promise.race([
        sc.whenReady().then(() => ({ ready: true as const })),
        sc.supervised.nextExit().then((exit) => ({ exit })),
        sc.nextFailure().then((failure) => ({ failure })),
      ]);
      if ('ready' in outcome) break;
      if ('failure' in outcome) {
        // A restart can boot before the move is published (its backoff was shorter than finding free
        // ports); the boot with the moved ports follows, as a restart of its own process or a boot in a shared one.
        if (outcome.failure.port !== undefined && this.movedFrom.get(name)?.has(outcome.failure.port)) continue;
        await this.failedToStart(name, sc, outcome.failure, ++moves > MAX_PORT_MOVES || Date.now() > deadline);
        continue;
      }
      const { exit } = outcome;
      const lost = await takenPortsOf(this.sidecarPortsOf(name));
      // Restarted already (its backoff was shorter than the probe): its ports were ours, not lost.
      const probed = !sc.supervised.running;
      const inUse = sc.supervised.tail.slice(-3).some((l) => /already in use/.test(l));
      const pinned = probed ? this.o.claims().find((c) => lost.includes(c.port)) : undefined;
      if (pinned) {
        throw new UpError([this.o.finding(pinned.field, 'port-in-use', `${pinned.owner} was taken by another process before the sidecar of ${name} could listen on it; devmesh up stopped everything it started`)]);
      }
      if (!(inUse || lost.length) || ++moves > MAX_PORT_MOVES || Date.now() > deadline) throw exitedEarly(name, 'the sidecar', sc.supervised, exit);
      if (probed && lost.length) await this.movePorts(name, lost);
    }
    await Promise.all(this.sidecarPortsOf(name).map(async (p) => {
      if (!(await waitAccepting(p, deadline))) throw new UpError([`the sidecar of ${name} did not accept connections on 127.0.0.1:${p} in time.`, 'devmesh up: stopped everything it started.']);
    }));
  }

  /**
   * A sidecar said it could not start. In a process shared with other
   * sidecars nothing exits, so this is the only word `up` gets: an unpinned
   * port another process took is moved and the sidecar boots again in the
   * same process; a pinned port, or any other reason, ends `up` now with the
   * port and the workload, not at the start timeout. (A process of its own
   * exits as well: its restart boots it with the moved port.)
   */
  private async failedToStart(name: string, sc: ManagedSidecar, f: SidecarFailure, givingUp: boolean): Promise<void> {
    const pinned = f.port === undefined ? undefined : this.o.claims().find((c) => c.port === f.port);
    if (pinned) {
      throw new UpError([this.o.finding(pinned.field, 'port-in-use', `${pinned.owner} was taken by another process before the sidecar of ${name} could listen on it; devmesh up stopped everything it started`)]);
    }
    if (f.port === undefined || !this.sidecarPortsOf(name).includes(f.port) || givingUp) {
      throw new UpError([`the sidecar of ${name} could not start: ${f.error}`, 'devmesh up: stopped everything it started.']);
    }
    // Booted before the publisher pushes the new ports to the others (the push then skips it).
    await this.movePorts(name, [f.port], () => { if (sc.host.size > 1) sc.boot(); });
  }

  private sidecarPortsOf(name: string): number[] {
    const s = this.snapshot;
    if (name === s.ingress.name) return [s.ingress.port, s.ingress.adminPort];
    const w = s.workloads.find((x) => x.name === name)!;
    return [w.sidecar.inboundPort, w.sidecar.outboundPort, w.sidecar.adminPort];
  }

  /**
   * Gives `name`'s lost (unpinned) ports new free ones: the publisher pushes
   * the next config to every sidecar (peers dial the new inbound port), the
   * restarted sidecar boots with it, and the workload's app is restarted when
   * its outbound port, its HTTP_PROXY, moved.
   */
  private async movePorts(name: string, lost: number[], onPublished?: () => void): Promise<void> {
    const before = this.o.publisher.inputs.ports;
    const assigned = [before.ingress.adminPort, ...Object.values(before.workloads).flatMap((w) => [w.inboundPort, w.outboundPort, w.adminPort])];
    const fresh = await freePorts(lost.length, new Set([...this.o.claims().map((c) => c.port), ...assigned, ...lost]));
    // Read after the wait: several sidecars can lose a port at once, and another one's move
    // published meanwhile must be kept, not overwritten with the assignment from before it.
    const ports = this.o.publisher.inputs.ports;
    const ingress = name === this.snapshot.ingress.name;
    const a: Partial<SidecarPortAssignment> = ingress ? { ...ports.ingress } : { ...ports.workloads[name] };
    const moved: string[] = [];
    for (const key of ['inboundPort', 'outboundPort', 'adminPort'] as const) {
      const old = a[key];
      if (old === undefined || !lost.includes(old)) continue;
      a[key] = fresh.shift()!;
      moved.push(`${key} ${old} -> ${a[key]}`);
    }
    const next = ingress
      ? { ...ports, ingress: { ...ports.ingress, ...a } }
      : { ...ports, workloads: { ...ports.workloads, [name]: a as SidecarPortAssignment } };
    const why = `sidecar of ${name}: another process took its port before it could listen; moved ${moved.join(', ')}`;
    this.o.err(`devmesh: ${why}`);
    for (const p of lost) this.movedFrom.set(name, (this.movedFrom.get(name) ?? new Set()).add(p));
    // The sidecar boots with the new ports; the others get them pushed (not awaited: they may be booting too).
    void this.o.publisher.publish({ ports: next }, why);
    onPublished?.();
    this.o.events.record({ type: 'ports.moved', workload: name, process: 'sidecar', message: why, data: { moved, version: this.snapshot.version } });
    if (moved.some((m) => m.startsWith('outboundPort'))) this.apps.get(name)?.proc.recycle();
  }

  // ---------- Mesh edits ----------

  /**
   * Starts the sidecars and apps of new workloads, restarts what changed,
   * and waits (bounded) for each new sidecar to serve; they boot with the
   * config being published. A workload that does not come up is reported,
   * not fatal: the rest of the mesh keeps serving and its supervisor keeps trying.
   */
  async applyPlan(plan: MeshChangePlan, placed: Map<string, PlacedWorkload>, commands: Map<string, ResolvedCommand>, deadline: number): Promise<Map<string, Ack>> {
    const booting = new Map<string, ManagedSidecar>();
    for (const name of plan.restartSidecar) {
      const old = this.sidecars.get(name);
      this.sidecars.delete(name);
      // A new identity or new ports: a new certificate, and the sidecar boots again with them.
      this.o.certs.forget(name);
      await old?.stop(1_000);
      booting.set(name, this.startSidecar(name, name));
    }
    for (const { spec } of plan.added) booting.set(spec.name, this.startSidecar(spec.name, spec.name));
    for (const name of plan.restartApp) {
      // Shown (stopping) until it is gone, then the new one is.
      await this.apps.get(name)?.proc.stop(2_000);
      this.apps.delete(name);
    }
    for (const name of [...plan.restartApp, ...plan.added.filter((w) => w.spec.command).map((w) => w.spec.name)]) {
      const cmd = commands.get(name);
      if (cmd && !this.apps.has(name)) this.startApp(placed.get(name)!.spec, cmd);
    }
    const booted = new Map<string, Ack>();
    await Promise.all([...booting].map(async ([name, sc]) => {
      try {
        await this.sidecarListening(name, sc, deadline);
        booted.set(name, { ok: true });
      } catch (e) {
        const error = (e as Error).message.split('\n')[0];
        booted.set(name, { ok: false, error });
        this.o.err(`devmesh: ${error}`);
      }
    }));
    this.recordChildren();
    return booted;
  }

  /** Apps first (they may still be answering through their sidecars), then their sidecars and certificates. */
  async stopWorkloads(names: string[]): Promise<void> {
    await Promise.all(names.map(async (name) => {
      const app = this.apps.get(name);
      this.apps.delete(name);
      await app?.proc.stop(2_000);
      const sc = this.sidecars.get(name);
      this.sidecars.delete(name);
      await sc?.stop(1_000);
      this.o.certs.forget(name);
    }));
    this.recordChildren();
  }

  // ---------- stop ----------

  /** Apps first (they may still be answering requests through their sidecars), then sidecars. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all([...this.apps.values()].map((a) => a.proc.stop(2_000)));
    await Promise.all([...this.sidecars.values()].map((s) => s.stop(1_000)));
    forgetChildren(this.o.rootDir);
  }

  /** Every pid devmesh started, for a last-resort kill when devmesh itself exits. */
  pids(): number[] {
    return [...this.apps.values()].map((a) => a.proc.pid).concat([...this.sidecars.values()].map((s) => s.pid)).filter((p): p is number => !!p);
  }

  /** Synchronous last resort (process 'exit'): SIGKILL every process group still around. */
  killAll(): void {
    for (const pid of this.pids()) killGroup(pid, 'SIGKILL');
  }

  /** Keeps .devmesh/children.json current, for reapLeftovers after a hard crash of devmesh. */
  recordChildren(): void {
    if (this.stopping) return;
    const children: ChildRecord[] = [];
    for (const [name, app] of this.apps) if (app.proc.pid) children.push({ pid: app.proc.pid, argv: [app.cmd.file, ...app.cmd.args], owner: `app of ${name}` });
    for (const [name, sc] of this.sidecars) if (sc.pid) children.push({ pid: sc.pid, argv: [process.execPath, SIDECAR_ENTRY], owner: `sidecar of ${name}` });
    try { recordChildren(this.o.rootDir, children); } catch { /* best effort: only a crash recovery aid */ }
  }
}

function exitedEarly(name: string, what: string, proc: Supervised, { code, signal }: ExitInfo): UpError {
  return new UpError([`${what} of ${name} exited (${signal ?? `code ${code}`}) before it was listening.`,
    ...proc.tail.slice(-10).map((l) => `  | ${l}`), 'devmesh up: stopped everything it started.']);
}

/** Which of `ports` cannot be bound on 127.0.0.1 right now. */
async function takenPortsOf(ports: number[]): Promise<number[]> {
  const free = await Promise.all(ports.map((p) => isPortFree(p)));
  return ports.filter((_, i) => !free[i]);
}

/** Whether 127.0.0.1:port accepts before `deadline`. */
async function waitAccepting(port: number, deadline: number): Promise<boolean> {
  for (;;) {
    if (await accepts(port, 200)) return true;
    if (Date.now() > deadline) return false;
    await delay(20);
  }
}
