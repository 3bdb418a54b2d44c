/**
 * A call to a host no registry entry of this proxy names (no mesh service,
 * no ServiceEntry, or one its Sidecar resource leaves out), decided as
 * Istio's outbound traffic policy does (meshConfig.outboundTrafficPolicy,
 * Sidecar.outboundTrafficPolicy; pilot's `allow_any` and `block_all`
 * virtual hosts):
 *
 * - a name that can only be a mesh name (one label, `*.svc`,
 *   `*.cluster.local`, `name.<a namespace of the mesh>`) is no route (502 NR)
 *   with the names this proxy knows: no DNS outside the cluster would answer it;
 * - ALLOW_ANY (the default) sends it to the PassthroughCluster: straight to
 *   the host and port the caller named, no mesh policy on the way;
 * - REGISTRY_ONLY answers 502 from the BlackHoleCluster.
 *
 * Pure; the CONNECT path asks the same question (`outsideRegistryFor`).
 */
import { stripPort } from '../../policy/hosts';
import type { ServiceInfo } from '../../protocol';
import { ProxyError } from '../errors';
import { knownServices, type MeshTables } from '../tables';
import type { RequestAttributes } from './match';
import { forwardTo, queryString, targetOf, type RoutePlan } from './plan';

export const PASSTHROUGH_CLUSTER = 'PassthroughCluster';
export const BLACKHOLE_CLUSTER = 'BlackHoleCluster';

export type OutsideRegistry =
  | { kind: 'unknown-mesh-name'; host: string }
  | { kind: 'blackhole'; host: string; source: string }
  | { kind: 'passthrough'; host: string };

/** What this proxy does with a connection or request to `host`, which its registry does not name. */
export function outsideRegistryFor(t: MeshTables, host: string): OutsideRegistry {
  const h = host.toLowerCase();
  if (looksLikeMeshName(h) || namespaceOfMesh(t, h)) return { kind: 'unknown-mesh-name', host: h };
  if (t.outbound.mode === 'REGISTRY_ONLY') return { kind: 'blackhole', host: h, source: t.outbound.source };
  return { kind: 'passthrough', host: h };
}

/** A single label, or a Kubernetes service name (`*.svc`, `*.svc.cluster.local`): a mesh name, never the internet. */
export function looksLikeMeshName(host: string): boolean {
  return !host.startsWith('[') && !/^\d+\.\d+\.\d+\.\d+$/.test(host) && (!host.includes('.') || /\.svc(\.|$)/.test(host) || host.endsWith('.cluster.local'));
}

/** `name.namespace` where the namespace is one of the mesh's: the Kubernetes search path's short form, not a host on the internet. */
function namespaceOfMesh(t: MeshTables, host: string): boolean {
  const parts = host.split('.');
  return parts.length === 2 && t.snapshot.services.some((s) => s.namespace === parts[1]);
}

/** The plan of an HTTP request to a host outside the registry. */
export function outsideRegistry(t: MeshTables, a: RequestAttributes): RoutePlan {
  const host = stripPort(a.authority);
  const decision = outsideRegistryFor(t, host);
  switch (decision.kind) {
    case 'unknown-mesh-name': {
      const where = host.includes('.') ? '' : ` in namespace ${t.hostNamespace} (short names resolve in the caller's namespace; write name.namespace for another)`;
      const scoped = t.sidecarResource ? ` (Sidecar ${t.sidecarResource} limits the hosts this workload knows)` : '';
      return { kind: 'error', error: new ProxyError(502, 'NR', 'unknown-host', `devmesh: no service named "${host}"${where} in mesh ${t.snapshot.meshName}${scoped}; known services: ${knownServices(t)}\n`) };
    }
    case 'blackhole':
      // pilot's block_all route: a direct 502, no upstream, no response flag.
      return {
        kind: 'error', cluster: BLACKHOLE_CLUSTER, routeName: 'block_all',
        error: new ProxyError(502, undefined, 'registry-only', `devmesh: ${host} is not in the service registry and the outbound traffic policy is REGISTRY_ONLY (${decision.source}); declare it with a ServiceEntry\n`),
      };
    case 'passthrough': {
      const port = a.port || 80;
      return forwardTo(passthroughService(port), undefined, port, a.path + queryString(a.query), a.authority, [], [], undefined, 'allow_any', undefined, targetOf(a.authority, port));
    }
  }
}

/** Istio's PassthroughCluster as a service of resolution NONE: the call goes where the caller sent it. */
export function passthroughService(port: number): ServiceInfo {
  return {
    name: PASSTHROUGH_CLUSTER, namespace: '', fqdn: PASSTHROUGH_CLUSTER, port, protocol: 'http',
    ports: [{ name: 'http', port, targetPort: port, protocol: 'http' }], workloads: [],
    entry: { source: '', location: 'MESH_EXTERNAL', resolution: 'NONE', addresses: [] },
  };
}

export function isPassthrough(s: ServiceInfo | undefined): boolean {
  return s?.fqdn === PASSTHROUGH_CLUSTER;
}

