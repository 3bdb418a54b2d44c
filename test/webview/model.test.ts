import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { buildGraph, dotCount, edgeLabel, formatMs, formatPercent, formatRps, healthOfRate, servicePorts } from '../../webview/model';
import { bookinfo, bookinfoSplit, service, workload } from './fixtures';

test('a topology without traffic gives one node per workload plus the ingress, and no edges', () => {
  const g = buildGraph(bookinfo());
  assert.deepEqual(g.nodes.map((n) => n.id).sort(), ['details-v1', 'istio-ingressgateway', 'productpage-v1', 'ratings-v1', 'reviews-v1', 'reviews-v2', 'reviews-v3']);
  assert.equal(g.edges.length, 0);
  assert.equal(g.totalRps, 0);
  assert.equal(g.nodes.find((n) => n.kind === 'ingress')?.id, 'istio-ingressgateway');
  assert.ok(g.nodes.filter((n) => n.kind === 'workload').every((n) => n.health === 'idle'));
});

test('the versions of a service are grouped in one service box, ordered v1, v2, v3', () => {
  const g = buildGraph(bookinfo());
  const reviews = g.groups.find((x) => x.name === 'reviews')!;
  assert.deepEqual(reviews.members, ['reviews-v1', 'reviews-v2', 'reviews-v3']);
  assert.equal(g.nodes.find((n) => n.id === 'reviews-v2')?.label, 'reviews v2');
});

test('edges carry rate, error share, latency and mTLS, and are coloured by their error rate', () => {
  const g = buildGraph(bookinfo([
    { source: 'istio-ingressgateway', destination: 'productpage-v1', requestsPerSecond: 10, errorRate: 0, latencyMs: { p50: 4, p95: 10, p99: 20 }, mtlsShare: 1 },
    { source: 'productpage-v1', destination: 'reviews-v2', requestsPerSecond: 5, errorRate: 0.5, mtlsShare: 1, activeFaults: [{ id: 'f1', kind: 'abort', source: 'runtime', httpStatus: 503, percentage: 50 }] },
    { source: 'productpage-v1', destination: 'details-v1', requestsPerSecond: 5, errorRate: 0.01, mtlsShare: 0 },
  ]));
  const byId = new Map(g.edges.map((e) => [e.id, e]));
  const entry = byId.get('istio-ingressgateway->productpage-v1')!;
  assert.equal(entry.health, 'healthy');
  assert.equal(entry.mtls, true);
  assert.equal(entry.label, '10.0 rps');
  assert.match(entry.title, /p50 4\.0ms, p99 20ms/);
  assert.match(entry.title, /mTLS/);
  const faulty = byId.get('productpage-v1->reviews-v2')!;
  assert.equal(faulty.health, 'failing');
  assert.deepEqual(faulty.badges, ['fault']);
  assert.equal(faulty.label, '5.00 rps · 50% err');
  assert.equal(byId.get('productpage-v1->details-v1')!.health, 'degraded');
  assert.equal(g.nodes.find((n) => n.id === 'reviews-v2')!.health, 'failing', 'a node takes the worst health of its inbound edges');
  assert.equal(g.nodes.find((n) => n.id === 'productpage-v1')!.health, 'healthy');
  assert.equal(g.totalRps, 10, 'the mesh rate is what enters through the ingress');
});

test('a destination given as a service name is drawn to that service, and duplicates merge', () => {
  const g = buildGraph(bookinfo([
    { source: 'productpage-v1', destination: 'details', requestsPerSecond: 2, errorRate: 0 },
    { source: 'productpage-v1', destination: 'details-v1', requestsPerSecond: 2, errorRate: 0.5, latencyMs: { p50: 1, p95: 20, p99: 30 } },
    { source: 'nobody', destination: 'details-v1', requestsPerSecond: 1 },
  ]));
  assert.equal(g.edges.length, 1, 'an edge from an unknown workload is dropped, not invented');
  const e = g.edges[0];
  assert.equal(e.id, 'productpage-v1->details-v1');
  assert.equal(e.rps, 4);
  assert.equal(e.errorRate, 0.25);
  assert.equal(e.p99Ms, 30);
});

