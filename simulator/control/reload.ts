/**
 * Hot reload: the files changed, so they are validated again (incrementally)
 * and either refused — reported, and the config in force keeps serving — or
 * submitted to the publisher as the next config. A Mesh edit is planned
 * first (mesh-change.ts); what can refuse it (a command that does not
 * resolve, a port another process holds) is checked before anything changes,
 * then new and changed workloads boot with the new config while the others
 * get it pushed, and removed ones stop once no caller routes to them.
 */
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { formatDiagnostic } from '../diagnostics-format';
import type { DiagnosticCode } from '../policy';
import type { Resource } from '../policy/model';
import type { MeshSnapshot } from '../protocol';
import { resolveCommand, type ResolvedCommand } from './apps';
import type { Rejection } from './api/views';
import type { EventLog } from './events';
import { destinationRulesOf, gatewayPorts, heldPorts, servedPorts, type GatewayIngress } from './gateway-ingress';
import { hasErrors, type Diagnostic, type IncrementalMeshLoader, type MeshWorkspace } from './load';
import { defaultsOf, describePlan, placedWorkloads, planMeshChange, type MeshChangePlan } from './mesh-change';
import { appPortClaims, fillPorts, pinnedSidecarPorts, portClaims, takenPorts, type PortClaim, type PortOverrides } from './ports';
import type { ConfigPublisher } from './publisher';
import type { PortAssignment } from './snapshot';
import type { Workloads } from './workloads';

export interface ReloaderOptions {
  loader: IncrementalMeshLoader;
  publisher: ConfigPublisher;
  workloads: Workloads;
  events: EventLog;
  portOverrides: PortOverrides;
  /** How long a new workload's sidecar gets to serve. */
  startTimeoutMs: number;
  stopping: () => boolean;
  out: (line: string) => void;
  err: (line: string) => void;
  /** The certificates of the ingress's Gateway listeners. */
  gateways: GatewayIngress;
  /** A config that moved the Gateway listeners (one opened or closed) is in force. */
  onGatewayListeners: (snapshot: MeshSnapshot) => void;
}

const rel = (f: string) => path.relative(process.cwd(), f) || f;

export class MeshReloader {
  private last: Rejection | null = null;
  private rejectedNow = false;
  private meshChangeWarned = '';

  constructor(private readonly o: ReloaderOptions, private ws: MeshWorkspace) {}

  /** The policy files read, relative to the cwd. */
  get files(): string[] { return this.ws.files.map(rel); }
  get rejection(): { last: Rejection | null; current: boolean } { return { last: this.last, current: this.rejectedNow }; }
  /** The last workspace accepted. */
  get workspace(): MeshWorkspace { return this.ws; }

  /** Re-reads the changed files; a valid set becomes the next config, an invalid one is reported and ignored. */
  async reload(files: string[] = []): Promise<void> {
    if (this.o.stopping()) return;
    const startedAt = performance.now();
    const ws = await this.o.loader.update(files);
    if (this.o.stopping()) return;
    if (hasErrors(ws.diagnostics)) return this.refuse(ws.diagnostics.filter((d) => d.severity === 'error'), files, 'edit rejected', (n) => `config rejected: ${n} error(s)`);
    const running = this.o.publisher.inputs.mesh;
    const plan = planMeshChange(running, ws.mesh);
    const meshNow = JSON.stringify(ws.mesh);
    if (plan.needsRestart.length && meshNow !== this.meshChangeWarned) {
      this.meshChangeWarned = meshNow;
      this.o.err(`the Mesh's ${plan.needsRestart.join(', ')} changed: that takes effect on the next devmesh up; services, workloads and policies are applied now`);
    }
    // Services, workloads, the root namespace, extension providers and the defaults (compatibilityVersion, meshConfig) follow the file;
    // the mesh-wide settings stay as started.
    const mesh: Resource<'Mesh'> = plan.changed || plan.defaultsChanged
      ? {
        ...running,
        spec: { ...running.spec, services: ws.mesh.spec.services, workloads: ws.mesh.spec.workloads, rootNamespace: ws.mesh.spec.rootNamespace, extensionProviders: ws.mesh.spec.extensionProviders, ...defaultsOf(ws.mesh.spec) },
      }
      : running;
    let commands = new Map<string, ResolvedCommand>();
    if (plan.changed) {
      const prepared = await this.prepareMeshChange(plan, ws);
      if (this.o.stopping()) return;
      if ('refused' in prepared) return this.refuse(prepared.refused, files, 'Mesh edit refused', (n) => `config rejected: the Mesh edit cannot be applied (${n} error(s))`);
      commands = prepared.commands;
    }
    this.rejectedNow = false;
    // Listener certificates first: a Secret edit needs no new config, and a new HTTPS port must not open without its certificate.
    this.o.gateways.update(ws.gatewayApi, destinationRulesOf(ws.resources));
    // A Secret edit changes what sidecars see only when it programs (or unprograms) a Gateway API listener.
    const programmed = (w: MeshWorkspace) => JSON.stringify(w.gatewayApi.gateways.map((g) => g.listeners.map((l) => l.served)));
    if (!plan.changed && !plan.defaultsChanged && JSON.stringify(ws.resources) === JSON.stringify(this.ws.resources) && programmed(ws) === programmed(this.ws)) return; // nothing a sidecar would see
    this.ws = { ...ws, mesh };
    const edited = files.map(rel);
    const what = plan.changed ? describePlan(plan) : '';
    const ports = await this.gatewayPortsFor(ws, mesh, plan.changed ? await this.portsFor(plan, mesh) : this.o.publisher.inputs.ports);
    const listenersBefore = JSON.stringify(this.o.publisher.snapshot.ingress.listeners ?? []);
    const deadline = Date.now() + this.o.startTimeoutMs;
    const published = this.o.publisher.publish({ mesh, resources: ws.resources, ports, secrets: ws.gatewayApi.secrets },
      [what, edited.length ? `${edited.join(', ')} edited` : ''].filter(Boolean).join('; '), {
        // New and restarted sidecars boot with the new config; the others get it pushed once the new ones serve.
        boot: plan.changed ? () => this.o.workloads.applyPlan(plan, placedWorkloads(mesh.spec), commands, deadline) : undefined,
        data: { files: edited },
        startedAt,
      });
    const next = this.o.publisher.snapshot;
    const report = await published;
    if (report && JSON.stringify(next.ingress.listeners ?? []) !== listenersBefore) this.o.onGatewayListeners(next);
    // Callers route away from removed workloads first; then they stop.
    if (plan.removed.length) await this.o.workloads.stopWorkloads(plan.removed);
    if (plan.defaultsChanged && report) {
      this.o.out(`mesh ${mesh.metadata.name}: defaults of Istio ${next.defaults?.version}${mesh.spec.meshConfig ? ' with the Mesh\'s meshConfig' : ''} (config v${report.version})`);
    }
    if (plan.changed && report) {
      this.o.out(`mesh ${mesh.metadata.name}: ${what} (config v${report.version})`);
      this.o.events.record({ type: 'mesh.changed', message: what, data: { version: report.version, added: plan.added.map((w) => w.spec.name), removed: plan.removed, restartedApps: plan.restartApp, restartedSidecars: plan.restartSidecar } });
    }
  }

