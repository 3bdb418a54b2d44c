/**
 * The browser dashboard of a running demo mesh, in Debian's chromium: the page
 * served by `devmesh up` draws one node per workload, takes its token from the
 * URL fragment (and wipes it from the address bar), sends it only as a header,
 * and runs under its CSP without a violation. After traffic through the
 * ingress, edges carry non-zero rates and the layered layout holds in the
 * DOM: the ingress leftmost, each caller left of its callee, the namespace box
 * around its workloads. Screenshot kept in test-artifacts/ and docs/.
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { ARTIFACTS, browserSkipReason, DOCS, meshSkipReason, waitFor } from './harness/env';
import { launchBrowser, type Browser } from './harness/browser';
import { sendTraffic, startDemoMesh, type RunningMesh } from './harness/mesh';
import { assertKialiLayout, readLayout, type DomLayout } from './harness/topology-dom';

const skip = browserSkipReason() ?? meshSkipReason();
let mesh: RunningMesh | undefined;
let browser: Browser | undefined;

before(async () => {
  if (skip) return;
  mesh = await startDemoMesh();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await mesh?.stop();
});

test('devmesh up writes a dashboard link that carries the token in the fragment only', { skip }, () => {
  const s = mesh!.session;
  assert.ok(s.dashboardUrl, `session.json has dashboardUrl: ${JSON.stringify(Object.keys(s))}`);
  const u = new URL(s.dashboardUrl);
  assert.equal(u.origin, new URL(s.apiUrl).origin);
  assert.equal(u.search, '');
  assert.equal(u.hash, `#token=${encodeURIComponent(s.token)}`);
  assert.match(mesh!.output(), /dashboard/i);
});

test('the dashboard draws one node per workload, live, under its CSP', { skip, timeout: 90_000 }, async (t) => {
  const page = browser!.ctx.pages()[0] ?? await browser!.ctx.newPage();
  const violations: string[] = [];
  const requests: string[] = [];
  page.on('console', (m) => { if (/Content Security Policy|Refused to/i.test(m.text())) violations.push(m.text()); });
  page.on('request', (r) => requests.push(r.url() + ' ' + JSON.stringify(r.headers().referer ?? '')));
  await page.goto(mesh!.session.dashboardUrl!);
  const expected = mesh!.workloads.length + 1;
  await waitFor('one node per workload plus the ingress', async () => ((await page.locator('svg#topology g.node').count()) === expected ? true : undefined), 30_000, 200);
  const ids = await page.locator('svg#topology g.node').evaluateAll((els) => els.map((e) => e.getAttribute('data-id')));
  assert.deepEqual(ids.filter((x) => x !== 'istio-ingressgateway').sort(), [...mesh!.workloads].sort());
  assert.equal(await page.locator('.state').textContent(), 'running');
  assert.ok(!page.url().includes('token'), `the token is wiped from the address bar: ${page.url()}`);
  assert.ok(requests.every((r) => !r.includes(mesh!.session.token)), 'the token is never in a URL or a Referer');
  assert.deepEqual(violations, [], 'no CSP violation');

  // Traffic through the ingress; the live edges come from the control plane's telemetry.
  const sent = await sendTraffic(mesh!.ingressPort, 30);
  t.diagnostic(`traffic: ${sent.ok} ok, ${sent.failed} failed`);
  assert.ok(sent.ok > 0, 'the demo mesh answered through the ingress');
  const res = await fetch(`${mesh!.session.apiUrl}/api/topology`, { headers: { authorization: `Bearer ${mesh!.session.token}` } });
  const topo = (await res.json()) as { edges?: unknown[] };
  if (!topo.edges?.length) {
    // Not faked: until the observability issue lands, the control plane serves `edges: []`.
    t.todo('edges with non-zero rates: GET /api/topology serves no live edges yet (observability issue)');
  } else {
    await waitFor('an edge with a non-zero rate', async () => {
      const rates = await page.locator('svg#topology g.edge').evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-rps'))));
      return rates.some((r) => r > 0) ? true : undefined;
    }, 20_000, 250);
    // The edges are a new structure: once the page has laid them out, the picture reads left to right.
    const laidOut: DomLayout = await waitFor('the layout of the flows', async () => {
      const l = await readLayout(page.locator('svg#topology'));
      return l.state === 'done' && l.edges.length >= 2 ? l : undefined;
    }, 20_000, 250);
    t.diagnostic(`edges laid out: ${laidOut.edges.map((e) => e.id).join(', ')}`);
    assertKialiLayout(laidOut);
    assert.deepEqual(laidOut.namespaces.map((n) => n.name), ['default'], 'the demo runs in one namespace, drawn as one box');
  }
  await page.waitForTimeout(1_500);
  mkdirSync(ARTIFACTS, { recursive: true });
  mkdirSync(DOCS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard.png') });
  copyFileSync(path.join(ARTIFACTS, 'dashboard.png'), path.join(DOCS, 'dashboard.png'));
  // A click opens the side panel for that workload.
  await page.locator('svg#topology g.node[data-id="reviews-v2"]').click();
  await page.locator('#details h2', { hasText: 'reviews-v2' }).waitFor({ timeout: 5_000 });
  assert.match(await page.locator('#details').innerText(), /spiffe:\/\/cluster\.local\/ns\/default\/sa\/bookinfo-reviews/);
  assert.equal(browser!.blocked.length, 0, `no request left loopback: ${browser!.blocked.join(', ')}`);
});

test('without a token the dashboard says how to get one, and the API refuses it', { skip, timeout: 30_000 }, async () => {
  const page = await browser!.ctx.newPage();
  await page.goto(mesh!.session.apiUrl + '/');
  await page.locator('.state[data-state="unreachable"]').waitFor({ timeout: 10_000 });
  assert.match(await page.locator('.empty').innerText(), /#token=/);
  assert.equal((await fetch(`${mesh!.session.apiUrl}/api/topology`)).status, 401);
  await page.close();
});
