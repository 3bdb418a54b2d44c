/**
 * A running mesh: what `devmesh up` starts, watches and stops. Each step of
 * `start()` is one small call, in the order a person would do it by hand:
 * check the files, check the ports, mint identities, open the API, start the
 * sidecars and apps, wait for every listener, then watch for edits.
 */
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { MeshSnapshot, WorkloadInfo } from '../protocol';
import type { Resource, WorkloadSpec } from '../policy/model';
import { hasErrors, IncrementalMeshLoader, type Diagnostic, type MeshWorkspace } from './load';
import { formatDiagnostic, formatText } from '../diagnostics-format';
import type { DiagnosticCode } from '../policy';
import { buildSnapshot, resolvedMeshSettings, type PortAssignment } from './snapshot';
import { accepts, appPortClaims, assignPorts, duplicateClaims, fillPorts, freePorts, isPortFree, pinnedSidecarPorts, portClaims, takenPorts, type PortClaim, type PortOverrides } from './ports';
import { probeSession, removeSession, writeSession } from './session';
import { dashboardUrl } from './api/dashboard';
import { appEnvironment, resolveCommand, spawnApp, type ResolvedCommand } from './apps';
import { EventLog } from './events';
import { Supervised, killGroup, delay, type ExitInfo } from './supervisor';
import { ManagedSidecar, SidecarHost, SIDECAR_ENTRY, sidecarLayout } from './sidecars';
import { forgetChildren, reapLeftovers, recordChildren, type ChildRecord } from './leftovers';
import { WorkloadCertificates } from './certs';
import { listenControlApi, type ControlApiServer } from './api/server';
import { watchPolicies, type PolicyWatcher } from './watch';
import { meshTable } from './table';
import { TelemetryHub } from './telemetry/hub';
import { mergedMetrics } from './telemetry/mergedMetrics';
import { faultsOnEdge } from './telemetry/edgeFaults';
import type { ConfigView, OutlierEjection, SessionInfo, Topology, TopologyEdges } from './api/contract';
import { FaultStore } from './faults';
import type { RuntimeFault } from '../protocol';
import { defaultsOf, describePlan, placedWorkloads, planMeshChange, type MeshChangePlan } from './mesh-change';

/** A failure before the mesh is up: each line is printed as is, then devmesh exits 1. */
export class UpError extends Error {
  constructor(readonly lines: string[]) { super(lines.join('\n')); }
}

export interface RuntimeOptions {
  meshFile: string;
  out?: (line: string) => void;
  err?: (line: string) => void;
  /** How long every listener gets to accept before `up` gives up. */
  startTimeoutMs?: number;
  /** Print the sidecars' access logs (one line per request per sidecar). */
  accessLog?: boolean;
  /** Access-log format, printed and kept: Istio's text format or JSON. */
  logFormat?: 'text' | 'json';
  /** OTLP/HTTP collector for spans; overrides Mesh spec.telemetry.otlp.endpoint. */
  otlpEndpoint?: string;
  /** Traces kept in memory for the API (default 1000). */
  maxTraces?: number;
  /** Access-log entries kept in memory for the API (default 2000). */
  maxLogs?: number;
  /** `--control-port`: the control API's port, overriding Mesh spec.controlPort. */
  controlPort?: number;
}

interface AppEntry { spec: WorkloadSpec; info: WorkloadInfo; cmd: ResolvedCommand; proc: Supervised }

export class MeshRuntime {
  readonly events = new EventLog();
  readonly token = randomBytes(32).toString('base64url');
  private ws!: MeshWorkspace;
  private loader!: IncrementalMeshLoader;
  /** The Mesh as running: services and workloads follow edits; mesh-wide settings stay as started. */
  private mesh!: Resource<'Mesh'>;
  /** The process of the workloads' sidecars in the default layout. */
  private sharedHost?: SidecarHost;
  private ports!: PortAssignment;
  snapshot!: MeshSnapshot;
  private certs?: WorkloadCertificates;
  private api?: ControlApiServer;
  telemetry?: TelemetryHub;
  private watcher?: PolicyWatcher;
  private readonly sidecars = new Map<string, ManagedSidecar>();
  private readonly apps = new Map<string, AppEntry>();
  private ready = false;
  private stopping?: Promise<void>;
  private lastRejection: { time: number; files: string[]; diagnostics: Diagnostic[] } | null = null;
  private rejectedNow = false;
  private appliedAt = Date.now();
  private meshChangeWarned = '';
  /** Runtime chaos: faults added through the API/CLI, carried into every snapshot until they expire or are cleared. */
  readonly faults = new FaultStore(() => this.snapshot, (list, why) => this.applyFaults(list, why));
  private readonly out: (line: string) => void;
  private readonly err: (line: string) => void;

  constructor(private readonly opts: RuntimeOptions) {
    this.out = opts.out ?? ((l) => process.stdout.write(l + '\n'));
    this.err = opts.err ?? ((l) => process.stderr.write(l + '\n'));
    this.events.subscribe((e) => {
      if ((e.type === 'process.started' || e.type === 'process.restarted') && !this.stopping) this.recordChildren();
    });
  }

