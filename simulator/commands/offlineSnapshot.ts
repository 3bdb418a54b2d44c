/**
 * The snapshot `devmesh up` would push, built without running anything: the
 * Mesh and its policies read as `up` reads them, with no sidecar ports
 * assigned (ports decide nothing) but the ingress's own port, so a command
 * can print the URL the ingress would serve. Policies with errors are
 * printed as `validate` prints them and refused.
 */
import type { MeshSnapshot } from '../protocol';

export class PolicyErrors extends Error {}

export async function offlineSnapshot(meshFile: string): Promise<MeshSnapshot> {
  const { IncrementalMeshLoader, hasErrors } = await import('../control/load');
  const { formatDiagnostic } = await import('../diagnostics-format');
  const ws = await new IncrementalMeshLoader(meshFile).load();
  if (hasErrors(ws.diagnostics)) {
    const lines = ws.diagnostics.filter((d) => d.severity === 'error').map((d) => formatDiagnostic(d));
    throw new PolicyErrors(`${lines.join('\n')}\nthe policies have errors (fix them first; devmesh validate lists them all)`);
  }
  const { buildSnapshot, resolvedMeshSettings } = await import('../control/snapshot');
  const { meshInventory } = await import('../policy/mesh-inventory');
  const none = { inboundPort: 0, outboundPort: 0, adminPort: 0 };
  const workloads = Object.fromEntries(meshInventory(ws.mesh.spec).workloads.map((w) => [w.name, none]));
  return buildSnapshot(ws.mesh, ws.resources, { workloads, ingress: { port: resolvedMeshSettings(ws.mesh.spec).ingressPort, adminPort: 0 } }, 1, ws.gatewayApi.secrets);
}
