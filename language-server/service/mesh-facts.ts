/**
 * What names in a policy resolve to, read from the workspace index: the
 * subsets of a host, the workloads a subset selects, the principals of the
 * Mesh's service accounts. Hover, completion and navigation share these.
 */
import {
  arr, obj, qualifyHost, str, type PolicyDocument, type ServiceView, type WorkloadView, type WorkspaceIndex,
} from '../../simulator/policy';

export interface SubsetFact {
  name: string;
  labels: Record<string, string>;
  rule: PolicyDocument<'DestinationRule'>;
  /** Path of the subset entry in its DestinationRule. */
  path: (string | number)[];
}

export function subsetsOf(index: WorkspaceIndex, fqdn: string): SubsetFact[] {
  return index.destinationRules(fqdn).flatMap((rule) => arr(obj(rule.value.spec).subsets).flatMap((raw, i) => {
    const s = obj(raw);
    const name = str(s.name);
    if (!name) return [];
    const labels: Record<string, string> = {};
    for (const [k, v] of Object.entries(obj(s.labels))) labels[k] = String(v);
    return [{ name, labels, rule, path: ['spec', 'subsets', i] }];
  }));
}

/** The workloads of a service a subset's labels select. */
export function subsetWorkloads(index: WorkspaceIndex, service: ServiceView | undefined, subset: SubsetFact): WorkloadView[] {
  if (!service) return [];
  return index.workloadsMatching(subset.labels, service.namespace, service.workloads);
}

/** Qualifies a host as written in a document whose namespace may be unknown (while typing). */
export function fqdnIn(index: WorkspaceIndex, host: string, namespace: string | undefined): string {
  return qualifyHost(host, namespace ?? index.defaultNamespace);
}

export function serviceByFqdn(index: WorkspaceIndex, fqdn: string): ServiceView | undefined {
  return index.mesh?.serviceByFqdn.get(fqdn);
}

export function labelsText(labels: Record<string, string>): string {
  const entries = Object.entries(labels);
  return entries.length ? entries.map(([k, v]) => `${k}=${v}`).join(', ') : 'no labels';
}

export function workloadLine(w: WorkloadView): string {
  const local = Object.entries(w.containerPorts);
  const ports = local.length > 1 ? `ports ${local.map(([k, p]) => `${k}→${p}`).join(', ')}` : `port ${w.appPort ?? w.port ?? '?'}`;
  return `- \`${w.name}\` — ${ports}, ${labelsText(w.labels)}, service account \`${w.serviceAccount}\`${w.namespace ? ` (namespace ${w.namespace})` : ''}`;
}

export function serviceMarkdown(s: ServiceView): string {
  const ports = s.ports.map((p) => `${p.port}${p.name && p.name !== p.protocol ? ` ${p.name}` : ''} (${p.protocol}${String(p.targetPort) !== String(p.port) ? `, targetPort ${p.targetPort}` : ''})`);
  return [
    `**${s.name}** — Mesh service \`${s.fqdn}\` in namespace \`${s.namespace}\``,
    '',
    `Port${ports.length === 1 ? '' : 's'} ${ports.join(', ') || '?'}, ${s.workloads.length} workload${s.workloads.length === 1 ? '' : 's'}${s.selector ? ` (selector ${labelsText(s.selector)})` : ''}:`,
    ...s.workloads.map(workloadLine),
  ].join('\n');
}

/** Principals of the Mesh, `<trustDomain>/ns/<namespace>/sa/<serviceAccount>`, with the workloads behind each. */
export function principals(index: WorkspaceIndex): { principal: string; serviceAccount: string; namespace: string; workloads: WorkloadView[] }[] {
  const mesh = index.mesh;
  if (!mesh) return [];
  const by = new Map<string, { principal: string; serviceAccount: string; namespace: string; workloads: WorkloadView[] }>();
  for (const w of mesh.workloads) {
    const principal = `${mesh.trustDomain}/ns/${w.namespace}/sa/${w.serviceAccount}`;
    const entry = by.get(principal) ?? { principal, serviceAccount: w.serviceAccount, namespace: w.namespace, workloads: [] };
    entry.workloads.push(w);
    by.set(principal, entry);
  }
  return [...by.values()];
}

/** The service account a principal names, when it has the `td/ns/x/sa/y` form. */
export function parsePrincipal(p: string): { trustDomain: string; namespace: string; serviceAccount: string } | undefined {
  const m = /^(?:spiffe:\/\/)?([^/]+)\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(p);
  return m ? { trustDomain: m[1], namespace: m[2], serviceAccount: m[3] } : undefined;
}
