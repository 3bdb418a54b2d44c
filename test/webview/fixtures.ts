import type { Topology } from '../../webview/topology';

/** A topology shaped as `GET /api/topology` serves it, with the live edges the observability work adds. */
export function bookinfo(edges: Topology['edges'] = []): Topology {
  const wl = (name: string, service: string, version: string, extra: Record<string, unknown> = {}) => ({
    name, service, namespace: 'default', labels: { app: service, version }, serviceAccount: `bookinfo-${service}`,
    spiffeId: `spiffe://cluster.local/ns/default/sa/bookinfo-${service}`, appPort: 9180,
    sidecar: { inboundPort: 15100, outboundPort: 15101, adminPort: 15102 }, managed: true,
    pids: { sidecar: 1, app: 2 }, health: { sidecar: 'up' as const, app: 'up' as const }, restarts: { sidecar: 0, app: 0 }, configVersion: 1, ...extra,
  });
  return {
    mesh: 'bookinfo', version: 1, ready: true, trustDomain: 'cluster.local', namespace: 'default',
    services: [
      { name: 'productpage', workloads: ['productpage-v1'] },
      { name: 'details', workloads: ['details-v1'] },
      { name: 'reviews', workloads: ['reviews-v1', 'reviews-v2', 'reviews-v3'] },
      { name: 'ratings', workloads: ['ratings-v1'] },
    ],
    workloads: [
      wl('productpage-v1', 'productpage', 'v1'), wl('details-v1', 'details', 'v1'),
      wl('reviews-v3', 'reviews', 'v3'), wl('reviews-v1', 'reviews', 'v1'), wl('reviews-v2', 'reviews', 'v2'),
      wl('ratings-v1', 'ratings', 'v1'),
    ],
    ingress: { name: 'istio-ingressgateway', port: 15080, spiffeId: 'spiffe://cluster.local/ns/default/sa/istio-ingressgateway', health: 'up', restarts: 0 },
    edges,
  };
}

/**
 * Bookinfo over two namespaces, as the multi-namespace demo runs it:
 * productpage in `front`, the rest in `default`; reviews has a second port.
 */
export function bookinfoSplit(edges: Topology['edges'] = []): Topology {
  const t = bookinfo(edges);
  t.services = [
    { name: 'productpage', namespace: 'front', workloads: ['productpage-v1'] },
    { name: 'details', namespace: 'default', workloads: ['details-v1'] },
    { name: 'reviews', namespace: 'default', ports: [{ name: 'http', port: 9080, protocol: 'http' }, { name: 'http-admin', port: 9081, protocol: 'http' }], workloads: ['reviews-v1', 'reviews-v2', 'reviews-v3'] },
    { name: 'ratings', namespace: 'default', workloads: ['ratings-v1'] },
  ];
  t.workloads = t.workloads.map((w) => (w.service === 'productpage' ? { ...w, namespace: 'front' } : w));
  return t;
}

/** Traffic through all of Bookinfo: ingress -> productpage -> reviews v1-v3 and details; reviews v2, v3 -> ratings. */
export const BOOKINFO_FLOWS: NonNullable<Topology['edges']> = [
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
  const t: Topology = { namespace: 'shop', services: [], workloads: [], ingress: { name: 'istio-ingressgateway' }, edges: [] };
  const levels: string[][] = [['istio-ingressgateway']];
  for (let i = 0; i < services; i++) {
    const name = `svc${i}`, namespace = namespaces[Math.floor(rnd() * namespaces.length)];
    const versions = 1 + Math.floor(rnd() * 3);
    const ports = rnd() < 0.2 ? [{ name: 'http', port: 8080 }, { name: 'grpc', port: 9090 }] : undefined;
    t.services.push({ name, namespace, ports, workloads: [] });
    for (let v = 1; v <= versions; v++) t.workloads.push({ name: `${name}-v${v}`, service: name, namespace, labels: { version: `v${v}` } });
    if (rnd() < 0.2) continue;
    const level = 1 + Math.floor(rnd() * 4);
    while (levels.length <= level) levels.push([]);
    levels[level].push(`${name}-v${1 + Math.floor(rnd() * versions)}`);
  }
  for (let l = 1; l < levels.length; l++) {
    for (const callee of levels[l]) {
      const callers = levels.slice(0, l).reverse().find((xs) => xs.length)!;
      t.edges!.push({ source: callers[Math.floor(rnd() * callers.length)], destination: callee, requestsPerSecond: 1 });
    }
  }
  return t;
}
