/**
 * Istio's fault-injection and request-timeout tasks on Bookinfo, through
 * `devmesh up` with the task files unchanged, and runtime chaos through the
 * real `devmesh fault` CLI and /api/faults.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { bookinfoFixture, cli, HANG_MS, REPO, startUp, viaProxy, waitFor, waitReady, type BookinfoFixture, type UpProcess } from './helpers';

const task = (f: string) => readFileSync(path.join(REPO, 'examples', 'bookinfo-tasks', f), 'utf8');

describe('Bookinfo fault injection, request timeouts and runtime chaos', () => {
  let fx: BookinfoFixture;
  let up: UpProcess;
  const topology = async () => (await up.api('/api/topology')).json() as Promise<{ version: number; workloads: Array<{ configVersion: number }>; faults: Array<{ id: string }>; outliers: unknown[] }>;
  const settled = async (before: number) => waitFor('every sidecar to apply the new config', async () => {
    const t = await topology();
    return t.version > before && t.workloads.every((w) => w.configVersion === t.version);
  }, HANG_MS, 20);
  const applyRouting = async (text: string) => {
    const before = (await topology()).version;
    fx.write('routing.yaml', text);
    await settled(before);
  };
  const page = async (user?: string) => {
    const t0 = Date.now();
    const r = await viaProxy(fx.ingressPort, 'http://productpage:9080/productpage', user ? { cookie: `user=${user}` } : {}, 15_000);
    return { ...r, ms: Date.now() - t0 };
  };

  before(async () => {
    fx = await bookinfoFixture({ 'routing.yaml': task('virtual-service-all-v1.yaml') });
    up = startUp(fx.meshFile);
    await waitReady(up, fx.meshFile);
  });
  after(async () => { await up?.stop(); fx?.cleanup(); });

  test('ratings delay 7s for jason: productpage shows its reviews error after about 6 s (3 s timeout + 1 retry)', async () => {
    await applyRouting(task('virtual-service-ratings-test-delay.yaml'));
    const normal = await page();
    assert.doesNotMatch(normal.body, /Error fetching product reviews/);
    const jason = await page('jason');
    assert.equal(jason.status, 200);
    assert.match(jason.body, /Error fetching product reviews/);
    assert.ok(jason.ms >= 5_500, `two 3 s tries before the error (${jason.ms} ms)`);
  });

  test('ratings abort 500 for jason: "Ratings service is currently unavailable"', async () => {
    await applyRouting(task('virtual-service-ratings-test-abort.yaml'));
    const jason = await page('jason');
    assert.match(jason.body, /Ratings service is currently unavailable/);
    assert.match(jason.body, /Reviews served by:<\/dt><dd><u>reviews-v2/);
    assert.doesNotMatch((await page()).body, /Ratings service is currently unavailable/);
  });

  test('reviews timeout 0.5s with ratings delayed 2s: the page returns in about 1 s with the reviews error', async () => {
    await applyRouting(task('virtual-service-reviews-timeout.yaml'));
    const r = await page();
    assert.equal(r.status, 200);
    assert.match(r.body, /Error fetching product reviews/);
    assert.ok(r.ms >= 900, `two 0.5 s tries before the error (${r.ms} ms)`);
  });

  test('devmesh fault add/list/clear: an abort on reviews, listed, in the topology, then cleared', async () => {
    await applyRouting(task('virtual-service-all-v1.yaml'));
    const before = (await topology()).version;
    const added = await cli(['fault', 'add', 'reviews', '--abort', '503', '--percent', '100', '--for', '2m', '-f', fx.meshFile], fx.dir);
    assert.equal(added.code, 0, added.err);
    const id = added.out.split(/\s+/)[0];
    assert.match(id, /^f-[0-9a-f]{6}$/);
    assert.match(added.out, /abort 503 \(100%\) on reviews, 1[12][0-9]s left/);
    await settled(before);
    assert.match((await page()).body, /Error fetching product reviews/);
    const listed = await cli(['fault', 'list', '-f', fx.meshFile], fx.dir);
    assert.match(listed.out, new RegExp(id));
    assert.deepEqual((await topology()).faults.map((f) => f.id), [id]);
    const v = (await topology()).version;
    const cleared = await cli(['fault', 'clear', id, '-f', fx.meshFile], fx.dir);
    assert.equal(cleared.code, 0, cleared.err);
    await settled(v);
    assert.doesNotMatch((await page()).body, /Error fetching/);
    assert.match((await cli(['fault', 'list', '-f', fx.meshFile], fx.dir)).out, /no faults/);
  });

  test('a latency toxic on details slows every page by at least its latency; a fault expires by itself', async () => {
    const base = await page();
    const v = (await topology()).version;
    const r = await up.api('/api/faults', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ service: 'details', tcp: { type: 'latency', latency: '400ms' }, for: '3s' }) });
    assert.equal(r.status, 201, await r.clone().text());
    await settled(v);
    const slow = await page();
    assert.match(slow.body, /Book Details/);
    assert.ok(slow.ms >= 400, `page with the toxic took ${slow.ms} ms (without: ${base.ms} ms)`);
    await waitFor('the toxic to expire', async () => (await topology()).faults.length === 0, 8_000, 100);
    // productpage calls details: its sidecar takes the latency relay out of the path.
    await waitFor('the relay to close', async () => ((await (await up.api('/api/sidecars/productpage-v1/config_dump')).json()) as { toxics: unknown[] }).toxics.length === 0, 5_000, 100);
    assert.match((await page()).body, /Book Details/);
  });

  test('/api/faults refuses a cross-site POST and explains an invalid fault', async () => {
    const cross = await up.api('/api/faults', { method: 'POST', headers: { 'content-type': 'application/json', origin: 'https://evil.example' }, body: JSON.stringify({ service: 'reviews', abort: { httpStatus: 503 } }) });
    assert.equal(cross.status, 403);
    const bad = await up.api('/api/faults', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ service: 'reviewz', abort: { httpStatus: 503 } }) });
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { message: string }).message, /no service "reviewz"/);
    const badSubset = await cli(['fault', 'add', 'ratings', '--delay', '2s', '--subset', 'v9', '-f', fx.meshFile], fx.dir);
    assert.equal(badSubset.code, 1);
    assert.match(badSubset.err, /subset "v9"/);
  });

  test('an ejection by outlier detection shows in the topology as the caller\'s sidecar reported it', async () => {
    const dr = readFileSync(path.join(fx.dir, 'destination-rules.yaml'), 'utf8');
    try {
      // reviews: outlier detection on, every version reachable (no VirtualService), reviews-v2 answering 503.
      const before = (await topology()).version;
      fx.write('destination-rules.yaml', dr.replace(/(name: reviews\nspec:\n  host: reviews\n  trafficPolicy:\n)/, '$1    outlierDetection: { consecutive5xxErrors: 2, interval: 1s, baseEjectionTime: 30s, maxEjectionPercent: 100 }\n'));
      fx.write('routing.yaml', '# no routes: every version of every service\n');
      await settled(before);
      const v = (await topology()).version;
      const added = await up.api('/api/faults', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ service: 'reviews', workload: 'reviews-v2', abort: { httpStatus: 503 } }) });
      assert.equal(added.status, 201, await added.clone().text());
      await settled(v);
      type Ejecting = { outliers: Array<{ reporter: string; host: string; cluster: string; reason?: string; until?: string }>; edges: Array<{ source: string; service: string; ejectedEndpoints: string[] }> };
      const t = await waitFor('productpage-v1 to eject reviews-v2', async () => {
        for (let i = 0; i < 6; i++) await page();
        const x = (await (await up.api('/api/topology')).json()) as Ejecting;
        return x.outliers.some((o) => o.reporter === 'productpage-v1' && o.host === 'reviews-v2') ? x : undefined;
      }, 20_000, 50);
      const o = t.outliers.find((x) => x.reporter === 'productpage-v1')!;
      assert.equal(o.cluster, 'outbound|9080||reviews.default.svc.cluster.local');
      assert.equal(o.reason, 'consecutive_5xx');
      assert.ok(Date.parse(o.until!) > Date.now(), 'the ejection lasts');
      const toReviews = t.edges.filter((e) => e.source === 'productpage-v1' && e.service === 'reviews');
      assert.ok(toReviews.length > 0 && toReviews.every((e) => e.ejectedEndpoints.includes('reviews-v2')), JSON.stringify(toReviews));
    } finally {
      await up.api('/api/faults', { method: 'DELETE' });
      fx.write('destination-rules.yaml', dr);
      fx.write('routing.yaml', task('virtual-service-all-v1.yaml'));
    }
  });
});
