/**
 * A running mesh: what `devmesh up` starts, watches and stops. Each step of
 * `start()` is one small call, in the order a person would do it by hand:
 * check the files, check the ports, mint identities, open the API, start the
 * sidecars and apps, wait for every listener, then watch for edits. `stop()`
 * undoes them in reverse. The parts it wires, each in its own module:
 *
 *   ConfigPublisher  the only code that builds, versions and pushes the config (publisher.ts)
 *   Workloads        the sidecar and app processes (workloads.ts)
 *   MeshReloader     policy and Mesh edits -> the publisher (reload.ts)
 *   FaultStore       runtime faults -> the publisher (faults.ts)
 *   ApiViews         what the API answers, from state the sidecars push (api/views.ts)
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import * as path from 'node:path';
import type { Certificates, ListenerCertificate, MeshSnapshot } from '../protocol';
import type { DiagnosticCode } from '../policy';
import { formatDiagnostic, formatText } from '../diagnostics-format';
import { hasErrors, IncrementalMeshLoader, type MeshWorkspace } from './load';
import { resolvedMeshSettings } from './snapshot';
import { assignPorts, duplicateClaims, portClaims, takenPorts, type PortOverrides } from './ports';
import { ensureStateDir, probeSession, removeSession, writeSession } from './session';
import { describeGatewayListeners, destinationRulesOf, GatewayIngress, gatewayPorts, heldPorts, servedPorts, sessionListeners } from './gateway-ingress';
import { EGRESS_GATEWAY } from '../policy/egress-gateway';
import { gatewayApiConfig } from './gateway-api-config';
import { dashboardUrl } from './api/dashboard';
import { resolveCommand, type ResolvedCommand } from './apps';
import { EventLog } from './events';
import { reapLeftovers } from './leftovers';
import { WorkloadCertificates } from './certs';
import { listenControlApi, type ControlApiServer } from './api/server';
import { ApiViews } from './api/views';
import type { SessionInfo } from './api/contract';
import { watchPolicies, type PolicyWatcher } from './watch';
import { TelemetryHub } from './telemetry/hub';
import { mergedMetrics } from './telemetry/mergedMetrics';
import { FaultStore } from './faults';
import { placedWorkloads } from './mesh-change';
import { ConfigPublisher } from './publisher';
import { MeshReloader } from './reload';
import { UpError, Workloads } from './workloads';

export { UpError };

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

/** What `start()` hands back for the banner. */
export interface MeshStarted {
  session: SessionInfo;
  /** The config the mesh started with. */
  snapshot: MeshSnapshot;
  rootDir: string;
  ms: number;
  /** Milliseconds per start step. */
  phases: Record<string, number>;
  /** The certificates of the HTTPS Gateway listeners, by `namespace/name:port` (the banner names their sources). */
  listenerCertificates: Record<string, ListenerCertificate[]>;
}

export class MeshRuntime {
  readonly events = new EventLog();
  readonly token = randomBytes(32).toString('base64url');
  private loader!: IncrementalMeshLoader;
  private ws!: MeshWorkspace;
  private publisher?: ConfigPublisher;
  private workloads?: Workloads;
  private faults?: FaultStore;
  private reloader?: MeshReloader;
  private certs?: WorkloadCertificates;
  /** The certificates the ingress serves on HTTPS Gateway listeners (Secrets, or minted by the CA). */
  private gateways?: GatewayIngress;
  private api?: ControlApiServer;
  private telemetry?: TelemetryHub;
  private watcher?: PolicyWatcher;
  private ready = false;
  private stopping?: Promise<void>;
  private readonly out: (line: string) => void;
  private readonly err: (line: string) => void;

  constructor(private readonly opts: RuntimeOptions) {
    this.out = opts.out ?? ((l) => process.stdout.write(l + '\n'));
    this.err = opts.err ?? ((l) => process.stderr.write(l + '\n'));
    this.events.subscribe((e) => {
      if (this.stopping) return;
      if (e.type === 'process.started' || e.type === 'process.restarted') this.workloads?.recordChildren();
      // A crash is said where the user looks, with the workloads it took down, and so is the restart.
      if (this.ready && (e.type === 'process.crashed' || e.type === 'process.restarted')) this.err(`devmesh: ${e.message}`);
    });
  }

