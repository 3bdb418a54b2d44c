/**
 * The snapshot `devmesh up` would push for a Mesh and its resolved policies,
 * with no ports assigned (ports do not change a decision): what the walk
 * runs over, for the CLI (files on disk) and the language server (the
 * editor's buffers, unsaved edits included).
 */
import { buildSnapshot } from '../control/snapshot';
import type { IstioKind, Resource } from '../policy/model';
import { meshInventory } from '../policy/mesh-inventory';
import type { MeshSnapshot } from '../protocol';
import type { TlsSecret } from '../policy/gateway-api/secrets';

export function explainSnapshot(mesh: Resource<'Mesh'>, resources: Resource<IstioKind>[], secrets?: ReadonlyMap<string, TlsSecret>): MeshSnapshot {
  const none = { inboundPort: 0, outboundPort: 0, adminPort: 0 };
  const workloads = Object.fromEntries(meshInventory(mesh.spec).workloads.map((w) => [w.name, none]));
  return buildSnapshot(mesh, resources, { workloads, ingress: { port: 0, adminPort: 0 } }, 1, secrets);
}
