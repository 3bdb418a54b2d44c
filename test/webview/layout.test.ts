import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { buildGraph, type Graph } from '../../webview/model';
import { activeGroups, layoutGraph, layoutKey, type Positions } from '../../webview/layout';
import { boxesOf, contains, edgeCurve, overlaps, pointOn, portChips, type Rect } from '../../webview/geometry';
import type { Topology } from '../../simulator/control/api/contract';
import { BOOKINFO_FLOWS, bookinfo, bookinfoSplit, randomMesh, service as serviceOf, workload } from './fixtures';

const x = (p: Positions, id: string) => p.get(id)!.x;
const y = (p: Positions, id: string) => p.get(id)!.y;

/** Adds a service with one workload and no traffic. */
function withIdle(t: Topology, service: string, namespace: string): Topology {
  t.services.push(serviceOf(service, namespace, [`${service}-v1`]));
  t.workloads.push(workload(`${service}-v1`, service, namespace));
  return t;
}

function pairs<T>(xs: T[]): [T, T][] {
  return xs.flatMap((a, i) => xs.slice(i + 1).map((b) => [a, b] as [T, T]));
}

/** What every layout must hold: namespaces contain their services, no two boxes of a kind overlap, every node placed. */
function assertWellFormed(g: Graph, p: Positions): void {
  for (const n of g.nodes) assert.ok(Number.isFinite(p.get(n.id)?.x) && Number.isFinite(p.get(n.id)?.y), `${n.id} is placed`);
  const boxes = boxesOf(g, p);
  for (const grp of g.groups) {
    const own = boxes.namespaces.get(grp.namespace)!;
    assert.ok(contains(own, boxes.services.get(grp.id)!), `${grp.id} is inside namespace ${grp.namespace}`);
  }
  for (const [[a, ra], [b, rb]] of pairs([...boxes.namespaces])) assert.ok(!overlaps(ra, rb), `namespaces ${a} and ${b} do not overlap`);
  for (const [[a, ra], [b, rb]] of pairs([...boxes.services])) assert.ok(!overlaps(ra, rb), `services ${a} and ${b} do not overlap`);
  const ingress = g.nodes.filter((n) => n.kind === 'ingress');
  for (const n of ingress) {
    const at: Rect = { x: p.get(n.id)!.x - 18, y: p.get(n.id)!.y - 18, width: 36, height: 36 };
    for (const [ns, r] of boxes.namespaces) assert.ok(!overlaps(r, at), `the ingress is outside namespace ${ns}`);
  }
}

test('flows go left to right from the ingress: every caller sits left of its callee', async () => {
  const g = buildGraph(bookinfo(BOOKINFO_FLOWS));
  const p = await layoutGraph(g);
  assertWellFormed(g, p);
  for (const n of g.nodes) if (n.kind !== 'ingress') assert.ok(x(p, 'istio-ingressgateway') < x(p, n.id), `the ingress is left of ${n.id}`);
  for (const e of g.edges) assert.ok(x(p, e.source) < x(p, e.target), `${e.source} is left of ${e.target}`);
  assert.ok(x(p, 'productpage-v1') < x(p, 'reviews-v1') && x(p, 'reviews-v1') < x(p, 'ratings-v1'));
});

test('the versions of a service share its column, v1 above v2 above v3', async () => {
  const p = await layoutGraph(buildGraph(bookinfo(BOOKINFO_FLOWS)));
  assert.equal(x(p, 'reviews-v1'), x(p, 'reviews-v2'));
  assert.equal(x(p, 'reviews-v2'), x(p, 'reviews-v3'));
  assert.ok(y(p, 'reviews-v1') < y(p, 'reviews-v2') && y(p, 'reviews-v2') < y(p, 'reviews-v3'));
});

test('services without traffic sit in a row under the flows of their namespace, not between them', async () => {
  const t = withIdle(bookinfo(BOOKINFO_FLOWS.filter((e) => e.destination !== 'details-v1')), 'mongo', 'default');
  const g = buildGraph(t);
  assert.deepEqual([...activeGroups(g)].sort(), ['service:default/productpage', 'service:default/ratings', 'service:default/reviews']);
  const p = await layoutGraph(g);
  assertWellFormed(g, p);
  const boxes = boxesOf(g, p).services;
  const flowBottom = Math.max(...['productpage', 'reviews', 'ratings'].map((s) => { const b = boxes.get(`service:default/${s}`)!; return b.y + b.height; }));
  for (const idle of ['details', 'mongo']) {
    assert.ok(boxes.get(`service:default/${idle}`)!.y > flowBottom, `${idle} is under every flow`);
  }
  assert.equal(y(p, 'details-v1'), y(p, 'mongo-v1'), 'the idle services share a row');
  assert.ok(x(p, 'details-v1') < x(p, 'mongo-v1'), 'in the Mesh order');
});

