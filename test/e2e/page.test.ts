/**
 * The topology page on its own, in chromium, fed through the same message
 * protocol the VS Code host uses (a stand-in for acquireVsCodeApi records what
 * the page sends). The topology is a fixture with live edges, so edge drawing
 * (labels, mTLS lock, fault badge, colours, moving dots) is checked before the
 * control plane serves edges; the live-mesh tests are dashboard.test.ts and
 * code-server-ui.test.ts.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { ARTIFACTS, browserSkipReason, REPO } from './harness/env';
import { launchBrowser, type Browser } from './harness/browser';

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
    { source: 'productpage-v1', destination: 'reviews-v2', requestsPerSecond: 10, errorRate: 0.5, mtlsShare: 1, activeFaults: [{ id: 'f1', kind: 'abort', source: 'runtime', httpStatus: 503, percentage: 50 }], codes: { 200: 5, 503: 5 } },
    { source: 'reviews-v2', destination: 'ratings-v1', requestsPerSecond: 5, errorRate: 0, mtlsShare: 0 },
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
  assert.equal(await edge('istio-ingressgateway->productpage-v1').getAttribute('data-health'), 'healthy');
  assert.equal(await page.locator('.rate').textContent(), '20.0 rps');
  await page.waitForTimeout(1_200);
  assert.ok(await page.locator('svg#topology circle.dot').count() > 0, 'dots move along busy edges');
  assert.ok(await page.locator('svg#topology circle.dot.error').count() > 0, 'some dots are red on the failing edge');
  // A click selects and asks the host for details; the panel shows the edge's numbers.
  await edge('productpage-v1->reviews-v2').locator('path.edge-hit').click({ force: true });
  await page.locator('#details h2').waitFor();
  assert.match(await page.locator('#details').innerText(), /503/);
  const sent = await page.evaluate(() => (window as unknown as { sent: unknown[] }).sent);
  assert.deepEqual(sent.at(-1), { type: 'select', selection: { kind: 'edge', id: 'productpage-v1->reviews-v2' } });
  // Inject from the panel sends a typed fault request for that edge.
  await page.locator('#details button.inject').click();
  const inject = await page.evaluate(() => (window as unknown as { sent: { type: string }[] }).sent.find((m) => m.type === 'injectFault'));
  assert.deepEqual(inject, { type: 'injectFault', requestId: 1, target: { service: 'reviews', workload: 'reviews-v2', source: 'productpage-v1' }, fault: { abort: { httpStatus: 503, percentage: 50 } } });
  // Positions survive a new message with other numbers (stable layout).
  const before = await page.locator('svg#topology g.node[data-id="reviews-v2"]').getAttribute('transform');
  await page.evaluate((t) => window.postMessage({ type: 'topology', topology: { ...t, edges: t.edges.map((e) => ({ ...e, requestsPerSecond: e.requestsPerSecond * 3 })) }, at: Date.now() }, '*'), topology);
  await page.waitForTimeout(300);
  assert.equal(await page.locator('svg#topology g.node[data-id="reviews-v2"]').getAttribute('transform'), before);
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, 'page-edges.png') });
  assert.deepEqual(errors, []);
});
