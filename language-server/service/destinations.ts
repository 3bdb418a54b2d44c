/**
 * The route destination under the cursor — a VirtualService destination's
 * host or subset (route, mirror), an HTTPRoute/GRPCRoute backendRef's name —
 * as the host, port and subset it names and the workloads it selects in the
 * Mesh file. The extension's hover adds what the running mesh says about
 * those workloads now (health, ejections); this part needs no mesh.
 */
import type { Range as LspRange } from 'vscode-languageserver';
import type { SourceFile, WorkspaceIndex } from '../../simulator/policy';
import { isRouteKind } from '../../simulator/policy/gateway-api/status';
import { targetAt } from './hover';
import { fqdnIn, serviceByFqdn, subsetsOf, subsetWorkloads } from './mesh-facts';
import { toLspRange } from './positions';
import { valueAt } from './values';

export interface DestinationInfo {
  /** The FQDN the destination resolves to. */
  host: string;
  port?: number;
  subset?: string;
  /** The Mesh service behind the host; absent when the host is not one. */
  service?: string;
  /** The workloads it selects (the subset's, else the service's); empty when it selects none. */
  workloads: string[];
  /** Why it selects nothing, when it does not (unknown host or subset). */
  problem?: string;
  /** The name under the cursor. */
  range: LspRange;
}

export function destinationAt(index: WorkspaceIndex, source: SourceFile, offset: number): DestinationInfo | undefined {
  const t = targetAt(source, offset);
  if (!t?.doc || t.onKey || t.value === undefined || !t.range) return undefined;
  const p = t.path;
  const leaf = p[p.length - 1];
  const holder = p.slice(0, -1);
  let host: unknown, subset: unknown, port: unknown;
  if (t.kind === 'VirtualService' && holder[holder.length - 1] === 'destination' && (leaf === 'host' || leaf === 'subset')) {
    host = valueAt(t.doc.value, [...holder, 'host']);
    subset = valueAt(t.doc.value, [...holder, 'subset']);
    port = valueAt(t.doc.value, [...holder, 'port', 'number']);
  } else if (isRouteKind(t.kind) && holder[holder.length - 2] === 'backendRefs' && leaf === 'name') {
    const kind = valueAt(t.doc.value, [...holder, 'kind']);
    if (kind !== undefined && kind !== 'Service') return undefined;
    const ns = valueAt(t.doc.value, [...holder, 'namespace']);
    host = `${t.value}.${typeof ns === 'string' ? ns : index.namespaceOf(t.doc)}`;
    port = valueAt(t.doc.value, [...holder, 'port']);
  } else {
    return undefined;
  }
  if (typeof host !== 'string') return undefined;
  const fqdn = fqdnIn(index, host, t.namespace);
  const info: DestinationInfo = { host: fqdn, workloads: [], range: toLspRange(source, t.range) };
  if (typeof port === 'number') info.port = port;
  if (typeof subset === 'string') info.subset = subset;
  const service = serviceByFqdn(index, fqdn);
  if (!service) return { ...info, problem: `${fqdn} is not a service of the Mesh` };
  info.service = service.name;
  if (info.subset === undefined) return { ...info, workloads: service.workloads.map((w) => w.name) };
  const fact = subsetsOf(index, fqdn).find((s) => s.name === info.subset);
  if (!fact) return { ...info, problem: `no DestinationRule defines subset ${info.subset} of ${fqdn}` };
  const workloads = subsetWorkloads(index, service, fact).map((w) => w.name);
  return workloads.length ? { ...info, workloads } : { ...info, workloads, problem: `subset ${info.subset} selects no workload of ${service.name}` };
}
