/**
 * The topology page on its own, in chromium, fed through the same message
 * protocol the VS Code host uses (a stand-in for acquireVsCodeApi records what
 * the page sends). The topology is a fixture with live edges, so edge drawing
 * (labels, mTLS lock, fault badge, colours, moving dots) is checked before the
 * control plane serves edges; the live-mesh tests are dashboard.test.ts and
 * code-server-ui.test.ts. The first topology has the shape served before
 * namespaces and multi-port services; the second has both, and checks the
 * layered layout in the DOM: flows left to right from the ingress, idle
 * services apart, namespace boxes around their nodes, port chips, positions
 * that hold still on new numbers and a dragged node that stays put.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { ARTIFACTS, browserSkipReason, REPO } from './harness/env';
import { launchBrowser, type Browser } from './harness/browser';
import { assertKialiLayout, node, readLayout, settledLayout } from './harness/topology-dom';

const skip = browserSkipReason();
let server: http.Server | undefined;
let base = '';
let browser: Browser | undefined;

const topology = {
  mesh: 'bookinfo', ready: true,
  services: [{ name: 'productpage', workloads: ['productpage-v1'] }, { name: 'reviews', workloads: ['reviews-v1', 'reviews-v2'] }, { name: 'ratings', workloads: ['ratings-v1'] }],
  workloads: [
    { name: 'productpage-v1', service: 'productpage', labels: { version: 'v1' }, spiffeId: 'spiffe://cluster.local/ns/default/sa/productpage' },
    { name: 'reviews-v1', service: 'reviews', labels: { version: 'v1' } },
    { name: 'reviews-v2', service: 'reviews', labels: { version: 'v2' } },
    { name: 'ratings-v1', service: 'ratings', labels: { version: 'v1' } },
  ],
  ingress: { name: 'istio-ingressgateway', health: 'up' },
  edges: [
    { source: 'istio-ingressgateway', destination: 'productpage-v1', requestsPerSecond: 20, errorRate: 0, latencyMs: { p50: 5, p99: 40 }, mtlsShare: 1 },
    { source: 'productpage-v1', destination: 'reviews-v1', requestsPerSecond: 10, errorRate: 0, mtlsShare: 1 },
    { source: 'productpage-v1', destination: 'reviews-v2', requestsPerSecond: 10, errorRate: 0.5, mtlsShare: 1, routedBy: ['HTTPRoute default/reviews'], activeFaults: [{ id: 'f1', kind: 'abort', source: 'runtime', httpStatus: 503, percentage: 50 }] },
    { source: 'reviews-v2', destination: 'ratings-v1', requestsPerSecond: 5, errorRate: 0, mtlsShare: 0, protocols: ['grpc'] },
  ],
};

before(async () => {
  if (skip) return;
  const files: Record<string, [string, string]> = {
    '/': ['text/html', `<!DOCTYPE html><meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'self'; style-src 'self'">
<link rel="stylesheet" href="/webview.css"><body><script src="/host.js"></script><script src="/webview.js"></script>`],
    // What VS Code injects into a webview, reduced to the three calls the page makes.
    '/host.js': ['text/javascript', `window.sent = []; let state = null;
window.acquireVsCodeApi = () => ({ postMessage: (m) => window.sent.push(m), getState: () => state, setState: (s) => { state = s; } });`],
    '/webview.js': ['text/javascript', readFileSync(path.join(REPO, 'dist', 'webview.js'), 'utf8')],
    '/webview.css': ['text/css', readFileSync(path.join(REPO, 'dist', 'webview.css'), 'utf8')],
  };
  server = http.createServer((req, res) => {
    const f = files[req.url ?? '/'];
    if (!f) { res.writeHead(404).end(); return; }
    res.writeHead(200, { 'content-type': f[0] }).end(f[1]);
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as import('node:net').AddressInfo).port}`;
  browser = await launchBrowser({ width: 1200, height: 700 });
});

after(async () => {
  await browser?.close();
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
});

test('the page draws edges with rates, errors, a lock for mTLS and a fault badge, from a topology message', { skip, timeout: 30_000 }, async () => {
  const page = browser!.ctx.pages()[0] ?? await browser!.ctx.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(base + '/');
  await page.waitForFunction(() => (window as unknown as { sent: { type: string }[] }).sent.some((m) => m.type === 'ready'));
  await page.evaluate((t) => { window.postMessage({ type: 'topology', topology: t, at: Date.now() }, '*'); window.postMessage({ type: 'state', state: 'running' }, '*'); }, topology);
  await page.locator('svg#topology g.edge').nth(3).waitFor({ timeout: 5_000 });
  assert.equal(await page.locator('svg#topology g.node').count(), 5);
  const edge = (id: string) => page.locator(`svg#topology g.edge[data-id="${id}"]`);
  assert.equal(await edge('productpage-v1->reviews-v2').getAttribute('data-health'), 'failing');
  assert.equal(await edge('productpage-v1->reviews-v2').locator('text.edge-label').textContent(), '10.0 rps · 50% err');
  assert.equal(await edge('productpage-v1->reviews-v2').locator('text.edge-badges').textContent(), '\u03DF', 'the fault badge');
  assert.equal(await edge('productpage-v1->reviews-v2').locator('path.lock').getAttribute('visibility'), 'visible', 'the mTLS lock');
  assert.equal(await edge('reviews-v2->ratings-v1').locator('path.lock').getAttribute('visibility'), 'hidden');
  assert.equal(await edge('reviews-v2->ratings-v1').getAttribute('data-mtls'), 'false');
  // A gRPC edge is dashed and says so; the others (no protocols in this message, as an older control plane sends) are plain.
  assert.equal(await edge('reviews-v2->ratings-v1').getAttribute('data-protocols'), 'grpc');
  assert.match((await edge('reviews-v2->ratings-v1').locator('text.edge-label').textContent()) ?? '', /^gRPC · /);
  assert.equal(await edge('reviews-v2->ratings-v1').locator('path.edge-line').evaluate((e) => getComputedStyle(e).strokeDasharray !== 'none'), true);
  assert.equal(await edge('productpage-v1->reviews-v1').locator('path.edge-line').evaluate((e) => getComputedStyle(e).strokeDasharray), 'none');
  assert.equal(await edge('istio-ingressgateway->productpage-v1').getAttribute('data-health'), 'healthy');
  assert.equal(await page.locator('.rate').textContent(), '20.0 rps');
  await page.waitForTimeout(1_200);
  assert.ok(await page.locator('svg#topology circle.dot').count() > 0, 'dots move along busy edges');
  assert.ok(await page.locator('svg#topology circle.dot.error').count() > 0, 'some dots are red on the failing edge');
  // A click selects and asks the host for details; the panel shows the edge's numbers.
  await edge('productpage-v1->reviews-v2').locator('path.edge-hit').click({ force: true });
  await page.locator('#details h2').waitFor();
  // Which routes the caller applied: the Gateway API's HTTPRoute here, the default route on an edge without one.
  await page.locator('#details', { hasText: 'routed by' }).locator('text=HTTPRoute default/reviews').waitFor({ timeout: 5_000 });
  const sent = await page.evaluate(() => (window as unknown as { sent: unknown[] }).sent);
  assert.deepEqual(sent.at(-1), { type: 'select', selection: { kind: 'edge', id: 'productpage-v1->reviews-v2' } });
  // The host answers with the edge's recent requests (from the access log): their status codes show.
  await page.evaluate(() => window.postMessage({ type: 'details', details: { selection: { kind: 'edge', id: 'productpage-v1->reviews-v2' }, codes: { 200: 5, 503: 5 } } }, '*'));
  await page.locator('#details ul.codes', { hasText: '503' }).waitFor({ timeout: 5_000 });
  // The rules behind the edge: in VS Code each is a link that asks the host to open it in the editor.
  await page.evaluate(() => window.postMessage({ type: 'details', details: { selection: { kind: 'edge', id: 'productpage-v1->reviews-v2' }, codes: { 200: 5, 503: 5 },
    rules: [{ rule: 'VirtualService/default/reviews/0', requests: 10, errorRate: 0.5 }] } }, '*'));
  await page.locator('#details button.rule-link', { hasText: 'VirtualService/default/reviews/0' }).click({ timeout: 5_000 });
  const opened = await page.evaluate(() => (window as unknown as { sent: { type: string }[] }).sent.filter((m) => m.type === 'openRule'));
  assert.deepEqual(opened, [{ type: 'openRule', rule: 'VirtualService/default/reviews/0' }]);
  // Inject from the panel sends a typed fault request for that edge.
  await page.locator('#details button.inject').click();
  const inject = await page.evaluate(() => (window as unknown as { sent: { type: string }[] }).sent.find((m) => m.type === 'injectFault'));
  assert.deepEqual(inject, { type: 'injectFault', requestId: 1, target: { service: 'reviews', workload: 'reviews-v2', source: 'productpage-v1' }, fault: { abort: { httpStatus: 503, percentage: 50 } } });
  // Positions survive a new message with other numbers (stable layout).
  const before = await page.locator('svg#topology g.node[data-id="reviews-v2"]').getAttribute('transform');
  await page.evaluate((t) => window.postMessage({ type: 'topology', topology: { ...t, edges: t.edges.map((e) => ({ ...e, requestsPerSecond: e.requestsPerSecond * 3 })) }, at: Date.now() }, '*'), topology);
  await page.locator('.rate', { hasText: '60.0 rps' }).waitFor();
  assert.equal(await page.locator('svg#topology g.node[data-id="reviews-v2"]').getAttribute('transform'), before);
  assertKialiLayout(await readLayout(page.locator('svg#topology')));
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, 'page-edges.png') });
  assert.deepEqual(errors, []);
});

/** Bookinfo over three namespaces: productpage in front, the rest in default (reviews with two ports), a job in jobs; details and the job idle. */
const namespaced = {
  mesh: 'bookinfo', namespace: 'default', ready: true,
  services: [
    { name: 'productpage', namespace: 'front', workloads: ['productpage-v1'] },
    { name: 'reviews', namespace: 'default', ports: [{ name: 'http', port: 9080, protocol: 'http' }, { name: 'grpc-admin', port: 9090, protocol: 'grpc' }], workloads: ['reviews-v1', 'reviews-v2'] },
    { name: 'ratings', namespace: 'default', port: 9080, protocol: 'http', workloads: ['ratings-v1'] },
    { name: 'details', namespace: 'default', workloads: ['details-v1'] },
    { name: 'batch', namespace: 'jobs', workloads: ['batch-v1'] },
  ],
  workloads: [
    { name: 'productpage-v1', service: 'productpage', namespace: 'front', labels: { version: 'v1' } },
    { name: 'reviews-v1', service: 'reviews', namespace: 'default', labels: { version: 'v1' } },
    { name: 'reviews-v2', service: 'reviews', namespace: 'default', labels: { version: 'v2' } },
    { name: 'ratings-v1', service: 'ratings', namespace: 'default', labels: { version: 'v1' } },
    { name: 'details-v1', service: 'details', namespace: 'default', labels: { version: 'v1' } },
    { name: 'batch-v1', service: 'batch', namespace: 'jobs', labels: { version: 'v1' } },
  ],
  ingress: { name: 'istio-ingressgateway', health: 'up' },
  edges: [
    { source: 'istio-ingressgateway', destination: 'productpage-v1', requestsPerSecond: 20, mtlsShare: 1 },
    { source: 'productpage-v1', destination: 'reviews-v1', requestsPerSecond: 10, mtlsShare: 1 },
    { source: 'productpage-v1', destination: 'reviews-v2', requestsPerSecond: 10, mtlsShare: 1 },
    { source: 'reviews-v2', destination: 'ratings-v1', requestsPerSecond: 10, mtlsShare: 1 },
  ],
};
type Namespaced = typeof namespaced;

