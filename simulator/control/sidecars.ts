/**
 * One sidecar process per workload (and one for the ingress), forked from
 * `out/simulator/sidecar/main.js` with an IPC channel. The control plane
 * speaks only the messages of `protocol.ts`: `bootstrap` on every (re)start
 * with the current snapshot and certificates, `config` on every accepted
 * edit, `certs` on rotation, `shutdown` at the end.
 */
import { fork, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import type { Certificates, ControlMessage, MeshSnapshot, SidecarMessage } from '../protocol';
import type { EventLog } from './events';
import { Supervised } from './supervisor';

/** The compiled sidecar; DEVMESH_SIDECAR_ENTRY swaps it (tests of supervision use a stub). */
export const SIDECAR_ENTRY = process.env.DEVMESH_SIDECAR_ENTRY || path.join(__dirname, '..', 'sidecar', 'main.js');

export interface SidecarOptions {
  /** Workload name, or null for the ingress gateway. */
  workload: string | null;
  /** Name shown in events and the table. */
  name: string;
  events: EventLog;
  /** What a (re)started sidecar boots with: always the latest snapshot and certs. */
  bootstrap: () => Extract<ControlMessage, { type: 'bootstrap' }>;
  onOutput?: (line: string, stream: 'stdout' | 'stderr') => void;
  onLog?: (level: string, message: string) => void;
  onTelemetry?: (data: unknown) => void;
  entry?: string;
}

interface Pending { version: number; resolve: (r: { ok: boolean; error?: string }) => void }

export class Sidecar {
  readonly supervised: Supervised;
  ready = false;
  appliedVersion = 0;
  /** Serial of the certificate the sidecar says new connections use (after a rotation). */
  certsSerial: string | undefined;
  private readyWaiters: Array<() => void> = [];
  private pending: Pending[] = [];

  constructor(private readonly opts: SidecarOptions) {
    this.supervised = new Supervised({
      workload: opts.name,
      process: 'sidecar',
      events: opts.events,
      onOutput: opts.onOutput,
      spawn: () => fork(opts.entry ?? SIDECAR_ENTRY, [], {
        // Own process group (see supervisor.ts); no inherited --inspect/--test flags.
        detached: true,
        execArgv: [],
        stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
        env: { ...process.env, DEVMESH_SIDECAR: opts.name },
      }),
      onSpawn: (child) => this.attach(child),
    });
  }

  get pid(): number | undefined { return this.supervised.pid; }

  start(): void { this.supervised.start(); }

  private attach(child: ChildProcess): void {
    this.ready = false;
    child.on('message', (m: SidecarMessage) => this.onMessage(m));
    child.once('exit', () => {
      this.ready = false;
      // A sidecar that died cannot apply anything; whoever waits learns it now.
      const pending = this.pending; this.pending = [];
      pending.forEach((p) => p.resolve({ ok: false, error: 'sidecar exited' }));
    });
    this.send(this.opts.bootstrap());
  }

  private onMessage(m: SidecarMessage): void {
    switch (m.type) {
      case 'ready': {
        this.ready = true;
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
      case 'certsApplied': this.certsSerial = m.serial; break;
      case 'log':
        // Kept with the output tail: a sidecar that fails to start says why in a log message.
        if (m.level !== 'info') this.supervised.tail.push(m.message);
        this.opts.onLog?.(m.level, m.message);
        break;
      case 'telemetry': this.opts.onTelemetry?.(m.data); break;
    }
  }

  /** Resolves when the current process reports `ready`. */
  whenReady(): Promise<void> {
    return this.ready ? Promise.resolve() : new Promise((r) => this.readyWaiters.push(r));
  }

  send(msg: ControlMessage): boolean {
    const child = this.supervised.child;
    if (!child?.connected) return false;
    // The callback swallows EPIPE from a sidecar dying mid-send; its restart re-bootstraps.
    child.send(msg, (err) => { if (err) this.opts.onLog?.('warn', `could not send ${msg.type} to ${this.opts.name}: ${err.message}`); });
    return true;
  }

  /** Pushes a snapshot; resolves when the sidecar applied or rejected it (or after `timeoutMs`). */
  pushConfig(snapshot: MeshSnapshot, timeoutMs = 2_000): Promise<{ ok: boolean; error?: string }> {
    if (!this.send({ type: 'config', snapshot })) return Promise.resolve({ ok: false, error: 'sidecar not running (it will boot with this snapshot)' });
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve({ ok: false, error: `no answer within ${timeoutMs} ms` }), timeoutMs);
      this.pending.push({ version: snapshot.version, resolve: (r) => { clearTimeout(timer); resolve(r); } });
    });
  }

  pushCerts(certs: Certificates): void { this.send({ type: 'certs', certs }); }

  /** Asks the sidecar to drain and exit; the supervisor kills its group if it does not. */
  async stop(graceMs = 1_000): Promise<void> {
    this.supervised.markStopping();
    if (this.supervised.running && this.send({ type: 'shutdown', graceMs })) {
      await Promise.race([this.supervised.nextExit(), new Promise((r) => setTimeout(r, graceMs + 200))]);
    }
    await this.supervised.stop(500);
  }
}
