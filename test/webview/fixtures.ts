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