  get rootDir(): string { return this.ws.rootDir; }
  get apiUrl(): string { return `http://127.0.0.1:${this.api?.port}`; }
  private rel = (f: string) => path.relative(process.cwd(), f) || f;
  /** Ports from the command line win over the Mesh file's. */
  private get portOverrides(): PortOverrides { return { controlPort: this.opts.controlPort }; }
  /** A finding at a Mesh field, printed as `validate` prints one; a value from the command line (no field) is its message alone. */
  private finding(field: (string | number)[] | undefined, code: DiagnosticCode, message: string): string {
    return field ? formatDiagnostic(this.ws.meshDiagnostic(field, code, message)) : message;
  }

  async start(): Promise<SessionInfo> {
    const t0 = performance.now();
    // Phase timings go into the mesh.ready event: startup time is a tracked target (issue 8).
    const phases: Record<string, number> = {};
    let last = t0;
    const mark = (name: string) => { const now = performance.now(); phases[name] = Math.round(now - last); last = now; };
    await this.loadOrThrow(); mark('load');
    await this.refuseSecondSession();
    await this.checkPorts();
    const commands = this.resolveCommands();
    this.ports = await assignPorts(this.mesh, this.portOverrides); mark('ports');
    this.snapshot = buildSnapshot(this.mesh, this.ws.resources, this.ports, 1);
    this.mintIdentities(); mark('certs');
    try {
      await this.openApi();
      const session: SessionInfo = { apiUrl: this.apiUrl, token: this.token, pid: process.pid, dashboardUrl: dashboardUrl(this.apiUrl, this.token) };
      writeSession(this.rootDir, session); mark('api');
      this.startSidecars();
      this.startApps(commands);
      await this.waitForListeners(); mark('listeners');
      if (this.stopping) throw new UpError(['devmesh up: stopped while starting']);
      this.ready = true;
      const readyMs = performance.now() - t0;
      // The watcher's first scan runs after readiness: it is not on the path to serving.
      this.watcher = watchPolicies(this.rootDir, (files) => this.reload(files), undefined,
        (err) => this.err(`devmesh: reloading the policies failed, still serving v${this.snapshot.version}: ${(err as Error)?.stack ?? err}`));
      this.events.record({ type: 'mesh.ready', message: `mesh ${this.mesh.metadata.name} ready in ${Math.round(readyMs)} ms`, data: { ms: readyMs, phases } });
      this.printReady(readyMs, phases);
      await this.watcher.ready;
      return session;
    } catch (e) {
      await this.stop();
      throw e;
    }
  }

  // ---------- start, step by step ----------

  /** Errors stop everything, printed exactly as `devmesh validate` prints them; warnings are shown and `up` goes on. */
  private async loadOrThrow(): Promise<void> {
    this.loader = new IncrementalMeshLoader(this.opts.meshFile);
    this.ws = await this.loader.load();
    const diags = this.ws.diagnostics;
    const color = process.stderr.isTTY === true && !process.env.NO_COLOR;
    if (diags.length === 1 && diags[0].code === 'file-unreadable') throw new UpError([`devmesh up: ${diags[0].message}`]);
    if (hasErrors(diags)) {
      throw new UpError([formatText(diags, this.ws.policyFileCount, color).trimEnd(), 'devmesh up: nothing was started. Fix the errors above and run devmesh up again.']);
    }
    if (diags.length) this.err(formatText(diags, this.ws.policyFileCount, color).trimEnd());
    this.mesh = this.ws.mesh;
  }

  private async refuseSecondSession(): Promise<void> {
    const s = await probeSession(this.ws.rootDir);
    if (s.state === 'stale') removeSession(this.ws.rootDir, s.session.pid);
    if (s.state === 'running') {
      throw new UpError([`devmesh up is already running for ${this.rel(this.ws.meshFile)} (pid ${s.session.pid}, API ${s.session.apiUrl}${s.answering ? '' : ', not answering yet'}).`,
        `Use that one, or stop it first (Ctrl-C in its terminal, or kill ${s.session.pid}).`]);
    }
    // No devmesh owns this Mesh: whatever a crashed one left running would hold our ports.
    const reaped = await reapLeftovers(this.ws.rootDir);
    if (reaped.length) this.err(`a previous devmesh up for this Mesh ended without stopping its children; stopped: ${reaped.join(', ')}`);
  }

  /** Keeps .devmesh/children.json current, for reapLeftovers after a hard crash of devmesh. */
  private recordChildren(): void {
    const children: ChildRecord[] = [];
    for (const [name, app] of this.apps) if (app.proc.pid) children.push({ pid: app.proc.pid, argv: [app.cmd.file, ...app.cmd.args], owner: `app of ${name}` });
    for (const [name, sc] of this.sidecars) if (sc.pid) children.push({ pid: sc.pid, argv: [process.execPath, SIDECAR_ENTRY], owner: `sidecar of ${name}` });
    try { recordChildren(this.ws.rootDir, children); } catch { /* best effort: only a crash recovery aid */ }
  }

