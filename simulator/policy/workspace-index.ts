/**
 * The in-memory index that cross-file rules read: every policy document of
 * the workspace grouped by kind, the Mesh's services and workloads, and the
 * lookups rules need (host -> service, host -> DestinationRules, labels ->
 * workloads). Built once per change; rules never touch the disk.
 */
import { policyHost, serviceFqdn } from './hosts';
import { MESH_DEFAULTS, type Kind } from './model';
import type { Path, PolicyDocument } from './source';

export interface WorkloadView {
  name: string;
  service: string;
  namespace: string;
  labels: Record<string, string>;
  serviceAccount: string;
  port: number | undefined;
  /** Path of the workload entry inside the Mesh document. */
  path: Path;
}

export interface ServiceView {
  name: string;
  namespace: string;
  fqdn: string;
  port: number | undefined;
  protocol: string;
  workloads: WorkloadView[];
  path: Path;
}

export interface MeshView {
  doc: PolicyDocument<'Mesh'>;
  name: string;
  namespace: string;
  trustDomain: string;
  services: ServiceView[];
  workloads: WorkloadView[];
  serviceByFqdn: Map<string, ServiceView>;
}

export type DocsByKind = { [K in Kind]: PolicyDocument<K>[] };

export class WorkspaceIndex {
  readonly byKind: DocsByKind = {
    Mesh: [], VirtualService: [], DestinationRule: [], Gateway: [], PeerAuthentication: [], AuthorizationPolicy: [],
  };
  readonly mesh: MeshView | undefined;
  private readonly drByHost = new Map<string, PolicyDocument<'DestinationRule'>[]>();
  private readonly subsetCache = new Map<string, string[]>();

  constructor(readonly docs: readonly PolicyDocument[]) {
    for (const d of docs) (this.byKind[d.kind] as PolicyDocument[]).push(d);
    this.mesh = this.byKind.Mesh.length > 0 ? buildMeshView(this.byKind.Mesh[0]) : undefined;
    for (const dr of this.byKind.DestinationRule) {
      const host = str(dr.value.spec?.host);
      if (!host) continue;
      const fqdn = this.fqdn(host, dr);
      const list = this.drByHost.get(fqdn) ?? [];
      list.push(dr);
      this.drByHost.set(fqdn, list);
    }
  }

  get defaultNamespace(): string {
    return this.mesh?.namespace ?? MESH_DEFAULTS.namespace;
  }

  namespaceOf(doc: PolicyDocument): string {
    return doc.namespace ?? this.defaultNamespace;
  }

  /** A host as written in `doc`, fully qualified in the document's namespace. */
  fqdn(host: string, doc: PolicyDocument): string {
    return policyHost(host, this.namespaceOf(doc));
  }

  service(host: string, doc: PolicyDocument): ServiceView | undefined {
    return this.mesh?.serviceByFqdn.get(this.fqdn(host, doc));
  }

  destinationRules(fqdn: string): readonly PolicyDocument<'DestinationRule'>[] {
    return this.drByHost.get(fqdn) ?? [];
  }

  /** Subset names the DestinationRules of a host define (computed once per index). */
  subsetNames(fqdn: string): readonly string[] {
    let names = this.subsetCache.get(fqdn);
    if (!names) {
      names = this.destinationRules(fqdn).flatMap((dr) => arr(obj(dr.value.spec).subsets).map((s) => str(obj(s).name)).filter((n): n is string => !!n));
      this.subsetCache.set(fqdn, names);
    }
    return names;
  }

  /** Workloads of a namespace whose labels include every given label. */
  workloadsMatching(selector: Record<string, unknown>, namespace: string, among?: readonly WorkloadView[]): WorkloadView[] {
    const pool = among ?? this.mesh?.workloads ?? [];
    const entries = Object.entries(selector);
    return pool.filter((w) => w.namespace === namespace && entries.every(([k, v]) => w.labels[k] === String(v)));
  }
}

function buildMeshView(doc: PolicyDocument<'Mesh'>): MeshView {
  const spec = obj(doc.value.spec);
  const namespace = str(spec.namespace) ?? MESH_DEFAULTS.namespace;
  const trustDomain = str(spec.trustDomain) ?? MESH_DEFAULTS.trustDomain;
  const services: ServiceView[] = [];
  const workloads: WorkloadView[] = [];
  arr(spec.services).forEach((raw, i) => {
    const s = obj(raw);
    const name = str(s.name);
    if (!name) return;
    const view: ServiceView = {
      name,
      namespace,
      fqdn: serviceFqdn(name, namespace),
      port: num(s.port),
      protocol: str(s.protocol) ?? 'http',
      workloads: [],
      path: ['spec', 'services', i],
    };
    arr(s.workloads).forEach((rawW, j) => {
      const w = obj(rawW);
      const wname = str(w.name);
      if (!wname) return;
      const labels: Record<string, string> = {};
      for (const [k, v] of Object.entries(obj(w.labels))) labels[k] = String(v);
      const wl: WorkloadView = {
        name: wname,
        service: name,
        namespace,
        labels,
        serviceAccount: str(w.serviceAccount) ?? name,
        port: num(w.port),
        path: ['spec', 'services', i, 'workloads', j],
      };
      view.workloads.push(wl);
      workloads.push(wl);
    });
    services.push(view);
  });
  return {
    doc,
    name: doc.name,
    namespace,
    trustDomain,
    services,
    workloads,
    serviceByFqdn: new Map(services.map((s) => [s.fqdn, s])),
  };
}

// Defensive accessors: rules run on documents that may have schema errors.

export function obj(v: unknown): Record<string, any> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, any>) : {};
}

export function arr(v: unknown): any[] {
  return Array.isArray(v) ? v : [];
}

export function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}
