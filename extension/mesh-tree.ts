/**
 * What the DevMesh view lists, pure (no vscode import, so it is tested in
 * Node): the services — under their namespace when the mesh has several —
 * each with the workloads it selects (one workload may back several
 * services), and how fault commands name them.
 */
import type { Topology, TopologyService, TopologyWorkload } from '../simulator/control/api/contract';

export interface ServiceNode {
  name: string;
  namespace?: string;
  /** How `devmesh fault` names it: `name`, or `name.namespace` with several namespaces. */
  target: string;
  /** Its ports, e.g. `9080, 9090`. */
  ports: string;
  workloads: TopologyWorkload[];
}

export interface NamespaceNode {
  name: string;
  services: ServiceNode[];
}

/** Namespaces with their services when the mesh has several; else the services alone. */
export function meshTree(t: Topology): { namespaces: NamespaceNode[] } | { services: ServiceNode[] } {
  const namespaceOf = (s: TopologyService) => s.namespace ?? t.namespace ?? 'default';
  const namespaces = [...new Set(t.services.map(namespaceOf))];
  const node = (s: TopologyService): ServiceNode => ({
    name: s.name,
    namespace: s.namespace,
    target: namespaces.length > 1 ? `${s.name}.${namespaceOf(s)}` : s.name,
    ports: (s.ports ?? (s.port !== undefined ? [{ port: s.port }] : [])).map((p) => p.port).join(', '),
    workloads: t.workloads.filter((w) => s.workloads.includes(w.name) && (w.namespace ?? namespaceOf(s)) === namespaceOf(s)),
  });
  if (namespaces.length <= 1) return { services: t.services.map(node) };
  return { namespaces: namespaces.map((name) => ({ name, services: t.services.filter((s) => namespaceOf(s) === name).map(node) })) };
}
