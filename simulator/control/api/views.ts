/**
 * What the control API answers, built from state the control plane already
 * holds: the config in force (the publisher), the processes (their pids,
 * restarts, whether each sidecar serves), what each sidecar last reported of
 * its app and its outlier ejections (sidecar/status.ts pushes it), the live
 * edges (telemetry) and the last refused edit. Nothing here probes a port or
 * calls a sidecar: a GET costs the same however large the mesh.
 */
import { formatDiagnostic, type LocatedDiagnostic } from '../../diagnostics-format';
import type { MeshSnapshot } from '../../protocol';
import type { FaultStore } from '../faults';
import { reachOf } from '../reach';
import type { ConfigPublisher } from '../publisher';
import type { TelemetryHub } from '../telemetry/hub';
import { faultsOnEdge } from '../telemetry/edgeFaults';
import type { Workloads } from '../workloads';
import type { ConfigView, GatewayApiConfig, Health, OutlierEjection, Topology, TopologyEdges, TopologyWorkload } from './contract';

/** The last edit that was refused, and whether the files are still in that state. */
export interface Rejection {
  time: number;
  files: string[];
  diagnostics: LocatedDiagnostic[];
}

export interface ViewSources {
  publisher: ConfigPublisher;
  workloads: Workloads;
  faults: FaultStore;
  telemetry: () => TelemetryHub | undefined;
  /** Every step of `up` done, not stopping. */
  started: () => boolean;
  /** The policy files read, as shown (relative to the cwd). */
  files: () => string[];
  /** The last refused edit; `current` while the files are still in that state. */
  rejection: () => { last: Rejection | null; current: boolean };
  /** The Gateway API's status and where its Gateways listen. */
  gatewayApi: () => GatewayApiConfig;
  now?: () => number;
}

export class ApiViews {
  constructor(private readonly s: ViewSources) {}

  private get snapshot(): MeshSnapshot { return this.s.publisher.snapshot; }

  health(): Health {
    return { ready: this.s.started() && [...this.s.workloads.sidecars.values()].every((sc) => sc.ready) };
  }

  topology(): Topology {
    const s = this.snapshot;
    const w = this.s.workloads;
    const workloads = s.workloads.map((info): TopologyWorkload => {
      const sc = w.sidecars.get(info.name);
      const app = w.apps.get(info.name);
      return {
        ...info,
        managed: !!app,
        pids: { sidecar: sc?.pid ?? null, app: app?.proc.pid ?? null },
        // An app devmesh runs is up while its process runs and its sidecar reaches it; one the developer runs, when reached.
        health: { sidecar: sc?.ready ? 'up' : 'down', app: (!app || app.proc.running) && sc?.status?.app === 'up' ? 'up' : 'down' },
        restarts: { sidecar: sc?.supervised.restarts ?? 0, app: app?.proc.restarts ?? 0 },
        configVersion: sc?.appliedVersion ?? 0,
      };
    });
    const ing = w.sidecars.get(s.ingress.name);
    const outliers = this.ejections();
    return {
      mesh: s.meshName, version: s.version, ready: this.s.started(), trustDomain: s.trustDomain, namespace: s.namespace,
      services: s.services.map((svc) => {
        const reach = reachOf(s, svc);
        return {
          name: svc.name, namespace: svc.namespace, fqdn: svc.fqdn, port: svc.port, protocol: svc.protocol,
          ports: svc.ports?.map((p) => ({ name: p.name, port: p.port, targetPort: p.targetPort, protocol: p.protocol, reach: reach.get(p.port) })) ?? [{ port: svc.port, targetPort: svc.port, protocol: svc.protocol, reach: reach.get(svc.port) }],
          workloads: svc.workloads,
        };
      }),
      workloads,
      ingress: { ...s.ingress, pid: ing?.pid ?? null, health: ing?.ready ? 'up' : 'down', restarts: ing?.supervised.restarts ?? 0 },
      ...withEjections(this.edges(), outliers, s),
      faults: this.s.faults.list(),
      outliers,
    };
  }

  /** Live edges with the faults that touch them; the service of each caller comes from the config in force. */
  edges(): TopologyEdges {
    const s = this.snapshot;
    const serviceOf = (w: string) => s.workloads.find((x) => x.name === w)?.service ?? w;
    const hub = this.s.telemetry();
    const view: TopologyEdges = hub ? hub.edges.view(serviceOf) : { generatedAt: Date.now(), windowSeconds: 0, edges: [], serviceEdges: [] };
    for (const e of view.edges) e.activeFaults = faultsOnEdge(s, { source: e.source, sourceService: serviceOf(e.source), destination: e.destination, service: e.service });
    for (const e of view.serviceEdges) e.activeFaults = faultsOnEdge(s, { source: e.source, sourceService: e.source, service: e.destination });
    return view;
  }

  /** Hosts ejected by outlier detection, as each calling sidecar last reported them; an ejection past its end is over. */
  ejections(): OutlierEjection[] {
    const now = (this.s.now ?? Date.now)();
    const out: OutlierEjection[] = [];
    for (const [reporter, sc] of this.s.workloads.sidecars) {
      if (!sc.ready) continue;
      for (const e of sc.status?.ejections ?? []) {
        if (e.until > now) out.push({ reporter, cluster: e.cluster, host: e.host, until: new Date(e.until).toISOString(), reason: e.reason });
      }
    }
    return out;
  }

  config(): ConfigView {
    const { last, current } = this.s.rejection();
    return {
      version: this.snapshot.version,
      appliedAt: this.s.publisher.appliedAt,
      state: current ? 'rejected' : 'ok',
      files: this.s.files(),
      lastRejection: last && { ...last, diagnostics: last.diagnostics.map((d) => ({ ...d, text: formatDiagnostic(d) })) },
      gatewayApi: this.s.gatewayApi(),
    };
  }

  /** The admin port of a sidecar, for `/api/sidecars/<name>/...`. */
  adminPortOf(name: string): number | undefined {
    const s = this.snapshot;
    return name === s.ingress.name ? s.ingress.adminPort : s.workloads.find((w) => w.name === name)?.sidecar.adminPort;
  }
}

/** Fills each edge's ejectedEndpoints: the callee workloads its caller's outlier detection has ejected. Pure. */
export function withEjections(view: TopologyEdges, outliers: readonly OutlierEjection[], s: MeshSnapshot): TopologyEdges {
  const workloadsOf = new Map(s.services.map((svc) => [svc.name, new Set(svc.workloads)]));
  const ejectedBy = (caller: string, service: string) =>
    [...new Set(outliers.filter((o) => o.reporter === caller && workloadsOf.get(service)?.has(o.host)).map((o) => o.host))];
  const ingressName = s.ingress.name;
  const callersOf = (source: string) => (source === ingressName || !workloadsOf.has(source) ? [source] : [...(workloadsOf.get(source) ?? [])]);
  for (const e of view.edges) e.ejectedEndpoints = ejectedBy(e.source, e.service);
  for (const e of view.serviceEdges) e.ejectedEndpoints = [...new Set(callersOf(e.source).flatMap((c) => ejectedBy(c, e.destination)))];
  return view;
}
