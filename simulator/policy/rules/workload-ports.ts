import type { WorkspaceRule } from './rule';

/**
 * Every container port a service addresses on a workload (its targetPort,
 * by number or name) needs the local port the app listens on for it: the
 * workload's `port:`, or its entry in `ports:`.
 */
export const workloadPorts: WorkspaceRule = {
  codes: ['missing-field'],
  reads: ['Mesh'],
  check(index, report) {
    const mesh = index.mesh;
    if (!mesh) return;
    for (const w of mesh.workloads) {
      if (w.port === undefined && w.ports === undefined) {
        const first = w.served[0];
        report(mesh.doc, [...w.path, 'name'], 'missing-field', `workload "${w.name}" needs the local port its app listens on: add \`port: <port>\`${first ? ` (it serves port ${first.port.port} of ${first.service.name})` : ''}, or \`ports:\` with one per container port`);
        continue;
      }
      if (!w.ports) continue;
      const reported = new Set<string>();
      for (const s of w.served) {
        if (s.localPort !== undefined || reported.has(s.key)) continue;
        reported.add(s.key);
        report(mesh.doc, [...w.path, 'ports'], 'missing-field',
          `workload "${w.name}" has no local port for container port "${s.key}" (targetPort of port ${s.port.port} of service ${s.service.name}): add \`"${s.key}": <port>\` to its ports`, { part: 'key' });
      }
    }
  },
};