test('a gRPC edge says gRPC on the canvas and in its title; an edge that also carries HTTP lists both', () => {
  const g = buildGraph(bookinfo([
    { source: 'reviews-v1', destination: 'ratings-v1', requestsPerSecond: 3, protocols: ['grpc'] },
    { source: 'productpage-v1', destination: 'details-v1', requestsPerSecond: 2, protocols: ['http'] },
    { source: 'productpage-v1', destination: 'details', requestsPerSecond: 1, protocols: ['grpc'] },
  ]));
  const byId = new Map(g.edges.map((e) => [e.id, e]));
  const grpcEdge = byId.get('reviews-v1->ratings-v1')!;
  assert.deepEqual(grpcEdge.protocols, ['grpc']);
  assert.match(grpcEdge.label, /^gRPC · /);
  assert.match(grpcEdge.title, /gRPC over /);
  const both = byId.get('productpage-v1->details-v1')!;
  assert.deepEqual(both.protocols, ['grpc', 'http']);
  assert.match(both.title, /gRPC \+ HTTP over /);
});

test('a TCP edge says TCP with its bytes per second and open connections, is live without requests, and has the lock when its connections are mTLS', () => {
  const g = buildGraph(bookinfo([
    { source: 'reviews-v2', destination: 'ratings-v1', requestsPerSecond: 0, requests: 0, mtlsShare: 1, protocols: ['tcp'], tcp: { connections: 1, failed: 0, open: 1, bytes: 61_440, connectionsPerSecond: 0.033, bytesPerSecond: 2048 } },
  ]));
  const e = g.edges[0];
  assert.deepEqual(e.protocols, ['tcp']);
  assert.equal(e.label, 'TCP · 2.0 kB/s · 1 conn');
  assert.match(e.title, /TCP 2\.0 kB\/s, 1 open, 1 opened\n/);
  assert.match(e.title, /TCP over mTLS$/);
  assert.equal(e.health, 'healthy', 'an edge that carries bytes is not idle');
  assert.equal(e.mtls, true);
  const closed = buildGraph(bookinfo([
    { source: 'reviews-v2', destination: 'ratings-v1', requestsPerSecond: 0, errorRate: 0.5, protocols: ['tcp'], tcp: { connections: 1, failed: 1, open: 0, bytes: 10, connectionsPerSecond: 0.5, bytesPerSecond: 5 } },
  ])).edges[0];
  assert.equal(closed.label, 'TCP · 5 B/s · 0.50 conn/s · 50% err');
  assert.equal(closed.health, 'failing');
});

test('down workloads, restarts, ejections and runtime faults show on the node', () => {
  const t = bookinfo();
  t.workloads[1] = { ...t.workloads[1], health: { sidecar: 'up', app: 'down' }, restarts: { sidecar: 1, app: 2 } };
  t.outliers = [{ reporter: 'productpage-v1', cluster: 'outbound|9080||details.default.svc.cluster.local', host: 'details-v1' }];
  t.faults = [{ id: 'f1', service: 'reviews', subset: 'v3', abort: { httpStatus: 503, percentage: 100 } }];
  const g = buildGraph(t);
  const details = g.nodes.find((n) => n.id === 'details-v1')!;
  assert.equal(details.health, 'down');
  assert.equal(details.restarts, 3);
  assert.deepEqual(details.badges, ['ejected', 'restarted']);
  assert.deepEqual(g.nodes.filter((n) => n.badges.includes('fault')).map((n) => n.id), ['reviews-v3']);
});

test('a topology without namespaces puts every workload in the Mesh namespace', () => {
  const t = bookinfo();
  // As a devmesh from before namespaces serves it (the extension may attach to one).
  const older = t as unknown as { namespace?: string; workloads: Array<{ namespace?: string }> };
  delete older.namespace;
  for (const w of older.workloads) delete w.namespace;
  const g = buildGraph(t);
  assert.deepEqual(g.namespaces, ['default']);
  assert.ok(g.nodes.filter((n) => n.kind === 'workload').every((n) => n.namespace === 'default'));
  assert.equal(g.nodes.find((n) => n.kind === 'ingress')!.namespace, undefined, 'the ingress sits outside the namespaces');
  assert.deepEqual(g.groups.map((x) => x.id), ['service:default/productpage', 'service:default/details', 'service:default/reviews', 'service:default/ratings']);
});

test('workloads take their namespace, services group per namespace, namespaces keep the Mesh order', () => {
  const g = buildGraph(bookinfoSplit());
  assert.deepEqual(g.namespaces, ['front', 'default']);
  assert.equal(g.nodes.find((n) => n.id === 'productpage-v1')!.namespace, 'front');
  assert.equal(g.nodes.find((n) => n.id === 'reviews-v2')!.namespace, 'default');
  assert.deepEqual(g.groups.find((x) => x.name === 'productpage')!.namespace, 'front');
});

