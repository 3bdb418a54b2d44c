import type { WorkspaceRule } from './rule';

/**
 * Services are keyed by namespace and name, as in Kubernetes. Workload names
 * are unique across the whole Mesh: CLI commands, metrics, the topology and
 * the sidecars' keys name a workload by it alone.
 */
export const meshNames: WorkspaceRule = {
  codes: ['duplicate-name'],
  reads: ['Mesh'],
  check(index, report) {
    const mesh = index.mesh;
    if (!mesh) return;
    const services = new Set<string>();
    for (const s of mesh.services) {
      const key = `${s.namespace}/${s.name}`;
      if (services.has(key)) report(mesh.doc, [...s.path, 'name'], 'duplicate-name', `service "${s.name}" is defined twice in namespace "${s.namespace}"; merge the entries into one`);
      services.add(key);
    }
    const workloads = new Map<string, string>();
    for (const w of mesh.workloads) {
      const first = workloads.get(w.name);
      if (first !== undefined) {
        report(mesh.doc, [...w.path, 'name'], 'duplicate-name', `workload "${w.name}" is defined twice${first !== w.namespace ? ` (in namespaces "${first}" and "${w.namespace}")` : ''}; workload names must be unique across the Mesh, even across namespaces (CLI commands and sidecars name workloads by it)`);
      } else {
        workloads.set(w.name, w.namespace);
      }
    }
  },
};