test('the layered layout: flows left to right from the ingress, idle services apart, namespace boxes, port chips, stable positions', { skip, timeout: 30_000 }, async () => {
  const page = await browser!.ctx.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => { if (/Content Security Policy|Refused to/i.test(m.text())) errors.push(m.text()); });
  await page.goto(base + '/');
  await page.waitForFunction(() => (window as unknown as { sent: { type: string }[] }).sent.some((m) => m.type === 'ready'));
  const svg = page.locator('svg#topology');
  const post = (t: Namespaced) => page.evaluate((x) => { window.postMessage({ type: 'topology', topology: x, at: Date.now() }, '*'); }, t);
  await post(namespaced);
  const first = await settledLayout(svg);
  assertKialiLayout(first);
  assert.deepEqual(first.namespaces.map((n) => n.name).sort(), ['default', 'front', 'jobs']);
  assert.deepEqual(first.services.find((s) => s.name === 'reviews')?.ports, ['http 9080', 'grpc-admin 9090'], 'a chip per port');
  assert.deepEqual(first.services.find((s) => s.name === 'ratings')?.ports, [], 'one port, no chip');
  const bottom = (id: string) => node(first, id).rect.y + node(first, id).rect.height;
  for (const busy of ['reviews-v1', 'reviews-v2', 'ratings-v1']) {
    assert.ok(node(first, 'details-v1').rect.y > bottom(busy), `idle details sits under the flows, below ${busy}`);
  }
  const jobs = first.namespaces.find((n) => n.name === 'jobs')!.rect;
  for (const busy of first.namespaces.filter((n) => n.name !== 'jobs')) assert.ok(jobs.y > busy.rect.y + busy.rect.height, `the idle namespace is under ${busy.name}`);

  // New numbers: nothing moves, no new layout.
  await post({ ...namespaced, edges: namespaced.edges.map((e) => ({ ...e, requestsPerSecond: e.requestsPerSecond * 5 })) });
  await page.locator('.rate', { hasText: '100 rps' }).waitFor();
  const again = await readLayout(svg);
  assert.equal(again.layouts, first.layouts, 'no layout for new numbers');
  assert.deepEqual(again.nodes.map((n) => n.transform), first.nodes.map((n) => n.transform));

  // A dragged node stays where it was put, also through a new layout.
  const r = node(first, 'reviews-v1').rect;
  await page.mouse.move(r.x + r.width / 2, r.y + r.height / 2);
  await page.mouse.down();
  await page.mouse.move(r.x + r.width / 2 + 20, r.y + r.height / 2 - 15, { steps: 4 });
  await page.mouse.move(r.x + r.width / 2 + 40, r.y + r.height / 2 - 30, { steps: 4 });
  await page.mouse.up();
  const dragged = await readLayout(svg);
  assert.ok(Math.abs(node(dragged, 'reviews-v1').rect.x - (r.x + 40)) <= 2 && Math.abs(node(dragged, 'reviews-v1').rect.y - (r.y - 30)) <= 2, 'the node followed the mouse');

  // A new call is a new structure: details joins the flows, right of productpage; the dragged node does not move.
  await post({ ...namespaced, edges: [...namespaced.edges, { source: 'productpage-v1', destination: 'details-v1', requestsPerSecond: 5, mtlsShare: 1 }] });
  const grown = await settledLayout(svg, first.layouts);
  assertKialiLayout(grown);
  assert.ok(node(grown, 'details-v1').rect.x > node(grown, 'productpage-v1').rect.x);
  assert.equal(node(grown, 'reviews-v1').transform, node(dragged, 'reviews-v1').transform, 'the dragged node kept its place');

  // Re-layout forgets the drag: reviews v1 is back above v2, in its column.
  await page.locator('button.relayout').click();
  const fresh = await settledLayout(svg, grown.layouts);
  assertKialiLayout(fresh);
  const cx = (id: string) => node(fresh, id).rect.x + node(fresh, id).rect.width / 2;
  assert.ok(Math.abs(cx('reviews-v1') - cx('reviews-v2')) < 1);
  assert.ok(node(fresh, 'reviews-v1').rect.y < node(fresh, 'reviews-v2').rect.y);
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, 'page-namespaces.png') });
  assert.deepEqual(errors, [], 'no page error and no CSP violation (elkjs runs without eval or a worker)');
  await page.close();
});
