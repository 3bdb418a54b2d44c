import { upstreamVariable } from '../mesh-inventory';
import type { WorkspaceRule } from './rule';

/**
 * A workload's local upstream ports must each lead somewhere: a service of
 * the Mesh (named as a caller in the workload's namespace names it), and one
 * of its ports (required when it has several); two upstreams may not give
 * the app the same DEVMESH_UPSTREAM_* variable. Colliding local ports are
 * mesh-ports' finding.
 */
export const workloadUpstreams: WorkspaceRule = {
  codes: ['unknown-host', 'unknown-port', 'destination-port-required', 'duplicate-name'],
  reads: ['Mesh'],
  check(index, report) {
    const mesh = index.mesh;
    if (!mesh) return;
    for (const w of mesh.workloads) {
      const variables = new Map<string, string>();
      for (const u of w.upstreams) {
        if (u.service === undefined) continue;
        const s = u.target;
        if (!s) {
          const names = mesh.services.map((x) => (x.namespace === w.namespace ? x.name : `${x.name}.${x.namespace}`)).join(', ');
          report(mesh.doc, [...u.path, 'service'], 'unknown-host', `upstream of workload "${w.name}" names no service: "${u.service}" is not a service a caller in namespace "${w.namespace}" can reach; use one of ${names || '(none)'}`);
          continue;
        }
        const ports = s.ports.map((p) => `${p.port} (${p.protocol})`).join(', ');
        if (u.port !== undefined && !u.targetPort) {
          report(mesh.doc, [...u.path, 'port'], 'unknown-port', `service ${s.name} has no port ${u.port}; it has ${ports}`);
          continue;
        }
        if (!u.targetPort) {
          report(mesh.doc, [...u.path, 'service'], 'destination-port-required', `service ${s.name} has several ports (${ports}): say which one this upstream reaches with \`port:\``);
          continue;
        }
        const variable = upstreamVariable(s.name, u.targetPort.port);
        const first = variables.get(variable);
        if (first !== undefined) {
          report(mesh.doc, [...u.path, 'service'], 'duplicate-name', `this upstream gives the app ${variable} again (already for ${first}); list each service port once per workload`);
        } else variables.set(variable, `${s.name}.${s.namespace}:${u.targetPort.port}`);
      }
    }
  },
};
