/**
 * Which faults touch an edge, for the topology: runtime faults in the
 * snapshot (`devmesh fault`, POST /api/faults) narrowed by service, workload
 * and caller, and VirtualService rules with a `fault` for the edge's service
 * (which of a VirtualService's rules a request matched is not known here, so
 * a rule's fault is listed for every edge to that service). Pure.
 */
import type { MeshSnapshot } from '../../protocol';
import { parseDuration } from '../../policy/duration';
import { qualifyHost } from '../../policy/hosts';
import type { ActiveFaultRef } from '../api/contract';

export function faultsOnEdge(snapshot: MeshSnapshot, edge: { source: string; sourceService?: string; destination?: string; service: string }, now = Date.now()): ActiveFaultRef[] {
  const out: ActiveFaultRef[] = [];
  const ns = snapshot.namespace;
  // The service is named short, in the namespace of the workload that answered (else the Mesh's).
  const callee = snapshot.workloads.find((w) => w.name === edge.destination);
  const fqdn = qualifyHost(edge.service, callee?.namespace ?? ns);
  for (const f of snapshot.faults ?? []) {
    if (f.expiresAt !== undefined && f.expiresAt <= now) continue;
    if ((f.host ?? qualifyHost(f.service, ns)) !== fqdn) continue;
    if (f.workload && edge.destination && f.workload !== edge.destination) continue;
    if (f.source && f.source !== edge.source && f.source !== edge.sourceService) continue;
    if (f.delay) out.push({ id: f.id, kind: 'delay', source: 'runtime', percentage: f.delay.percentage, fixedDelayMs: f.delay.fixedDelayMs });
    if (f.abort) out.push({ id: f.id, kind: 'abort', source: 'runtime', percentage: f.abort.percentage, httpStatus: f.abort.httpStatus });
    if (f.tcp) out.push({ id: f.id, kind: 'tcp', source: 'runtime' });
  }
  for (const vs of snapshot.virtualServices) {
    const vsNs = vs.metadata.namespace ?? ns;
    if (!(vs.spec.hosts ?? []).some((h) => qualifyHost(h, vsNs) === fqdn)) continue;
    (vs.spec.http ?? []).forEach((rule, i) => {
      const src = `VirtualService ${vsNs}/${vs.metadata.name}`;
      const id = `${vsNs}/${vs.metadata.name}#http[${i}]`;
      const d = rule.fault?.delay;
      if (d) out.push({ id, kind: 'delay', source: src, percentage: d.percentage?.value ?? d.percent, fixedDelayMs: d.fixedDelay ? parseDuration(d.fixedDelay) : undefined });
      const a = rule.fault?.abort;
      if (a) out.push({ id, kind: 'abort', source: src, percentage: a.percentage?.value, httpStatus: a.httpStatus });
    });
  }
  return out;
}
