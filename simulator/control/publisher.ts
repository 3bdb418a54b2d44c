/**
 * The one owner of the config the sidecars run. Everything that changes it
 * — a policy edit, a Mesh edit, a sidecar port moved at start-up, a runtime
 * fault added, cleared or expired — submits a change here; the publisher
 * builds the next snapshot from its inputs (Mesh, Istio resources, ports,
 * runtime faults), gives it the next version, pushes it to every sidecar,
 * waits for their acknowledgements and reports "config vN applied to x/y
 * sidecars". A change is in force the moment it is submitted (a sidecar or
 * app that starts then gets it); pushes go out one at a time, in order, and
 * a sidecar already running a newer version is not sent an older one.
 */
import { performance } from 'node:perf_hooks';
import type { ConfigAppliedData } from './api/contract';
import type { EventLog } from './events';
import type { IstioKind, Resource } from '../policy/model';
import type { MeshSnapshot, RuntimeFault } from '../protocol';
import type { ManagedSidecar } from './sidecars';
import { buildSnapshot, type PortAssignment } from './snapshot';
import type { TlsSecret } from '../policy/gateway-api/secrets';

/** What a snapshot is built from. */
export interface ConfigInputs {
  /** The Mesh as running: services and workloads follow edits; mesh-wide settings stay as started. */
  mesh: Resource<'Mesh'>;
  resources: readonly Resource<IstioKind>[];
  ports: PortAssignment;
  faults: readonly RuntimeFault[];
  /** The workspace's TLS Secrets, for the Gateway API listeners whose certificateRefs resolve (absent: not checked). */
  secrets?: ReadonlyMap<string, TlsSecret>;
}

/** How one sidecar took a version: applied, or why not. */
export interface Ack { ok: boolean; error?: string }

export interface PublishOptions {
  /**
   * Sidecars that start with the new version rather than get it pushed (new
   * or restarted workloads): started here, after the snapshot is built and
   * before the others get it, so callers never route to a workload that is
   * not serving yet.
   */
  boot?: (next: MeshSnapshot) => Promise<Map<string, Ack>>;
  /** Data for the config.applied event (e.g. the files of an edit). */
  data?: Record<string, unknown>;
  /** When the change began (`performance.now()`), if before this call: an edit's time includes reading and validating it. */
  startedAt?: number;
}

export interface PublisherOptions {
  /** The sidecars that run the config now. */
  sidecars: () => Iterable<[string, ManagedSidecar]>;
  events: EventLog;
  out: (line: string) => void;
}

export class ConfigPublisher {
  private current: MeshSnapshot;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  /** Epoch ms the version in force was applied. */
  appliedAt = Date.now();

  /** The last versions published, oldest first (`GET /api/config/:version`: explain --trace walks the one a request ran under). */
  private readonly kept: MeshSnapshot[] = [];

  constructor(private inputsNow: ConfigInputs, private readonly o: PublisherOptions) {
    this.current = build(inputsNow, 1);
    this.keep(this.current);
  }

  /** The config in force (what a sidecar that boots now gets). */
  get snapshot(): MeshSnapshot { return this.current; }

  /** A recent version, while it is kept (the last KEPT_VERSIONS). */
  version(v: number): MeshSnapshot | undefined { return this.kept.find((s) => s.version === v); }

  private keep(s: MeshSnapshot): void {
    this.kept.push(s);
    if (this.kept.length > KEPT_VERSIONS) this.kept.shift();
  }
  get inputs(): Readonly<ConfigInputs> { return this.inputsNow; }

  /** From now on changes are not published (the mesh is stopping). */
  close(): void { this.closed = true; }

  /**
   * Makes the inputs with `change` applied the next version, in force at
   * once (`snapshot` is it when this returns: a sidecar or app that starts
   * now gets it), and pushes it after every version submitted before it.
   * Resolves with what the sidecars did.
   */
  publish(change: Partial<ConfigInputs>, why: string, o: PublishOptions = {}): Promise<ConfigReport | undefined> {
    if (this.closed) return Promise.resolve(undefined);
    const t0 = o.startedAt ?? performance.now();
    this.inputsNow = { ...this.inputsNow, ...change };
    const next = build(this.inputsNow, this.current.version + 1);
    this.current = next;
    this.keep(next);
    const run = this.queue.then(() => this.push(next, why, o, t0));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async push(next: MeshSnapshot, why: string, o: PublishOptions, t0: number): Promise<ConfigReport | undefined> {
    if (this.closed) return undefined;
    const booted = o.boot ? await o.boot(next) : new Map<string, Ack>();
    const pushed = await Promise.all([...this.o.sidecars()].filter(([name]) => !booted.has(name))
      .map(async ([name, sc]) => ({ name, ...(await sc.pushConfig(next)) })));
    const results = [...pushed, ...[...booted].map(([name, r]) => ({ name, ...r }))];
    this.appliedAt = Date.now();
    const report = configReport(next.version, results, performance.now() - t0, why);
    this.o.out(report.line);
    const data: ConfigAppliedData = { version: next.version, applied: report.applied, sidecars: report.sidecars, ms: report.ms, why, failed: report.failed };
    this.o.events.record({ type: 'config.applied', message: report.line, data: { ...data, ...o.data } });
    return report;
  }
}

export interface ConfigReport {
  version: number;
  applied: number;
  sidecars: number;
  ms: number;
  failed: Array<{ name: string; error?: string }>;
  /** `config v7 applied to 7/7 sidecars in 4 ms`, then why and what failed. */
  line: string;
}

/** The one sentence for a published version. Pure. */
export function configReport(version: number, results: Array<{ name: string } & Ack>, ms: number, why: string): ConfigReport {
  const failed = results.filter((r) => !r.ok).map((r) => ({ name: r.name, error: r.error }));
  const applied = results.length - failed.length;
  const line = `config v${version} applied to ${applied}/${results.length} sidecars in ${ms.toFixed(0)} ms`
    + (why ? `: ${why}` : '')
    + (failed.length ? ` (not applied: ${failed.map((f) => `${f.name}: ${f.error}`).join('; ')})` : '');
  return { version, applied, sidecars: results.length, ms, failed, line };
}

/** How many published versions stay readable for explain --trace (a snapshot is a few hundred KB at most). */
export const KEPT_VERSIONS = 32;

function build(i: ConfigInputs, version: number): MeshSnapshot {
  return { ...buildSnapshot(i.mesh, i.resources, i.ports, version, i.secrets), faults: [...i.faults] };
}