test('a namespace with no traffic at all sits in a band under the namespaces with traffic', async () => {
  const t = withIdle(withIdle(bookinfoSplit(BOOKINFO_FLOWS), 'batch', 'jobs'), 'cron', 'jobs');
  const g = buildGraph(t);
  const p = await layoutGraph(g);
  assertWellFormed(g, p);
  const ns = boxesOf(g, p).namespaces;
  const jobs = ns.get('jobs')!;
  for (const busy of ['front', 'default']) assert.ok(jobs.y > ns.get(busy)!.y + ns.get(busy)!.height, `jobs is under ${busy}`);
});

test('idle services of a narrow namespace wrap at its width, so the namespace its flows lead to stays beside it', async () => {
  const t = bookinfoSplit(BOOKINFO_FLOWS);
  for (const s of ['admin', 'audit', 'feedback']) withIdle(t, s, 'front');
  const g = buildGraph(t);
  const p = await layoutGraph(g);
  assertWellFormed(g, p);
  const ns = boxesOf(g, p).namespaces;
  const front = ns.get('front')!, def = ns.get('default')!;
  assert.ok(front.x + front.width < def.x, 'front ends before default begins');
  assert.ok(def.y < front.y + front.height, 'default is beside front, not pushed under it');
  assert.ok(y(p, 'admin-v1') > y(p, 'productpage-v1'));
});

test('every namespace is a box around its services, the ingress outside them, flows crossing from one to the next', async () => {
  const t = withIdle(bookinfoSplit(BOOKINFO_FLOWS), 'admin', 'front');
  const g = buildGraph(t);
  const p = await layoutGraph(g);
  assertWellFormed(g, p);
  const ns = boxesOf(g, p).namespaces;
  assert.deepEqual([...ns.keys()].sort(), ['default', 'front']);
  assert.ok(ns.get('front')!.x + ns.get('front')!.width < ns.get('default')!.x, 'front (productpage) is left of default (its callees)');
  for (const n of g.nodes.filter((m) => m.namespace === 'default')) assert.ok(!contains(ns.get('front')!, { x: x(p, n.id), y: y(p, n.id), width: 0, height: 0 }));
});

test('a service with several ports shows one chip per port, inside its box', async () => {
  const g = buildGraph(bookinfoSplit(BOOKINFO_FLOWS));
  const reviews = g.groups.find((grp) => grp.name === 'reviews')!;
  const chips = portChips(reviews);
  assert.deepEqual(chips.map((c) => c.text), ['http 9080', 'http-admin 9081']);
  assert.match(chips[1].title, /port 9081 \(http-admin\), http/);
  const box = boxesOf(g, await layoutGraph(g)).services.get(reviews.id)!;
  assert.ok(chips[1].x + chips[1].width <= box.width, 'the chips fit the box');
  assert.deepEqual(portChips(g.groups.find((grp) => grp.name === 'ratings')!), [], 'one port: no chip');
});

test('new numbers keep the layout key; a new call, workload, namespace or port changes it', () => {
  const key = (t: Topology) => layoutKey(buildGraph(t));
  const base = key(bookinfo(BOOKINFO_FLOWS));
  assert.equal(key(bookinfo(BOOKINFO_FLOWS.map((e) => ({ ...e, requestsPerSecond: 900, errorRate: 0.5, latencyMs: { p50: 1, p99: 900 } })))), base);
  assert.equal(key(bookinfo(BOOKINFO_FLOWS.filter((e) => e.destination !== 'reviews-v1'))), base,
    'a version losing its traffic while its service keeps some moves nothing');
  assert.notEqual(key(bookinfo(BOOKINFO_FLOWS.filter((e) => e.destination !== 'details-v1'))), base, 'details went idle');
  assert.notEqual(key(withIdle(bookinfo(BOOKINFO_FLOWS), 'mongo', 'default')), base);
  const split = bookinfo(BOOKINFO_FLOWS);
  split.workloads = split.workloads.map((w) => (w.service === 'productpage' ? { ...w, namespace: 'front' } : w));
  assert.notEqual(key(split), base);
  const ported = bookinfo(BOOKINFO_FLOWS);
  ported.services[2] = { ...ported.services[2], ports: [{ name: 'http', port: 9080 }, { name: 'grpc', port: 9090 }] };
  assert.notEqual(key(ported), base);
});

