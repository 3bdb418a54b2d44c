/**
 * The endpoints of a routed call and, for those outside the mesh, the
 * address and port to connect to. A mesh service's endpoints are its
 * workloads (reached through their sidecars); a ServiceEntry host's are its
 * endpoints (and the Mesh workloads its workloadSelector picks); a host of
 * resolution NONE, and the PassthroughCluster, have one: where the caller
 * sent the call (Envoy's ORIGINAL_DST). Pure.
 */
import { externalPort } from '../../policy/service-entries';
import type { Endpoint } from '../../protocol';
import type { ForwardPlan } from './plan';
import { portsOf } from './servicePorts';
import type { MeshTables } from '../tables';

export function endpointsOf(t: MeshTables, plan: Pick<ForwardPlan, 'service' | 'host' | 'port' | 'target'>): Endpoint[] {
  if (plan.service.entry?.resolution === 'NONE') {
    const target = plan.target ?? { host: plan.host, port: plan.port };
    return [originalDestination(plan.service.fqdn, plan.service.namespace, target)];
  }
  return t.workloadsByService.get(plan.host) ?? [];
}

function originalDestination(service: string, namespace: string, target: { host: string; port: number }): Endpoint {
  return {
    name: `${target.host}:${target.port}`, service, namespace, labels: {}, serviceAccount: '', spiffeId: '', appPort: 0,
    sidecar: { inboundPort: 0, outboundPort: 0, adminPort: 0 },
    external: { address: target.host, ports: { '*': target.port } },
  };
}

/** Where to connect for an endpoint outside the mesh, for the service port the plan chose. */
export function externalTarget(ep: Endpoint, plan: Pick<ForwardPlan, 'service' | 'port'>): { host: string; port: number } {
  const ext = ep.external!;
  if (ext.ports['*'] !== undefined) return { host: ext.address, port: ext.ports['*'] };
  const sp = portsOf(plan.service).find((p) => p.port === plan.port) ?? portsOf(plan.service)[0];
  return { host: ext.address, port: externalPort(ep, sp) };
}