  private refuse(errors: Diagnostic[], files: string[], what: string, line: (errors: number) => string): void {
    const version = this.o.publisher.snapshot.version;
    this.last = { time: Date.now(), files: files.map(rel), diagnostics: errors };
    this.rejectedNow = true;
    for (const d of errors) this.o.err(formatDiagnostic(d));
    this.o.err(`${line(errors.length)}; still serving v${version}`);
    this.o.events.record({ type: 'config.rejected', message: `${what} (${errors.length} error(s)); still serving config v${version}`, data: { version, diagnostics: errors } });
  }

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
    const held = new Set(Object.values(this.o.publisher.inputs.ports.workloads).flatMap((a) => [a.inboundPort, a.outboundPort, a.adminPort]));
    for (const name of [...plan.added.map((w) => w.spec.name), ...plan.restartApp]) {
      const { spec, field } = placed.get(name)!;
      if (spec.command) {
        try { commands.set(name, resolveCommand(spec, ws.rootDir)); } catch (e) { refuse([...field, 'command'], 'bad-command', (e as Error).message); }
        const running = this.o.workloads.apps.get(name);
        const own = new Set(running ? appPortClaims(running.spec, field).map((c) => c.port) : []);
        claims.push(...appPortClaims(spec, field).filter((c) => !own.has(c.port)));
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

  /** A local port for every Gateway port of the edit: the ones already open stay where they are. */
  private async gatewayPortsFor(ws: MeshWorkspace, mesh: Resource<'Mesh'>, ports: PortAssignment): Promise<PortAssignment> {
    const held = heldPorts(portClaims(mesh, this.o.portOverrides).map((c) => c.port), ports);
    const listeners = await gatewayPorts(servedPorts(ws.gatewayApi), ports.ingress.listeners ?? {}, held);
    return { ...ports, ingress: { ...ports.ingress, listeners } };
  }

  /** The ports after the edit: new workloads get theirs (pinned, or free ones), changed ones their pins; removed ones give theirs back. */
  private async portsFor(plan: MeshChangePlan, mesh: Resource<'Mesh'>): Promise<PortAssignment> {
    const current = this.o.publisher.inputs.ports;
    const workloads = { ...current.workloads };
    for (const name of plan.removed) delete workloads[name];
    const placed = placedWorkloads(mesh.spec);
    for (const name of plan.restartSidecar) {
      const a = { ...workloads[name] };
      for (const key of ['inboundPort', 'outboundPort', 'adminPort'] as const) a[key] = placed.get(name)!.spec.sidecar?.[key] ?? a[key];
      workloads[name] = a;
    }
    const needed: Array<(p: number) => void> = [];
    for (const { spec } of plan.added) workloads[spec.name] = pinnedSidecarPorts(spec, needed);
    const assigned = [current.ingress.port, current.ingress.adminPort, ...Object.values(workloads).flatMap((w) => [w.inboundPort, w.outboundPort, w.adminPort])];
    await fillPorts(needed, new Set([...portClaims(mesh, this.o.portOverrides).map((c) => c.port), ...assigned]));
    return { ...current, workloads };
  }
}