test('the same structure gives the same positions, whatever the numbers', async () => {
  const a = await layoutGraph(buildGraph(bookinfoSplit(BOOKINFO_FLOWS)));
  const b = await layoutGraph(buildGraph(bookinfoSplit(BOOKINFO_FLOWS.map((e) => ({ ...e, requestsPerSecond: 1, errorRate: 0.9 })))));
  assert.deepEqual([...a].sort(), [...b].sort());
});

test('a new workload without traffic moves no node that was there', async () => {
  const before = await layoutGraph(buildGraph(bookinfoSplit(BOOKINFO_FLOWS)));
  const after = await layoutGraph(buildGraph(withIdle(bookinfoSplit(BOOKINFO_FLOWS), 'mongo', 'default')), before);
  for (const [id, p] of before) assert.deepEqual(after.get(id), p, `${id} stayed`);
});

test('after a change of structure the picture stays where it was, on average', async () => {
  const before = await layoutGraph(buildGraph(bookinfo(BOOKINFO_FLOWS.filter((e) => e.destination !== 'details-v1'))));
  const moved = new Map([...before].map(([id, p]) => [id, { x: p.x + 500, y: p.y - 300 }]));
  const after = await layoutGraph(buildGraph(bookinfo(BOOKINFO_FLOWS)), moved);
  const shared = [...moved.keys()];
  const mean = (f: (id: string) => number) => shared.reduce((s, id) => s + f(id), 0) / shared.length;
  assert.ok(Math.abs(mean((id) => after.get(id)!.x - moved.get(id)!.x)) <= 1);
  assert.ok(Math.abs(mean((id) => after.get(id)!.y - moved.get(id)!.y)) <= 1);
});

test('a mesh with no traffic yet lays out every service apart, the ingress first', async () => {
  const g = buildGraph(withIdle(bookinfoSplit(), 'batch', 'jobs'));
  const p = await layoutGraph(g);
  assertWellFormed(g, p);
  const top = Math.min(...[...boxesOf(g, p).namespaces.values()].map((b) => b.y));
  assert.ok(y(p, 'istio-ingressgateway') < top, 'the ingress heads the picture');
});

test('without flows (the fallback if ELK fails) every service still gets its own place inside its namespace', async () => {
  const g = buildGraph(withIdle(bookinfoSplit(BOOKINFO_FLOWS), 'batch', 'jobs'));
  const p = await layoutGraph(g, undefined, { flows: false });
  assertWellFormed(g, p);
});

test('larger meshes stay well formed: 10, 50 and 120 services over several namespaces', async () => {
  for (const [n, seed] of [[10, 1], [50, 2], [50, 3], [120, 4]]) {
    const g = buildGraph(randomMesh(n, seed));
    const p = await layoutGraph(g);
    assertWellFormed(g, p);
    for (const n2 of g.nodes) if (n2.kind !== 'ingress') assert.ok(x(p, 'istio-ingressgateway') < x(p, n2.id), `seed ${seed}: the ingress is leftmost`);
  }
});

test('an edge to the right leaves its caller level and enters its callee level; a backward one is straight', () => {
  const c = edgeCurve({ x: 0, y: 0 }, { x: 300, y: 100 });
  assert.deepEqual(c.p0, { x: 21, y: 0 });
  assert.deepEqual(c.p1, { x: 275, y: 100 });
  assert.equal(c.c1.y, 0);
  assert.equal(c.c2.y, 100);
  assert.deepEqual(pointOn(c, 0), c.p0);
  assert.deepEqual(pointOn(c, 1), c.p1);
  assert.ok(pointOn(c, 0.5).x > 21 && pointOn(c, 0.5).x < 275);
  const back = edgeCurve({ x: 300, y: 0 }, { x: 0, y: 0 });
  assert.deepEqual([back.c1, back.c2], [back.p0, back.p1]);
  assert.ok(back.p0.x < 300 && back.p1.x > 0);
});
