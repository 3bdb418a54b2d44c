import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { buildGraph, dotCount, edgeLabel, formatMs, formatPercent, formatRps, healthOfRate, targetPositions } from '../../webview/model';
import { bookinfo } from './fixtures';

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
  assert.deepEqual(g.nodes.filter((n) => n.service === 'reviews').map((n) => [n.slot, n.slots]), [[0, 3], [1, 3], [2, 3]]);
  assert.equal(g.nodes.find((n) => n.id === 'reviews-v2')?.label, 'reviews v2');
});

test('edges carry rate, error share, latency and mTLS, and are coloured by their error rate', () => {
  const g = buildGraph(bookinfo([
    { source: 'istio-ingressgateway', destination: 'productpage-v1', requestsPerSecond: 10, errorRate: 0, latencyMs: { p50: 4, p99: 20 }, mtlsShare: 1, codes: { 200: 100 } },
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
    { source: 'productpage-v1', destination: 'details', requestsPerSecond: 2, errorRate: 0, codes: { 200: 2 } },
    { source: 'productpage-v1', destination: 'details-v1', requestsPerSecond: 2, errorRate: 0.5, latencyMs: { p50: 1, p99: 30 }, codes: { 200: 1, 503: 1 } },
    { source: 'nobody', destination: 'details-v1', requestsPerSecond: 1 },
  ]));
  assert.equal(g.edges.length, 1, 'an edge from an unknown workload is dropped, not invented');
  const e = g.edges[0];
  assert.equal(e.id, 'productpage-v1->details-v1');
  assert.equal(e.rps, 4);
  assert.equal(e.errorRate, 0.25);
  assert.deepEqual(e.codes, { 200: 3, 503: 1 });
  assert.equal(e.p99Ms, 30);
});

test('call depth from the ingress puts callees in later columns', () => {
  const g = buildGraph(bookinfo([
    { source: 'istio-ingressgateway', destination: 'productpage-v1', requestsPerSecond: 1 },
    { source: 'productpage-v1', destination: 'reviews-v2', requestsPerSecond: 1 },
    { source: 'reviews-v2', destination: 'ratings-v1', requestsPerSecond: 1 },
  ]));
  const depth = (id: string) => g.nodes.find((n) => n.id === id)!.depth;
  assert.equal(depth('istio-ingressgateway'), 0);
  assert.equal(depth('productpage-v1'), 1);
  assert.equal(depth('reviews-v2'), 2);
  assert.equal(depth('reviews-v1'), 2, 'versions of a service share its column');
  assert.equal(depth('ratings-v1'), 3);
  const pos = targetPositions(g);
  assert.ok(pos.get('ratings-v1')!.x > pos.get('reviews-v1')!.x);
  assert.equal(pos.get('reviews-v1')!.x, pos.get('reviews-v3')!.x);
  assert.ok(pos.get('reviews-v1')!.y < pos.get('reviews-v2')!.y && pos.get('reviews-v2')!.y < pos.get('reviews-v3')!.y);
});

test('the layout targets do not change when only the numbers change', () => {
  const a = targetPositions(buildGraph(bookinfo([{ source: 'istio-ingressgateway', destination: 'productpage-v1', requestsPerSecond: 1 }])));
  const b = targetPositions(buildGraph(bookinfo([{ source: 'istio-ingressgateway', destination: 'productpage-v1', requestsPerSecond: 900, errorRate: 0.9 }])));
  assert.deepEqual([...a], [...b]);
});

test('down workloads, restarts, ejections and runtime faults show on the node', () => {
  const t = bookinfo();
  t.workloads[1] = { ...t.workloads[1], health: { sidecar: 'up', app: 'down' }, restarts: { sidecar: 1, app: 2 } };
  t.outliers = [{ reporter: 'productpage-v1', host: 'details-v1' }];
  t.faults = [{ id: 'f1', service: 'reviews', subset: 'v3', abort: { httpStatus: 503, percentage: 100 } }];
  const g = buildGraph(t);
  const details = g.nodes.find((n) => n.id === 'details-v1')!;
  assert.equal(details.health, 'down');
  assert.equal(details.restarts, 3);
  assert.deepEqual(details.badges, ['ejected', 'restarted']);
  assert.deepEqual(g.nodes.filter((n) => n.badges.includes('fault')).map((n) => n.id), ['reviews-v3']);
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
