import type { Topology, TopologyService, TopologyServicePort, TopologyWorkload, WorkloadEdge } from '../../simulator/control/api/contract';

/** What a test says of an edge: its ends, and whatever else it cares about. */
export type EdgeSpec = Partial<Omit<WorkloadEdge, 'latencyMs'>> & Pick<WorkloadEdge, 'source' | 'destination'> & { latencyMs?: { p50: number; p95?: number; p99: number } | null };

/** A live edge as the control plane serves it; tests give what they care about. */
export function edge(e: EdgeSpec): WorkloadEdge {
  return {
    id: `${e.source}->${e.destination}`, service: e.destination.replace(/-v\d+$/, ''), requests: 0, errors: 0, requestsPerSecond: 0, errorRate: 0,
    mtlsShare: 0, lastSeen: 0, protocols: ['http'], activeFaults: [], ejectedEndpoints: [], routedBy: [], ...e,
    latencyMs: e.latencyMs ? { p95: e.latencyMs.p99, ...e.latencyMs } : null,
  };
}

/** A workload as the topology lists it, up and running, with made-up ports and pids. */
export function workload(name: string, service: string, namespace = 'default', version = 'v1'): TopologyWorkload {
  return {
    name, service, namespace, labels: { app: service, version }, serviceAccount: `bookinfo-${service}`,
    spiffeId: `spiffe://cluster.local/ns/${namespace}/sa/bookinfo-${service}`, appPort: 9180,
    sidecar: { inboundPort: 15100, outboundPort: 15101, adminPort: 15102 }, managed: true,
    pids: { sidecar: 1, app: 2 }, health: { sidecar: 'up', app: 'up' }, restarts: { sidecar: 0, app: 0 }, configVersion: 1,
  };
}

/** A service as the topology lists it; `ports` for a service with several. */
export function service(name: string, namespace: string, workloads: string[], ports?: TopologyServicePort[]): TopologyService {
  const all = ports ?? [{ port: 9080, protocol: 'http' }];
  return { name, namespace, fqdn: `${name}.${namespace}.svc.cluster.local`, port: all[0].port, protocol: all[0].protocol ?? 'http', ports: all, workloads };
}

/** A topology shaped as `GET /api/topology` serves it, with live edges. */
export function bookinfo(edges: EdgeSpec[] = []): Topology {
  return {
    mesh: 'bookinfo', version: 1, ready: true, trustDomain: 'cluster.local', namespace: 'default', generatedAt: 0, windowSeconds: 30,
    services: [
      service('productpage', 'default', ['productpage-v1']),
      service('details', 'default', ['details-v1']),
      service('reviews', 'default', ['reviews-v1', 'reviews-v2', 'reviews-v3']),
      service('ratings', 'default', ['ratings-v1']),
    ],
    workloads: [
      workload('productpage-v1', 'productpage'), workload('details-v1', 'details'),
      workload('reviews-v3', 'reviews', 'default', 'v3'), workload('reviews-v1', 'reviews'), workload('reviews-v2', 'reviews', 'default', 'v2'),
      workload('ratings-v1', 'ratings'),
    ],
    ingress: {
      name: 'istio-ingressgateway', port: 15080, adminPort: 15081, serviceAccount: 'istio-ingressgateway-service-account', labels: { istio: 'ingressgateway' },
      spiffeId: 'spiffe://cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account', pid: 1, health: 'up', restarts: 0,
    },
    edges: edges.map(edge), serviceEdges: [], faults: [], outliers: [],
  };
}

/**
 * Bookinfo over two namespaces, as the multi-namespace demo runs it:
 * productpage in `front`, the rest in `default`; reviews has a second port.
 */
export function bookinfoSplit(edges: EdgeSpec[] = []): Topology {
  const t = bookinfo(edges);
  t.services = [
    service('productpage', 'front', ['productpage-v1']),
    service('details', 'default', ['details-v1']),
    service('reviews', 'default', ['reviews-v1', 'reviews-v2', 'reviews-v3'], [{ name: 'http', port: 9080, protocol: 'http' }, { name: 'http-admin', port: 9081, protocol: 'http' }]),
    service('ratings', 'default', ['ratings-v1']),
  ];
  t.workloads = t.workloads.map((w) => (w.service === 'productpage' ? { ...w, namespace: 'front' } : w));
  return t;
}

/** Traffic through all of Bookinfo: ingress -> productpage -> reviews v1-v3 and details; reviews v2, v3 -> ratings. */
export const BOOKINFO_FLOWS: EdgeSpec[] = [
  { source: 'istio-ingressgateway', destination: 'productpage-v1', requestsPerSecond: 10 },
  { source: 'productpage-v1', destination: 'details-v1', requestsPerSecond: 10 },
  { source: 'productpage-v1', destination: 'reviews-v1', requestsPerSecond: 3 },
  { source: 'productpage-v1', destination: 'reviews-v2', requestsPerSecond: 3 },
  { source: 'productpage-v1', destination: 'reviews-v3', requestsPerSecond: 4 },
  { source: 'reviews-v2', destination: 'ratings-v1', requestsPerSecond: 3 },
  { source: 'reviews-v3', destination: 'ratings-v1', requestsPerSecond: 4 },
];

/**
 * A seeded mesh of `services` services (1-3 versions each, a fifth with two
 * ports) over up to four namespaces, a call graph in layers from the
 * ingress, about a fifth of the services idle. For the layout's property
 * tests and its benchmark.
 */
export function randomMesh(services: number, seed: number): Topology {
  let s = seed;
  const rnd = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
  const namespaces = ['shop', 'payments', 'identity', 'data'].slice(0, Math.max(1, Math.round(services / 15)));
  const t: Topology = { ...bookinfo(), mesh: 'random', namespace: 'shop', services: [], workloads: [] };
  const levels: string[][] = [['istio-ingressgateway']];
  for (let i = 0; i < services; i++) {
    const name = `svc${i}`, namespace = namespaces[Math.floor(rnd() * namespaces.length)];
    const versions = 1 + Math.floor(rnd() * 3);
    const ports = rnd() < 0.2 ? [{ name: 'http', port: 8080 }, { name: 'grpc', port: 9090 }] : undefined;
    t.services.push(service(name, namespace, [], ports));
    for (let v = 1; v <= versions; v++) t.workloads.push(workload(`${name}-v${v}`, name, namespace, `v${v}`));
    if (rnd() < 0.2) continue;
    const level = 1 + Math.floor(rnd() * 4);
    while (levels.length <= level) levels.push([]);
    levels[level].push(`${name}-v${1 + Math.floor(rnd() * versions)}`);
  }
  for (let l = 1; l < levels.length; l++) {
    for (const callee of levels[l]) {
      const callers = levels.slice(0, l).reverse().find((xs) => xs.length)!;
      t.edges.push(edge({ source: callers[Math.floor(rnd() * callers.length)], destination: callee, requestsPerSecond: 1 }));
    }
  }
  return t;
}
