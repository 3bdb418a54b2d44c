/**
 * examples/bookinfo-gateway-api as `devmesh up` runs it (on free ports, in a
 * temp copy), with the Gateway API versions of Istio's Bookinfo tasks of
 * examples/bookinfo-tasks/gateway-api dropped in place of its routing: the
 * page through the Gateway's port 80 (served on a mapped local port), jason
 * on reviews v2, traffic shifted 50/50 to v3, a 0.5 s timeout — and the
 * topology saying the HTTPRoute routed reviews.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { AccessLogEntry } from '../../simulator/control/api/contract';
import { freePorts, REPO, SERVICES, startUp, waitFor, waitReady, type UpProcess } from './helpers';

const TASKS = path.join(REPO, 'examples', 'bookinfo-tasks', 'gateway-api');

async function exampleOnFreePorts(): Promise<{ dir: string; meshFile: string }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'devmesh-gwapi-'));
  cpSync(path.join(REPO, 'examples', 'bookinfo-gateway-api'), dir, { recursive: true, filter: (src) => !src.includes('.devmesh') });
  const meshFile = path.join(dir, 'mesh.yaml');
  let text = readFileSync(meshFile, 'utf8');
  const fixed = [15300, 15380, 9380, 9381, 9382, 9383, 9384, 9385];
  const free = await freePorts(fixed.length);
  fixed.forEach((p, i) => { text = text.replace(new RegExp(`\\b${p}\\b`, 'g'), String(free[i])); });
  text = text.replaceAll('cwd: ../bookinfo/services', `cwd: ${JSON.stringify(SERVICES)}`);
  writeFileSync(meshFile, text);
  return { dir, meshFile };
}

describe('Bookinfo with the Gateway API (examples/bookinfo-gateway-api and its tasks)', () => {
  let fx: { dir: string; meshFile: string };
  let up: UpProcess;
  let gateway: string;
  const page = async (user?: string) => {
    const r = await fetch(`${gateway}/productpage`, { headers: user ? { cookie: `user=${user}` } : {}, signal: AbortSignal.timeout(15_000) });
    return { status: r.status, html: await r.text() };
  };
  const servedBy = (html: string) => /Reviews served by:<\/dt><dd><u>(reviews-v\d)<\/u>/.exec(html)?.[1];
  const task = async (file: string) => {
    const before = (await (await up.api('/api/config')).json() as { version: number }).version;
    writeFileSync(path.join(fx.dir, 'policies', 'routing.yaml'), readFileSync(path.join(TASKS, file), 'utf8'));
    await waitFor(`${file} applied`, async () => (await (await up.api('/api/config')).json() as { version: number }).version > before, 10_000);
  };

  before(async () => {
    fx = await exampleOnFreePorts();
    up = startUp(fx.meshFile);
    await waitReady(up, fx.meshFile);
    gateway = (up.session() as unknown as { gatewayListeners: { port: number; url: string }[] }).gatewayListeners.find((l) => l.port === 80)!.url;
  });
  after(async () => { await up?.stop(); if (fx) rmSync(fx.dir, { recursive: true, force: true }); });

  test('the page renders through the Gateway\'s HTTP listener, and reviews go to v1 for anyone but jason (the example\'s routing)', async () => {
    const anon = await page();
    assert.equal(anon.status, 200, anon.html.slice(0, 300));
    assert.match(anon.html, /William Shakespeare/);
    assert.equal(servedBy(anon.html), 'reviews-v1');
  });

  test('jason gets reviews v2 by the end-user header match', async () => {
    const jason = await page('jason');
    assert.equal(servedBy(jason.html), 'reviews-v2');
  });

  test('traffic shifting: route-reviews-50-v3 sends reviews to v1 and v3 only', async () => {
    await task('route-reviews-50-v3.yaml');
    const seen = new Set<string>();
    for (let i = 0; i < 24 && seen.size < 2; i++) seen.add(servedBy((await page()).html) ?? 'none');
    assert.deepEqual([...seen].sort(), ['reviews-v1', 'reviews-v3']);
  });

  test('request timeouts: reviews v2 with a 0.5 s timeout while ratings is delayed 2 s answers with the reviews error', async () => {
    await task('route-reviews-timeout.yaml');
    const r = await page();
    assert.match(r.html, /Sorry, product reviews are currently unavailable/);
    // The reviews error came from productpage's sidecar timing the call out (UT), not from the delayed answer.
    const timedOut = await waitFor('productpage -> reviews timed out (UT) in the access log', async () => {
      const { entries } = await (await up.api('/api/logs?limit=2000')).json() as { entries: AccessLogEntry[] };
      return entries.find((e) => e.workload === 'productpage-v1' && e.listener === 'outbound' && e.upstream_cluster.includes('reviews') && e.response_flags.includes('UT'));
    }, 10_000);
    assert.equal(timedOut.response_code, 504);
  });

  test('the topology says an HTTPRoute routed productpage -> reviews', async () => {
    const edge = await waitFor('the productpage -> reviews edge', async () => {
      const t = await (await up.api('/api/topology')).json() as { serviceEdges: { source: string; destination: string; routedBy: string[] }[] };
      return t.serviceEdges.find((e) => e.source === 'productpage' && e.destination === 'reviews' && e.routedBy.length > 0);
    }, 10_000);
    assert.ok(edge.routedBy.includes('HTTPRoute default/reviews'), JSON.stringify(edge));
  });
});
