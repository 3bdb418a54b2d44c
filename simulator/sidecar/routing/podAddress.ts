/**
 * A call to a workload's own address — `127.0.0.1:<the local port its app
 * listens on>`, what a pod IP and container port are in Kubernetes — goes to
 * that workload through its sidecar, and no route of any service applies to
 * it (Istio sends pod-IP traffic to the pod as addressed; the Gateway API's
 * MeshFrontend conformance test checks that routes of the pod's Service do
 * not). Pure.
 */
import { authorityPort, stripPort } from '../../policy/hosts';
import type { ServiceInfo } from '../../protocol';
import type { MeshTables } from '../tables';
import { localPortOf, portsOf } from './servicePorts';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** The workload listening at this authority, with a service port of a Service that selects it and lands on that port. */
export function workloadAtAddress(t: MeshTables, authority: string): { workload: string; service: ServiceInfo; port: number } | undefined {
  const port = authorityPort(authority);
  if (port === undefined || !LOOPBACK.has(stripPort(authority).toLowerCase())) return undefined;
  for (const w of t.snapshot.workloads) {
    const services = t.snapshot.services.filter((s) => s.workloads.includes(w.name)).sort((a, b) => Number(b.name === w.service) - Number(a.name === w.service));
    for (const s of services) {
      const p = portsOf(s).find((sp) => localPortOf(w, String(sp.targetPort)) === port);
      if (p) return { workload: w.name, service: s, port: p.port };
    }
  }
  return undefined;
}