  private get apiUrl(): string { return `http://127.0.0.1:${this.api?.port}`; }
  private rel = (f: string) => path.relative(process.cwd(), f) || f;
  /** Ports from the command line win over the Mesh file's. */
  private get portOverrides(): PortOverrides { return { controlPort: this.opts.controlPort }; }
  /** A finding at a Mesh field, printed as `validate` prints one; a value from the command line (no field) is its message alone. */
  private finding = (field: (string | number)[] | undefined, code: DiagnosticCode, message: string): string =>
    field ? formatDiagnostic(this.ws.meshDiagnostic(field, code, message)) : message;

  async start(): Promise<MeshStarted> {
    const t0 = performance.now();
    // Phase timings go into the mesh.ready event: startup time is a tracked target (issue 8).
    const phases: Record<string, number> = {};
    let last = t0;
    const mark = (name: string) => { const now = performance.now(); phases[name] = Math.round(now - last); last = now; };
    // Before the (slow) validation: a second up for a running Mesh answers at once.
    await this.refuseSecondSession();
    await this.loadOrThrow(); mark('load');
    await this.checkPorts();
    const commands = this.resolveCommands();
    await this.assignPorts(); mark('ports');
    this.mintIdentities(); mark('certs');
    try {
      const session = await this.openApi(); mark('api');
      this.workloads!.startAll(commands, [...placedWorkloads(this.ws.mesh.spec).values()].map((p) => p.spec));
      await this.waitForListeners(); mark('listeners');
      if (this.stopping) throw new UpError(['devmesh up: stopped while starting']);
      // Ready (the health answer, the banner) only once edits are seen: an edit saved before the
      // watcher's first scan was not one it would report, so it would be lost until the next save.
      await this.watch(); mark('watch');
      if (this.stopping) throw new UpError(['devmesh up: stopped while starting']);
      this.ready = true;
      const ms = performance.now() - t0;
      this.events.record({ type: 'mesh.ready', message: `mesh ${this.ws.mesh.metadata.name} ready in ${Math.round(ms)} ms`, data: { ms, phases } });
      return { session, snapshot: this.publisher!.snapshot, rootDir: this.ws.rootDir, ms, phases, listenerCertificates: this.gateways!.certs };
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
  }

  private async refuseSecondSession(): Promise<void> {
    const meshFile = path.resolve(this.opts.meshFile);
    const rootDir = path.dirname(meshFile);
    const s = await probeSession(rootDir);
    if (s.state === 'stale') removeSession(rootDir, s.session.pid);
    if (s.state === 'running') {
      throw new UpError([`devmesh up is already running for ${this.rel(meshFile)} (pid ${s.session.pid}, API ${s.session.apiUrl}${s.answering ? '' : ', not answering yet'}).`,
        `Use that one, or stop it first (Ctrl-C in its terminal, or kill ${s.session.pid}).`]);
    }
    // No devmesh owns this Mesh: whatever a crashed one left running would hold our ports.
    const reaped = await reapLeftovers(rootDir);
    if (reaped.length) this.err(`a previous devmesh up for this Mesh ended without stopping its children; stopped: ${reaped.join(', ')}`);
  }

  private async checkPorts(): Promise<void> {
    const claims = portClaims(this.ws.mesh, this.portOverrides);
    const lines: string[] = [];
    for (const [a, b] of duplicateClaims(claims)) lines.push(this.finding(b.field, 'port-collision', `${b.owner} is also ${a.owner}; give each its own port`));
    for (const p of await takenPorts(claims)) lines.push(this.finding(p.claim.field, 'port-in-use', p.message));
    const how = this.opts.controlPort !== undefined ? 'change them in the Mesh file or pass another --control-port' : 'change them in the Mesh file';
    if (lines.length) throw new UpError([...lines, `devmesh up: nothing was started. Free those ports (e.g. \`lsof -i :PORT\`) or ${how}.`]);
  }

  private resolveCommands(): Map<string, ResolvedCommand> {
    const out = new Map<string, ResolvedCommand>();
    const lines: string[] = [];
    for (const { spec, field } of placedWorkloads(this.ws.mesh.spec).values()) {
      if (!spec.command) continue;
      try { out.set(spec.name, resolveCommand(spec, this.ws.rootDir)); } catch (e) {
        lines.push(this.finding([...field, 'command'], 'bad-command', (e as Error).message));
      }
    }
    if (lines.length) throw new UpError([...lines, 'devmesh up: nothing was started.']);
    return out;
  }

  /** Sidecar ports (pinned or free), a local port per Gateway port, and with them the first config: the publisher owns it from here on. */
  private async assignPorts(): Promise<void> {
    const ports = await assignPorts(this.ws.mesh, this.portOverrides);
    const held = heldPorts(portClaims(this.ws.mesh, this.portOverrides).map((c) => c.port), ports);
    ports.ingress.listeners = await gatewayPorts(servedPorts(this.ws.gatewayApi), {}, held);
    this.publisher = new ConfigPublisher({ mesh: this.ws.mesh, resources: this.ws.resources, ports, faults: [], secrets: this.ws.gatewayApi.secrets },
      { sidecars: () => this.workloads?.sidecars ?? [], events: this.events, out: this.out });
  }

  private mintIdentities(): void {
    const snapshot = this.publisher!.snapshot;
    const lifetime = Number(process.env.DEVMESH_CERT_LIFETIME_MS) || undefined; // a testing knob
    this.certs = new WorkloadCertificates(snapshot.trustDomain, (owner, certs) => {
      this.workloads?.sidecars.get(owner)?.pushCerts(this.withListeners(owner, certs));
      this.events.record({ type: 'certs.rotated', workload: owner, message: `certificate of ${owner} rotated (valid until ${new Date(certs.notAfter).toISOString()})`, data: { notAfter: certs.notAfter } });
    }, lifetime);
    for (const w of snapshot.workloads) this.certs.get(w.name, w.spiffeId);
    this.certs.get(snapshot.ingress.name, snapshot.ingress.spiffeId);
    this.gateways = new GatewayIngress(() => this.certs!.authority, () => {
      // The ingress and the egress gateway (when it runs): listener certificates, origination credentials.
      const snapshot = this.publisher!.snapshot;
      const egress = snapshot.workloads.find((w) => w.name === EGRESS_GATEWAY.name);
      for (const g of [snapshot.ingress, ...(egress ? [egress] : [])]) this.workloads?.sidecars.get(g.name)?.pushCerts(this.withListeners(g.name, this.certs!.get(g.name, g.spiffeId)));
    }, (m) => this.err(m));
    this.gateways.update(this.ws.gatewayApi, destinationRulesOf(this.ws.resources));
    // The root a client trusts to call an HTTPS Gateway listener whose certificate devmesh minted (public; no key).
    writeFileSync(path.join(ensureStateDir(this.ws.rootDir), 'ca.pem'), this.certs.caPem);
  }

  /** The ingress's certificates carry its HTTPS Gateway listeners' too. */
  private withListeners(owner: string, certs: Certificates): Certificates {
    if (owner === this.publisher!.snapshot.ingress.name) return this.gateways!.withListeners(certs);
    return owner === EGRESS_GATEWAY.name ? this.gateways!.withCredentials(certs) : certs;
  }

  /** Where the Gateway ports listen changed (an edit added or removed one): the session file and the terminal say so. */
  private gatewayListenersChanged(snapshot: MeshSnapshot): void {
    writeSession(this.ws.rootDir, { ...this.session(), ...sessionListeners(snapshot.ingress.listeners ?? []) });
    for (const line of describeGatewayListeners(snapshot.ingress.listeners ?? [], this.gateways!.certs)) this.out(line);
  }

  private session(): SessionInfo {
    return { apiUrl: this.apiUrl, token: this.token, pid: process.pid, dashboardUrl: dashboardUrl(this.apiUrl, this.token), ...sessionListeners(this.publisher!.snapshot.ingress.listeners ?? []) };
  }

  /** The telemetry store, the API on 127.0.0.1 and the session file that says where it is. */
  private async openApi(): Promise<SessionInfo> {
    const mesh = this.ws.mesh;
    const publisher = this.publisher!;
    const controlPort = this.opts.controlPort ?? resolvedMeshSettings(mesh.spec).controlPort;
    const otlpEndpoint = this.opts.otlpEndpoint ?? mesh.spec.telemetry?.otlp?.endpoint;
    this.workloads = new Workloads({
      publisher, events: this.events, rootDir: this.ws.rootDir,
      certs: { get: (owner, spiffeId) => this.withListeners(owner, this.certs!.get(owner, spiffeId)), forget: (owner) => this.certs!.forget(owner) },
      boot: { sampling: mesh.spec.telemetry?.sampling, logFormat: this.opts.logFormat, printAccessLog: !!this.opts.accessLog },
      accessLog: !!this.opts.accessLog,
      onTelemetry: (data) => this.telemetry?.ingest(data),
      claims: () => portClaims(publisher.inputs.mesh, this.portOverrides),
      finding: this.finding,
      out: this.out, err: this.err,
    });
    this.faults = new FaultStore(publisher, this.events);
    const views = new ApiViews({
      publisher, workloads: this.workloads, faults: this.faults, telemetry: () => this.telemetry,
      started: () => this.ready && !this.stopping,
      files: () => this.reloader?.files ?? this.ws.files.map(this.rel),
      rejection: () => this.reloader?.rejection ?? { last: null, current: false },
      gatewayApi: () => gatewayApiConfig((this.reloader?.workspace ?? this.ws).gatewayApi, publisher.snapshot.ingress.listeners ?? [], this.gateways!.certs),
    });
    this.telemetry = new TelemetryHub({
      events: this.events,
      edgesView: () => views.edges(),
      maxTraces: this.opts.maxTraces,
      maxLogs: this.opts.maxLogs,
      otlp: otlpEndpoint ? { endpoint: otlpEndpoint } : undefined,
      onError: (m) => this.err(m),
    });
    const snapshotAdminPorts = () => { const s = publisher.snapshot; return [s.ingress.adminPort, ...s.workloads.map((w) => w.sidecar.adminPort)]; };
    try {
      this.api = await listenControlApi({
        token: this.token,
        events: this.events,
        isReady: () => views.health().ready,
        topology: () => views.topology(),
        config: () => views.config(),
        configVersion: (v) => publisher.version(v),
        faults: this.faults,
        adminPortOf: (name) => views.adminPortOf(name),
        observability: { hub: this.telemetry, metrics: () => mergedMetrics(snapshotAdminPorts()) },
      }, controlPort);
    } catch (e) {
      const flag = this.opts.controlPort !== undefined;
      throw new UpError([this.finding(flag ? undefined : ['spec', 'controlPort'], 'port-in-use', `${flag ? '--control-port' : 'controlPort'} ${controlPort} (control API) could not be opened: ${(e as Error).message}`)]);
    }
    const session = this.session();
    writeSession(this.ws.rootDir, session);
    return session;
  }

  /** Every sidecar serves, and every app devmesh started accepts on its port. */
  private waitForListeners(): Promise<void> {
    const placed = placedWorkloads(this.ws.mesh.spec);
    return this.workloads!.waitForListeners(Date.now() + (this.opts.startTimeoutMs ?? 20_000), (name) => {
      const p = placed.get(name);
      return p && [...p.field, 'port'];
    });
  }

  /** Hot reload from here on. The watcher's first scan runs after readiness: it is not on the path to serving. */
  private watch(): Promise<void> {
    const publisher = this.publisher!;
    const reloader = new MeshReloader({
      loader: this.loader, publisher, workloads: this.workloads!, events: this.events, portOverrides: this.portOverrides,
      startTimeoutMs: this.opts.startTimeoutMs ?? 20_000, stopping: () => !!this.stopping, out: this.out, err: this.err,
      gateways: this.gateways!, onGatewayListeners: (snapshot) => this.gatewayListenersChanged(snapshot),
    }, this.ws);
    this.reloader = reloader;
    const failed = (err: unknown) => this.err(`devmesh: reloading the policies failed, still serving v${publisher.snapshot.version}: ${(err as Error)?.stack ?? err}`);
    this.watcher = watchPolicies(this.ws.rootDir, (files) => reloader.reload(files), undefined, failed);
    // The files were read before the watcher's first scan: whatever was saved in between, the
    // scan took as already there (ignoreInitial). Those files are reloaded now.
    // Through the watcher's queue, so it never runs beside a reload an event scheduled.
    const watcher = this.watcher;
    return watcher.ready.then(async () => {
      const missed = await this.loader.changedOnDisk();
      if (missed.length) await watcher.reload(missed);
    });
  }

  // ---------- stop ----------

  /** Apps first (they may still be answering requests through their sidecars), then sidecars, then the API. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.ready = false;
      this.events.record({ type: 'mesh.stopping', message: 'stopping the mesh' });
      await this.watcher?.close();
      await this.gateways?.close();
      this.publisher?.close();
      this.certs?.stop();
      this.faults?.stop();
      await this.workloads?.stop();
      // Spans the sidecars flushed on their way out still go to the collector.
      await this.telemetry?.close();
      await this.api?.close();
      if (this.ws) removeSession(this.ws.rootDir);
    })();
    return this.stopping;
  }

  /** Synchronous last resort (process 'exit'): SIGKILL every process group still around. */
  killAll(): void {
    this.workloads?.killAll();
  }
}