  private async checkPorts(): Promise<void> {
    const claims = portClaims(this.mesh, this.portOverrides);
    const lines: string[] = [];
    for (const [a, b] of duplicateClaims(claims)) lines.push(this.finding(b.field, 'port-collision', `${b.owner} is also ${a.owner}; give each its own port`));
    for (const p of await takenPorts(claims)) lines.push(this.finding(p.claim.field, 'port-in-use', p.message));
    const how = this.opts.controlPort !== undefined ? 'change them in the Mesh file or pass another --control-port' : 'change them in the Mesh file';
    if (lines.length) throw new UpError([...lines, `devmesh up: nothing was started. Free those ports (e.g. \`lsof -i :PORT\`) or ${how}.`]);
  }

  private resolveCommands(): Map<string, ResolvedCommand> {
    const out = new Map<string, ResolvedCommand>();
    const lines: string[] = [];
    for (const { spec: w, field } of placedWorkloads(this.mesh.spec).values()) {
      if (!w.command) continue;
      try { out.set(w.name, resolveCommand(w, this.ws.rootDir)); } catch (e) {
        lines.push(this.finding([...field, 'command'], 'bad-command', (e as Error).message));
      }
    }
    if (lines.length) throw new UpError([...lines, 'devmesh up: nothing was started.']);
    return out;
  }

  private mintIdentities(): void {
    const lifetime = Number(process.env.DEVMESH_CERT_LIFETIME_MS) || undefined; // a testing knob
    this.certs = new WorkloadCertificates(this.snapshot.trustDomain, (owner, certs) => {
      this.sidecars.get(owner)?.pushCerts(certs);
      this.events.record({ type: 'certs.rotated', workload: owner, message: `certificate of ${owner} rotated (valid until ${new Date(certs.notAfter).toISOString()})`, data: { notAfter: certs.notAfter } });
    }, lifetime);
    for (const w of this.snapshot.workloads) this.certs.get(w.name, w.spiffeId);
    this.certs.get(this.snapshot.ingress.name, this.snapshot.ingress.spiffeId);
  }

  private async openApi(): Promise<void> {
    const controlPort = this.opts.controlPort ?? resolvedMeshSettings(this.mesh.spec).controlPort;
    const otlpEndpoint = this.opts.otlpEndpoint ?? this.mesh.spec.telemetry?.otlp?.endpoint;
    this.telemetry = new TelemetryHub({
      events: this.events,
      edgesView: () => this.edgesView(),
      maxTraces: this.opts.maxTraces,
      maxLogs: this.opts.maxLogs,
      otlp: otlpEndpoint ? { endpoint: otlpEndpoint } : undefined,
      onError: (m) => this.err(m),
    });
    const adminPorts = () => [this.snapshot.ingress.adminPort, ...this.snapshot.workloads.map((w) => w.sidecar.adminPort)];
    try {
      this.api = await listenControlApi({
        token: this.token,
        events: this.events,
        isReady: () => this.ready && [...this.sidecars.values()].every((s) => s.ready),
        topology: () => this.topology(),
        config: () => this.configView(),
        faults: this.faults,
        adminPortOf: (name) => name === this.snapshot.ingress.name ? this.snapshot.ingress.adminPort : this.snapshot.workloads.find((w) => w.name === name)?.sidecar.adminPort,
        observability: { hub: this.telemetry, metrics: () => mergedMetrics(adminPorts()) },
      }, controlPort);
    } catch (e) {
      const flag = this.opts.controlPort !== undefined;
      throw new UpError([this.finding(flag ? undefined : ['spec', 'controlPort'], 'port-in-use', `${flag ? '--control-port' : 'controlPort'} ${controlPort} (control API) could not be opened: ${(e as Error).message}`)]);
    }
  }

