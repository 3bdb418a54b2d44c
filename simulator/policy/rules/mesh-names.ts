import type { WorkspaceRule } from './rule';

/** Service and workload names are identities in metrics and routing: each must be unique. */
export const meshNames: WorkspaceRule = {
  codes: ['duplicate-name'],
  reads: ['Mesh'],
  check(index, report) {
    const mesh = index.mesh;
    if (!mesh) return;
    const services = new Set<string>();
    for (const s of mesh.services) {
      if (services.has(s.name)) report(mesh.doc, [...s.path, 'name'], 'duplicate-name', `service "${s.name}" is defined twice; merge the workloads into one entry`);
      services.add(s.name);
    }
    const workloads = new Set<string>();
    for (const w of mesh.workloads) {
      if (workloads.has(w.name)) report(mesh.doc, [...w.path, 'name'], 'duplicate-name', `workload "${w.name}" is defined twice; workload names must be unique across the Mesh`);
      workloads.add(w.name);
    }
  },
};
