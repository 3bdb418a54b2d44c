import { MESH_DEFAULTS } from '../model';
import type { Path } from '../source';
import type { WorkspaceRule } from './rule';
import { num, obj } from '../workspace-index';
import { valueAt } from '../plain';

/** Every port devmesh binds on 127.0.0.1 must be distinct (a workload may serve several container ports on one local port): control API, ingress, apps, pinned sidecar listeners and local upstream ports. */
export const meshPorts: WorkspaceRule = {
  codes: ['port-collision'],
  reads: ['Mesh'],
  check(index, report) {
    const mesh = index.mesh;
    if (!mesh) return;
    const spec = obj(mesh.doc.value.spec);
    const owners = new Map<number, string>();
    const claim = (port: number | undefined, owner: string, path: Path, explicit: boolean) => {
      if (port === undefined) return;
      const first = owners.get(port);
      if (first === undefined) {
        owners.set(port, owner);
      } else if (explicit && first !== owner) {
        report(mesh.doc, path, 'port-collision', `port ${port} of ${owner} is already used by ${first}; choose another port`);
      }
    };
    claim(num(spec.controlPort) ?? MESH_DEFAULTS.controlPort, 'the control API', ['spec', 'controlPort'], spec.controlPort !== undefined);
    claim(num(obj(spec.ingress).port) ?? MESH_DEFAULTS.ingressPort, 'the ingress', ['spec', 'ingress', 'port'], obj(spec.ingress).port !== undefined);
    for (const w of mesh.workloads) {
      if (w.ports) for (const [key, p] of Object.entries(w.ports)) claim(p, `workload ${w.name}`, [...w.path, 'ports', key], true);
      else claim(w.port, `workload ${w.name}`, [...w.path, 'port'], true);
      const sidecar = obj(valueAt(mesh.doc.value, [...w.path, 'sidecar']));
      for (const key of ['inboundPort', 'outboundPort', 'adminPort'] as const) {
        claim(num(sidecar[key]), `the ${key.replace('Port', '')} listener of ${w.name}'s sidecar`, [...w.path, 'sidecar', key], true);
      }
      w.upstreams.forEach((u, i) => claim(u.localPort, `upstream ${i + 1} (to ${u.service ?? '?'}) of ${w.name}'s sidecar`, [...u.path, 'localPort'], true));
    }
  },
};
