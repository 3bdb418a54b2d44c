import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import type { Topology as ControlTopology, TopologyEdges } from '../../simulator/control/topology-types';
import type { Topology } from '../../webview/topology';
import { buildGraph } from '../../webview/model';

// Compile-time: what GET /api/topology serves is what the page reads. A change on
// either side that breaks the other fails the type check, not a user's screen.
const asPage = (t: ControlTopology): Topology => t;
const edgesOf = (e: TopologyEdges): Topology['edges'] => e.edges;

test('a topology typed by the control plane goes through the graph model', () => {
  const t: ControlTopology = {
    mesh: 'm', version: 1, ready: true, trustDomain: 'cluster.local', namespace: 'default', generatedAt: 0, windowSeconds: 30,
    services: [{ name: 'a', namespace: 'default', fqdn: 'a.default.svc.cluster.local', port: 9080, protocol: 'http', workloads: ['a-v1'] }],
    workloads: [{ name: 'a-v1', service: 'a', namespace: 'default', labels: { version: 'v1' }, serviceAccount: 'a', spiffeId: 'spiffe://cluster.local/ns/default/sa/a',
      appPort: 1, sidecar: { inboundPort: 2, outboundPort: 3, adminPort: 4 }, managed: true, pids: { sidecar: 1, app: 2 }, health: { sidecar: 'up', app: 'up' }, restarts: { sidecar: 0, app: 0 }, configVersion: 1 }],
    ingress: { name: 'istio-ingressgateway', port: 5, adminPort: 6, serviceAccount: 'gw', spiffeId: 'x', labels: {}, pid: 1, health: 'up', restarts: 0 },
    edges: [{ id: 'istio-ingressgateway->a-v1', source: 'istio-ingressgateway', destination: 'a-v1', service: 'a', requests: 30, errors: 3, requestsPerSecond: 1,
      errorRate: 0.1, latencyMs: { p50: 2, p95: 5, p99: 9 }, mtlsShare: 1, lastSeen: 0, activeFaults: [], ejectedEndpoints: [] }],
    serviceEdges: [], faults: [], outliers: [],
  };
  const g = buildGraph(asPage(t));
  assert.equal(edgesOf(t)?.length, 1);
  assert.deepEqual(g.edges.map((e) => [e.id, e.rps, e.errorRate, e.p99Ms, e.mtls, e.health]), [['istio-ingressgateway->a-v1', 1, 0.1, 9, true, 'degraded']]);
});