  private startSidecars(): void {
    // One shared process for the workloads' sidecars unless DEVMESH_SIDECAR_LAYOUT=process (sidecars.ts
    // says why). The ingress keeps a process of its own, as Istio's gateway is its own deployment: a crash
    // of the workloads' process then gives callers outside the mesh 503s from the edge, not reset connections.
    this.sharedHost = sidecarLayout() === 'shared'
      ? new SidecarHost(`sidecars (${this.snapshot.workloads.length})`, this.events, { onOutput: (line, stream) => { if (stream === 'stderr' || this.opts.accessLog) this.out(/^\[[^\]]+ sidecar\] /.test(line) ? line : `[sidecars] ${line}`); } })
      : undefined;
    this.startSidecar(this.snapshot.ingress.name, null);
    for (const w of this.snapshot.workloads) this.startSidecar(w.name, w.name);
  }

  /** Starts the sidecar of a workload (or of the ingress, `workload` null); it boots with the current snapshot. */
  private startSidecar(name: string, workload: string | null): ManagedSidecar {
    const sampling = this.mesh.spec.telemetry?.sampling;
    const identity = () => workload === null ? this.snapshot.ingress.spiffeId : this.snapshot.workloads.find((w) => w.name === name)!.spiffeId;
    const sidecar = new ManagedSidecar({
      workload, name, events: this.events, host: workload === null ? undefined : this.sharedHost,
      bootstrap: () => ({ type: 'bootstrap', workload, snapshot: this.snapshot, certs: this.certs!.get(name, identity()), options: { sampling, logFormat: this.opts.logFormat, printAccessLog: !!this.opts.accessLog } }),
      // Spans, edge samples and access-log entries, batched by the sidecar.
      onTelemetry: (data) => this.telemetry?.ingest(data),
      // stdout carries access logs: printed on request only, since every line costs the
      // control plane CPU under load; stderr (crashes, warnings) is always shown.
      onOutput: (line, stream) => { if (stream === 'stderr' || this.opts.accessLog) this.out(`[${name} sidecar] ${line}`); },
      onLog: (level, message) => (level === 'info' ? this.out : this.err)(`[${name} sidecar] ${message}`),
    });
    this.sidecars.set(name, sidecar);
    sidecar.start();
    return sidecar;
  }

  private startApps(commands: Map<string, ResolvedCommand>): void {
    for (const { spec } of placedWorkloads(this.mesh.spec).values()) {
      const cmd = commands.get(spec.name);
      if (cmd) this.startApp(spec, cmd);
    }
  }

  private startApp(spec: WorkloadSpec, cmd: ResolvedCommand): AppEntry {
    const info = this.snapshot.workloads.find((w) => w.name === spec.name)!;
    const proc = new Supervised({
      workload: spec.name, process: 'app', events: this.events,
      // The current snapshot, not `info`: a sidecar port moved at startup changes HTTP_PROXY.
      spawn: () => spawnApp(cmd, appEnvironment(process.env, spec, this.snapshot.workloads.find((w) => w.name === spec.name) ?? info)),
      onOutput: (line) => this.out(`[${spec.name}] ${line}`),
    });
    const entry = { spec, info, cmd, proc };
    this.apps.set(spec.name, entry);
    proc.start();
    return entry;
  }

  /** Every sidecar says ready and its listeners accept; every started app accepts on its port. */
  private async waitForListeners(): Promise<void> {
    const timeoutMs = this.opts.startTimeoutMs ?? 20_000;
    const deadline = Date.now() + timeoutMs;
    const waits: Promise<void>[] = [];
    for (const [name, sc] of this.sidecars) waits.push(this.sidecarListening(name, sc, deadline));
    for (const [name, app] of this.apps) {
      const notListening = () => new UpError([this.finding([...placedWorkloads(this.mesh.spec).get(name)!.field, 'port'], 'app-not-listening',
        `the app of ${name} (command ${JSON.stringify(app.spec.command?.join(' '))}) did not accept connections on 127.0.0.1:${app.info.appPort} in time; it must listen on 127.0.0.1:$PORT`), 'devmesh up: stopped everything it started.']);
      waits.push(Promise.race([
        waitAccepting(app.info.appPort, deadline).then((ok) => { if (!ok) throw notListening(); }),
        (async () => {
          for (;;) {
            const exit = await app.proc.nextExit();
            // recycle() after a moved sidecar port: the supervisor is already starting it again.
            if (!exit.recycled) throw exitedEarly(name, `the app (${app.spec.command?.join(' ')})`, app.proc, exit);
          }
        })(),
      ]));
    }
    await Promise.all(waits);
  }

  /**
   * Waits for one sidecar to be ready and accepting. Unpinned ports are
   * probed free before anything starts, so another process can take one
   * before the sidecar binds it (parallel test runs do): such a port is moved
   * to a new free one and the sidecar, restarted by its supervisor, boots with
   * the new snapshot. Bounded; a pinned port taken is a one-line error.
   */
  private async sidecarListening(name: string, sc: ManagedSidecar, deadline: number): Promise<void> {
    for (let moves = 0; ;) {
      const exit = await Promise.race([sc.whenReady().then(() => null), sc.supervised.nextExit()]);
      if (!exit) break;
      const lost = await takenPortsOf(this.sidecarPortsOf(name));
      // Restarted already (its backoff was shorter than the probe): its ports were ours, not lost.
      const probed = !sc.supervised.running;
      const inUse = sc.supervised.tail.slice(-3).some((l) => /already in use/.test(l));
      const pinned = probed ? portClaims(this.mesh, this.portOverrides).find((c) => lost.includes(c.port)) : undefined;
      if (pinned) {
        throw new UpError([this.finding(pinned.field, 'port-in-use', `${pinned.owner} was taken by another process before the sidecar of ${name} could listen on it; devmesh up stopped everything it started`)]);
      }
      if (!(inUse || lost.length) || ++moves > MAX_PORT_MOVES || Date.now() > deadline) throw exitedEarly(name, 'the sidecar', sc.supervised, exit);
      if (probed && lost.length) await this.movePorts(name, lost);
    }
    await Promise.all(this.sidecarPortsOf(name).map(async (p) => {
      if (!(await waitAccepting(p, deadline))) throw new UpError([`the sidecar of ${name} did not accept connections on 127.0.0.1:${p} in time.`, 'devmesh up: stopped everything it started.']);
    }));
  }

  private sidecarPortsOf(name: string): number[] {
    if (name === this.snapshot.ingress.name) return [this.snapshot.ingress.port, this.snapshot.ingress.adminPort];
    const w = this.snapshot.workloads.find((x) => x.name === name)!;
    return [w.sidecar.inboundPort, w.sidecar.outboundPort, w.sidecar.adminPort];
  }

  /**
   * Gives `name`'s lost (unpinned) ports new free ones: a new snapshot goes to
   * every sidecar (peers dial the new inbound port), and the workload's app is
   * restarted when its outbound port, its HTTP_PROXY, moved.
   */
  private async movePorts(name: string, lost: number[]): Promise<void> {
    const a: Partial<Record<'inboundPort' | 'outboundPort' | 'adminPort', number>> = name === this.snapshot.ingress.name ? this.ports.ingress : this.ports.workloads[name];
    const assigned = [this.ports.ingress.adminPort, ...Object.values(this.ports.workloads).flatMap((w) => [w.inboundPort, w.outboundPort, w.adminPort])];
    const fresh = await freePorts(lost.length, new Set([...portClaims(this.mesh, this.portOverrides).map((c) => c.port), ...assigned, ...lost]));
    const moved: string[] = [];
    for (const key of ['inboundPort', 'outboundPort', 'adminPort'] as const) {
      const old = a[key];
      if (old === undefined || !lost.includes(old)) continue;
      a[key] = fresh.shift()!;
      moved.push(`${key} ${old} -> ${a[key]}`);
    }
    const next = { ...buildSnapshot(this.mesh, this.ws.resources, this.ports, this.snapshot.version + 1), faults: this.faults.list() };
    this.snapshot = next;
    const message = `sidecar of ${name}: another process took its port before it could listen; moved ${moved.join(', ')} (config v${next.version})`;
    this.err(`devmesh: ${message}`);
    this.events.record({ type: 'ports.moved', workload: name, process: 'sidecar', message, data: { moved, version: next.version } });
    for (const [other, sc] of this.sidecars) if (other !== name) void sc.pushConfig(next);
    if (moved.some((m) => m.startsWith('outboundPort'))) this.apps.get(name)?.proc.recycle();
  }

  private printReady(ms: number, phases: Record<string, number>): void {
    const s = this.snapshot;
    this.out('');
    this.out(meshTable(s));
    this.out('');
    this.out(`mesh ${s.meshName} ready in ${Math.round(ms)} ms (${Object.entries(phases).map(([k, v]) => `${k} ${v}`).join(', ')}) — config v${s.version}, ${s.workloads.length} workloads, mTLS identities from a local CA`);
    this.out(`control API + dashboard: ${this.apiUrl}  (token in ${this.rel(path.join(this.rootDir, '.devmesh', 'session.json'))})`);
    this.out(`open the dashboard: ${dashboardUrl(this.apiUrl, this.token)}`);
    const entry = s.services.find((x) => x.name === 'productpage') ?? s.services[0];
    if (entry) {
      const p = entry.name === 'productpage' ? '/productpage' : '/';
      // The ingress reads short names in the Mesh's namespace; elsewhere the host is name.namespace.
      const host = entry.namespace === s.namespace ? entry.name : `${entry.name}.${entry.namespace}`;
      this.out(`try:  curl -x http://127.0.0.1:${s.ingress.port} http://${host}:${entry.port}${p}`);
      if (s.gateways.length) this.out(`      curl http://127.0.0.1:${s.ingress.port}${p}   (routed by Gateway ${s.gateways.map((g) => g.metadata.name).join(', ')})`);
    }
    this.out(`watching ${this.rel(this.rootDir) || '.'} for policy edits; Ctrl-C stops the mesh${this.opts.accessLog ? '' : ' (--access-log prints every request)'}`);
  }

  // ---------- hot reload ----------

  /** Re-reads every file; a valid set becomes the next snapshot, an invalid one is reported and ignored. */
  async reload(files: string[] = []): Promise<void> {
    if (this.stopping || !this.ready) return;
    const t0 = performance.now();
    const ws = await this.loader.update(files);
    if (this.stopping) return;
    if (hasErrors(ws.diagnostics)) {
      const errors = ws.diagnostics.filter((d) => d.severity === 'error');
      this.lastRejection = { time: Date.now(), files: files.map(this.rel), diagnostics: errors };
      this.rejectedNow = true;
      for (const d of errors) this.err(formatDiagnostic(d));
      this.err(`config rejected: ${errors.length} error(s); still serving v${this.snapshot.version}`);
      this.events.record({ type: 'config.rejected', message: `edit rejected (${errors.length} error(s)); still serving config v${this.snapshot.version}`, data: { version: this.snapshot.version, diagnostics: errors } });
      return;
    }
    const plan = planMeshChange(this.mesh, ws.mesh);
    const meshNow = JSON.stringify(ws.mesh);
    if (plan.needsRestart.length && meshNow !== this.meshChangeWarned) {
      this.meshChangeWarned = meshNow;
      this.err(`the Mesh's ${plan.needsRestart.join(', ')} changed: that takes effect on the next devmesh up; services, workloads and policies are applied now`);
    }
    // Services, workloads, the root namespace, extension providers and the defaults (compatibilityVersion, meshConfig) follow the file; the mesh-wide settings stay as started.
    const mesh: Resource<'Mesh'> = plan.changed || plan.defaultsChanged
      ? {
        ...this.mesh,
        spec: { ...this.mesh.spec, services: ws.mesh.spec.services, workloads: ws.mesh.spec.workloads, rootNamespace: ws.mesh.spec.rootNamespace, extensionProviders: ws.mesh.spec.extensionProviders, ...defaultsOf(ws.mesh.spec) },
      }
      : this.mesh;
    let commands = new Map<string, ResolvedCommand>();
    if (plan.changed) {
      const prepared = await this.prepareMeshChange(plan, ws);
      if (this.stopping) return;
      if ('refused' in prepared) return this.refuseMeshChange(prepared.refused, files);
      commands = prepared.commands;
    }
    this.rejectedNow = false;
    if (!plan.changed && !plan.defaultsChanged && JSON.stringify(ws.resources) === JSON.stringify(this.ws.resources)) return; // nothing a sidecar would see
    this.ws = { ...ws, mesh };
    if (plan.changed) await this.assignChangedPorts(plan, mesh);
    this.mesh = mesh;
    const next = { ...buildSnapshot(mesh, ws.resources, this.ports, this.snapshot.version + 1), faults: this.faults.list() };
    this.snapshot = next;
    // New and restarted sidecars boot with `next`; the others get it pushed once the new ones serve.
    const booted = plan.changed ? await this.startChangedWorkloads(plan, commands) : new Map<string, { ok: boolean; error?: string }>();
    const pushed = await Promise.all([...this.sidecars].filter(([name]) => !booted.has(name)).map(async ([name, sc]) => ({ name, ...(await sc.pushConfig(next)) })));
    const results = [...pushed, ...[...booted].map(([name, r]) => ({ name, ...r }))];
    // Callers route away from removed workloads first; then they stop.
    if (plan.removed.length) await this.stopWorkloads(plan.removed);
    const ms = performance.now() - t0;
    this.appliedAt = Date.now();
    const failed = results.filter((r) => !r.ok);
    const msg = `config v${next.version} applied to ${results.length - failed.length}/${results.length} sidecars in ${ms.toFixed(0)} ms`;
    this.out(msg + (failed.length ? ` (not applied: ${failed.map((f) => `${f.name}: ${f.error}`).join('; ')})` : ''));
    if (plan.defaultsChanged) this.out(`mesh ${mesh.metadata.name}: defaults of Istio ${next.defaults?.version}${mesh.spec.meshConfig ? ' with the Mesh\'s meshConfig' : ''} (config v${next.version})`);
    if (plan.changed) {
      const what = describePlan(plan);
      this.out(`mesh ${mesh.metadata.name}: ${what} (config v${next.version})`);
      this.events.record({ type: 'mesh.changed', message: what, data: { version: next.version, added: plan.added.map((w) => w.spec.name), removed: plan.removed, restartedApps: plan.restartApp, restartedSidecars: plan.restartSidecar } });
    }
    this.events.record({ type: 'config.applied', message: msg, data: { version: next.version, ms, files: files.map(this.rel), failed } });
  }

  // ---------- Mesh edits: workloads started, stopped, restarted ----------

  /**
   * Everything that can refuse a Mesh edit, checked before anything changes:
   * commands that do not resolve, and ports (app ports, pinned sidecar
   * ports) that another process holds. Each refusal names its Mesh position.
   */
  private async prepareMeshChange(plan: MeshChangePlan, ws: MeshWorkspace): Promise<{ commands: Map<string, ResolvedCommand> } | { refused: Diagnostic[] }> {
    const refused: Diagnostic[] = [];
    const refuse = (field: (string | number)[] | undefined, code: DiagnosticCode, message: string) => refused.push(ws.meshDiagnostic(field, code, `${message}; the Mesh edit was not applied`));
    const commands = new Map<string, ResolvedCommand>();
    const placed = placedWorkloads(ws.mesh.spec);
    const claims: PortClaim[] = [];
    const held = new Set(Object.values(this.ports.workloads).flatMap((a) => [a.inboundPort, a.outboundPort, a.adminPort]));
    for (const name of [...plan.added.map((w) => w.spec.name), ...plan.restartApp]) {
      const { spec, field } = placed.get(name)!;
      if (spec.command) {
        try { commands.set(name, resolveCommand(spec, ws.rootDir)); } catch (e) { refuse([...field, 'command'], 'bad-command', (e as Error).message); }
        const running = this.apps.get(name);
        const held = new Set(running ? appPortClaims(running.spec, field).map((c) => c.port) : []);
        claims.push(...appPortClaims(spec, field).filter((c) => !held.has(c.port)));
      }
    }
    for (const name of [...plan.added.map((w) => w.spec.name), ...plan.restartSidecar]) {
      const { spec, field } = placed.get(name)!;
      for (const key of ['inboundPort', 'outboundPort', 'adminPort'] as const) {
        const p = spec.sidecar?.[key];
        if (p && !held.has(p)) claims.push({ port: p, owner: `sidecar ${key} ${p} of workload ${name}`, field: [...field, 'sidecar', key] });
      }
    }
    for (const p of await takenPorts(claims)) refuse(p.claim.field, 'port-in-use', p.message);
    return refused.length ? { refused } : { commands };
  }

  private refuseMeshChange(errors: Diagnostic[], files: string[]): void {
    this.lastRejection = { time: Date.now(), files: files.map(this.rel), diagnostics: errors };
    this.rejectedNow = true;
    for (const d of errors) this.err(formatDiagnostic(d));
    this.err(`config rejected: the Mesh edit cannot be applied (${errors.length} error(s)); still serving v${this.snapshot.version}`);
    this.events.record({ type: 'config.rejected', message: `Mesh edit refused (${errors.length} error(s)); still serving config v${this.snapshot.version}`, data: { version: this.snapshot.version, diagnostics: errors } });
  }

  /** Ports for new workloads (pinned, or free ones), the pins of changed ones; removed workloads give theirs back. */
  private async assignChangedPorts(plan: MeshChangePlan, mesh: Resource<'Mesh'>): Promise<void> {
    for (const name of plan.removed) delete this.ports.workloads[name];
    const placed = placedWorkloads(mesh.spec);
    for (const name of plan.restartSidecar) {
      const a = this.ports.workloads[name];
      for (const key of ['inboundPort', 'outboundPort', 'adminPort'] as const) a[key] = placed.get(name)!.spec.sidecar?.[key] ?? a[key];
    }
    const needed: Array<(p: number) => void> = [];
    for (const { spec } of plan.added) this.ports.workloads[spec.name] = pinnedSidecarPorts(spec, needed);
    const assigned = [this.ports.ingress.port, this.ports.ingress.adminPort, ...Object.values(this.ports.workloads).flatMap((w) => [w.inboundPort, w.outboundPort, w.adminPort])];
    await fillPorts(needed, new Set([...portClaims(mesh, this.portOverrides).map((c) => c.port), ...assigned]));
  }

  /**
   * Starts the sidecars and apps of new workloads, restarts what changed,
   * and waits (bounded) for each new sidecar to serve. A workload that does
   * not come up is reported, not fatal: the rest of the mesh keeps serving
   * and its supervisor keeps trying.
   */
  private async startChangedWorkloads(plan: MeshChangePlan, commands: Map<string, ResolvedCommand>): Promise<Map<string, { ok: boolean; error?: string }>> {
    const placed = placedWorkloads(this.mesh.spec);
    const booting = new Map<string, ManagedSidecar>();
    for (const name of plan.restartSidecar) {
      const old = this.sidecars.get(name);
      this.sidecars.delete(name);
      // A new identity or new ports: a new certificate, and the sidecar boots again with them.
      this.certs?.forget(name);
      await old?.stop(1_000);
      booting.set(name, this.startSidecar(name, name));
    }
    for (const { spec } of plan.added) booting.set(spec.name, this.startSidecar(spec.name, spec.name));
    for (const name of plan.restartApp) {
      const old = this.apps.get(name);
      this.apps.delete(name);
      await old?.proc.stop(2_000);
    }
    for (const name of [...plan.restartApp, ...plan.added.filter((w) => w.spec.command).map((w) => w.spec.name)]) {
      const cmd = commands.get(name);
      if (cmd && !this.apps.has(name)) this.startApp(placed.get(name)!.spec, cmd);
    }
    const deadline = Date.now() + (this.opts.startTimeoutMs ?? 20_000);
    const booted = new Map<string, { ok: boolean; error?: string }>();
    await Promise.all([...booting].map(async ([name, sc]) => {
      try {
        await this.sidecarListening(name, sc, deadline);
        booted.set(name, { ok: true });
      } catch (e) {
        const error = (e as Error).message.split('\n')[0];
        booted.set(name, { ok: false, error });
        this.err(`devmesh: ${error}`);
      }
    }));
    this.recordChildren();
    return booted;
  }

  /** Apps first (they may still be answering through their sidecars), then their sidecars and certificates. */
  private async stopWorkloads(names: string[]): Promise<void> {
    await Promise.all(names.map(async (name) => {
      const app = this.apps.get(name);
      this.apps.delete(name);
      await app?.proc.stop(2_000);
      const sc = this.sidecars.get(name);
      this.sidecars.delete(name);
      await sc?.stop(1_000);
      this.certs?.forget(name);
    }));
    this.recordChildren();
  }

  // ---------- API views ----------

  /** Live edges with the faults that touch them; the service of each caller comes from the snapshot. */
  private edgesView(): TopologyEdges {
    const s = this.snapshot;
    const serviceOf = (w: string) => s.workloads.find((x) => x.name === w)?.service ?? w;
    const view = this.telemetry!.edges.view(serviceOf);
    for (const e of view.edges) e.activeFaults = faultsOnEdge(s, { source: e.source, sourceService: serviceOf(e.source), destination: e.destination, service: e.service });
    for (const e of view.serviceEdges) e.activeFaults = faultsOnEdge(s, { source: e.source, sourceService: e.source, service: e.destination });
    return view;
  }

  private async topology(): Promise<Topology> {
    const s = this.snapshot;
    const probe = (port: number) => accepts(port, 200);
    const workloads = await Promise.all(s.workloads.map(async (w) => {
      const sc = this.sidecars.get(w.name);
      const app = this.apps.get(w.name);
      return {
        ...w,
        managed: !!app,
        pids: { sidecar: sc?.pid ?? null, app: app?.proc.pid ?? null },
        health: { sidecar: sc?.ready ? 'up' as const : 'down' as const, app: (await probe(w.appPort)) ? 'up' as const : 'down' as const },
        restarts: { sidecar: sc?.supervised.restarts ?? 0, app: app?.proc.restarts ?? 0 },
        configVersion: sc?.appliedVersion ?? 0,
      };
    }));
    const ing = this.sidecars.get(s.ingress.name);
    const outliers = await this.ejections();
    return {
      mesh: s.meshName, version: s.version, ready: this.ready, trustDomain: s.trustDomain, namespace: s.namespace,
      services: s.services,
      workloads,
      ingress: { ...s.ingress, pid: ing?.pid ?? null, health: ing?.ready ? 'up' : 'down', restarts: ing?.supervised.restarts ?? 0 },
      ...withEjections(this.edgesView(), outliers, s),
      faults: this.faults.list(),
      outliers,
    };
  }

  /** A new snapshot with the runtime faults, pushed to every sidecar (they also ignore expired ones on their own). */
  private async applyFaults(faults: RuntimeFault[], why: string): Promise<void> {
    if (this.stopping) return;
    const next = { ...this.snapshot, version: this.snapshot.version + 1, faults };
    this.snapshot = next;
    const results = await Promise.all([...this.sidecars].map(async ([name, sc]) => ({ name, ...(await sc.pushConfig(next)) })));
    const failed = results.filter((r) => !r.ok);
    this.out(`${why}: config v${next.version} applied to ${results.length - failed.length}/${results.length} sidecars`);
    this.events.record({ type: 'faults.changed', message: why, data: { version: next.version, faults, failed } });
  }

  /** Hosts ejected by outlier detection, as each calling sidecar sees them (its admin /clusters; a host is a workload name). */
  private async ejections(): Promise<OutlierEjection[]> {
    const s = this.snapshot;
    const owners = [{ name: s.ingress.name, port: s.ingress.adminPort }, ...s.workloads.map((w) => ({ name: w.name, port: w.sidecar.adminPort }))];
    const out: OutlierEjection[] = [];
    await Promise.all(owners.map(async (o) => {
      if (!this.sidecars.get(o.name)?.ready) return;
      try {
        const r = await fetch(`http://127.0.0.1:${o.port}/clusters`, { signal: AbortSignal.timeout(500) });
        const clusters = await r.json() as Array<{ cluster: string; hosts: Array<{ host: string; ejected: boolean; ejectedUntil?: string; ejectionReason?: string }> }>;
        for (const c of clusters) for (const h of c.hosts) if (h.ejected) out.push({ reporter: o.name, cluster: c.cluster, host: h.host, until: h.ejectedUntil, reason: h.ejectionReason });
      } catch { /* a sidecar restarting: it has no ejections to report */ }
    }));
    return out;
  }

  private configView(): ConfigView {
    return {
      version: this.snapshot.version,
      appliedAt: this.appliedAt,
      state: this.rejectedNow ? 'rejected' : 'ok',
      files: this.ws.files.map(this.rel),
      lastRejection: this.lastRejection && { ...this.lastRejection, diagnostics: this.lastRejection.diagnostics.map((d) => ({ ...d, text: formatDiagnostic(d) })) },
    };
  }

  /** Every pid devmesh started, for a last-resort kill when devmesh itself exits. */
  pids(): number[] {
    return [...this.apps.values()].map((a) => a.proc.pid).concat([...this.sidecars.values()].map((s) => s.pid)).filter((p): p is number => !!p);
  }

  // ---------- stop ----------

  /** Apps first (they may still be answering requests through their sidecars), then sidecars, then the API. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.ready = false;
      this.events.record({ type: 'mesh.stopping', message: 'stopping the mesh' });
      await this.watcher?.close();
      this.certs?.stop();
      this.faults.stop();
      await Promise.all([...this.apps.values()].map((a) => a.proc.stop(2_000)));
      await Promise.all([...this.sidecars.values()].map((s) => s.stop(1_000)));
      // Spans the sidecars flushed on their way out still go to the collector.
      await this.telemetry?.close();
      await this.api?.close();
      if (this.ws) { removeSession(this.ws.rootDir); forgetChildren(this.ws.rootDir); }
    })();
    return this.stopping;
  }

  /** Synchronous last resort (process 'exit'): SIGKILL every process group still around. */
  killAll(): void {
    for (const pid of this.pids()) killGroup(pid, 'SIGKILL');
  }
}

/** How often one sidecar's unpinned ports may be moved at startup before `up` gives up. */
const MAX_PORT_MOVES = 5;

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

/** Fills each edge's ejectedEndpoints: the callee workloads its caller's outlier detection has ejected. */
function withEjections(view: TopologyEdges, outliers: readonly OutlierEjection[], s: MeshSnapshot): TopologyEdges {
  const workloadsOf = new Map(s.services.map((svc) => [svc.name, new Set(svc.workloads)]));
  const ejectedBy = (caller: string, service: string) =>
    [...new Set(outliers.filter((o) => o.reporter === caller && workloadsOf.get(service)?.has(o.host)).map((o) => o.host))];
  const ingressName = s.ingress.name;
  const callersOf = (source: string) => (source === ingressName || !workloadsOf.has(source) ? [source] : [...(workloadsOf.get(source) ?? [])]);
  for (const e of view.edges) e.ejectedEndpoints = ejectedBy(e.source, e.service);
  for (const e of view.serviceEdges) e.ejectedEndpoints = [...new Set(callersOf(e.source).flatMap((c) => ejectedBy(c, e.destination)))];
  return view;
}