test('a service name shared by two namespaces gives two boxes, and a call to name.namespace lands in the right one', () => {
  const t = bookinfo([{ source: 'productpage-v1', destination: 'ratings.staging', requestsPerSecond: 1 }]);
  t.services.push(service('ratings', 'staging', ['ratings-staging']));
  t.workloads.push(workload('ratings-staging', 'ratings', 'staging', 'v9'));
  const g = buildGraph(t);
  assert.deepEqual(g.groups.filter((x) => x.name === 'ratings').map((x) => [x.id, x.members]),
    [['service:default/ratings', ['ratings-v1']], ['service:staging/ratings', ['ratings-staging']]]);
  assert.deepEqual(g.edges.map((e) => e.id), ['productpage-v1->ratings-staging']);
});

test('a service lists its ports: the ports list when there is one, else the one-port shorthand', () => {
  assert.deepEqual(servicePorts({ port: 9080, protocol: 'http' }), [{ port: 9080, protocol: 'http' }]);
  assert.deepEqual(servicePorts({ port: 9080, ports: [{ name: 'http', port: 9080, protocol: 'http' }, { name: 'grpc-admin', port: 9090, protocol: 'grpc' }] }),
    [{ name: 'http', port: 9080, protocol: 'http' }, { name: 'grpc-admin', port: 9090, protocol: 'grpc' }]);
  assert.deepEqual(servicePorts({}), []);
  const t = bookinfo();
  t.services[2] = { ...t.services[2], ports: [{ name: 'http', port: 9080, protocol: 'http' }, { name: 'http-admin', port: 9081, protocol: 'http' }] };
  assert.deepEqual(buildGraph(t).groups.find((x) => x.name === 'reviews')!.ports.map((p) => p.port), [9080, 9081]);
});

test('numbers read the way people say them', () => {
  assert.equal(formatRps(0), '0 rps');
  assert.equal(formatRps(0.5), '0.50 rps');
  assert.equal(formatRps(12.34), '12.3 rps');
  assert.equal(formatRps(250.4), '250 rps');
  assert.equal(formatPercent(0), '0%');
  assert.equal(formatPercent(0.0004), '<0.1%');
  assert.equal(formatPercent(0.052), '5.2%');
  assert.equal(formatPercent(1), '100%');
  assert.equal(formatMs(undefined), '-');
  assert.equal(formatMs(3.21), '3.2ms');
  assert.equal(formatMs(1500), '1.5s');
  assert.equal(edgeLabel({ rps: 1, errorRate: 0 }), '1.00 rps');
  assert.equal(healthOfRate(0.5, 0), 'idle');
});

test('dot density grows with the rate and stays bounded', () => {
  assert.equal(dotCount(0), 0);
  assert.equal(dotCount(0.1), 1);
  assert.ok(dotCount(10) > dotCount(1));
  assert.equal(dotCount(1e9), 12);
});

test('a host outside the mesh is a node of its own (a ServiceEntry host, the PassthroughCluster, the BlackHoleCluster), an unknown destination is not', () => {
  const g = buildGraph(bookinfo([
    { source: 'productpage-v1', destination: 'api.payments.example', service: 'api.payments.example', requestsPerSecond: 2, errorRate: 0 },
    { source: 'productpage-v1', destination: 'PassthroughCluster', service: 'PassthroughCluster', requestsPerSecond: 1, errorRate: 0 },
    { source: 'reviews-v2', destination: 'BlackHoleCluster', service: 'api.elsewhere.example', requestsPerSecond: 1, errorRate: 1 },
    { source: 'reviews-v1', destination: 'BlackHoleCluster', service: 'other.example', requestsPerSecond: 1, errorRate: 1 },
    { source: 'reviews-v1', destination: 'unknown', service: 'ratings', requestsPerSecond: 1, errorRate: 1 },
  ]));
  const external = g.nodes.filter((n) => n.kind === 'external');
  assert.deepEqual(external.map((n) => n.id), ['api.payments.example', 'PassthroughCluster', 'BlackHoleCluster']);
  assert.ok(g.edges.some((e) => e.id === 'productpage-v1->api.payments.example' && e.rps === 2));
  assert.equal(g.nodes.find((n) => n.id === 'BlackHoleCluster')!.health, 'failing');
  assert.deepEqual(g.groups.filter((grp) => grp.namespace === 'outside the mesh').map((grp) => grp.members), [['api.payments.example'], ['PassthroughCluster'], ['BlackHoleCluster']]);
  assert.ok(g.namespaces.includes('outside the mesh'));
  assert.equal(g.edges.filter((e) => e.target === 'BlackHoleCluster').length, 2);
});
