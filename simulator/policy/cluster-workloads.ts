/**
 * Every workload the workspace knows of on the cluster, and the ports the
 * Kubernetes Services in front of each expose: Istio's default ingress
 * gateway (which devmesh's own ingress plays locally, and which `istioctl
 * analyze` assumes too), the pods and pod templates of the workspace's
 * Kubernetes objects, and the Mesh's workloads. Gateway selectors and policy
 * selectors are matched against these; locally devmesh's one ingress serves
 * every Gateway whatever its selector. Pure: the index in, views out,
 * computed once per index.
 */
import { INGRESS_GATEWAY, type GatewaySpec } from './model';
import { EGRESS_GATEWAY, selectsEgressGateway } from './egress-gateway';
import { obj } from './plain';
import type { MeshView, WorkspaceIndex } from './workspace-index';

/** Istio's ingress gateway as a default install has it (and as `istioctl analyze` adds it to files it reads). */
export const DEFAULT_INGRESS_GATEWAY = {
  name: 'istio-ingressgateway',
  namespace: INGRESS_GATEWAY.namespace,
  labels: INGRESS_GATEWAY.labels,
  /** Service port -> container port: the analyzer's default (80, 443, 31400, 15443), and today's install (80 -> 8080, 443 -> 8443). */
  ports: [[80, 80], [443, 443], [31400, 31400], [15443, 15443], [80, 8080], [443, 8443]] as const,
};

export interface ClusterWorkload {
  /** `Kind name` as shown in messages, e.g. `Pod my-ingressgateway-1234`. */
  title: string;
  namespace: string;
  labels: Record<string, string>;
  /**
   * Ports a Gateway server may listen on to be reachable through a Service in
   * front of the workload: each Service port's container port, and the Service port itself.
   */
  exposed: Set<number>;
}

export interface ClusterWorkloads {
  all: ClusterWorkload[];
  /** Everything above as one string, for rules that remember their findings (see rules/rule.ts). */
  facts: string;
}

const cache = new WeakMap<WorkspaceIndex, ClusterWorkloads>();

export function clusterWorkloads(index: WorkspaceIndex): ClusterWorkloads {
  let found = cache.get(index);
  if (found) return found;
  const all: ClusterWorkload[] = [{
    title: `Istio's ingress gateway (${DEFAULT_INGRESS_GATEWAY.namespace}/${DEFAULT_INGRESS_GATEWAY.name})`,
    namespace: DEFAULT_INGRESS_GATEWAY.namespace,
    labels: DEFAULT_INGRESS_GATEWAY.labels,
    exposed: new Set(DEFAULT_INGRESS_GATEWAY.ports.flat()),
  }];
  // The egress gateway devmesh runs when a Gateway selects it (egress-gateway.ts), as Istio's demo install has it.
  if (index.docs.some((d) => d.kind === 'Gateway' && selectsEgressGateway(obj(d.value).spec as GatewaySpec))) {
    all.push({
      title: `Istio's egress gateway (${EGRESS_GATEWAY.namespace}/${EGRESS_GATEWAY.name})`,
      namespace: EGRESS_GATEWAY.namespace,
      labels: EGRESS_GATEWAY.labels,
      exposed: new Set(EGRESS_GATEWAY.ports.flatMap((p) => [p.port, p.targetPort])),
    });
  }
  const cluster = index.cluster;
  for (const pod of cluster.pods) {
    const exposed = new Set<number>();
    // The default install's ingress Service selects every `istio: ingressgateway` pod of istio-system.
    if (pod.namespace === DEFAULT_INGRESS_GATEWAY.namespace && pod.labels.istio === DEFAULT_INGRESS_GATEWAY.labels.istio) {
      for (const p of DEFAULT_INGRESS_GATEWAY.ports.flat()) exposed.add(p);
    }
    for (const svc of cluster.services) {
      if (svc.namespace !== pod.namespace || !svc.selector || !selects(svc.selector, pod.labels)) continue;
      for (const p of svc.ports) {
        if (p.protocol.toUpperCase() !== 'TCP') continue;
        exposed.add(p.port);
        if (typeof p.targetPort === 'number') exposed.add(p.targetPort);
      }
    }
    all.push({ title: `${pod.kind} ${pod.name}`, namespace: pod.namespace, labels: pod.labels, exposed });
  }
  const mesh = index.mesh ? meshWorkloads(index.mesh) : { all: [], facts: '' };
  all.push(...mesh.all);
  found = { all, facts: `${JSON.stringify(all.slice(0, all.length - mesh.all.length).map((w) => [w.title, w.namespace, w.labels, [...w.exposed]]))}\n${mesh.facts}` };
  cache.set(index, found);
  return found;
}

// A Mesh's workloads as gateway workloads depend on the Mesh document alone.
const meshCache = new WeakMap<MeshView, ClusterWorkloads>();

function meshWorkloads(mesh: MeshView): ClusterWorkloads {
  let found = meshCache.get(mesh);
  if (!found) {
    const ports = new Map(mesh.services.map((s) => [`${s.namespace}/${s.name}`, s.port]));
    const all = mesh.workloads.map((w): ClusterWorkload => {
      const port = ports.get(`${w.namespace}/${w.service}`);
      return { title: `workload ${w.name}`, namespace: w.namespace, labels: w.labels, exposed: new Set(port === undefined ? [] : [port]) };
    });
    meshCache.set(mesh, (found = { all, facts: mesh.facts }));
  }
  return found;
}

/** Whether labels include every label of a selector (an empty selector selects everything, as Kubernetes reads it). */
export function selects(selector: Record<string, unknown>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === String(v));
}
