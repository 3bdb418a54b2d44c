/**
 * A request an HTTPRoute routes goes through the same chain as one a
 * VirtualService routes (real sidecars, mTLS between them, scripted apps
 * that count what reaches them): the route's retry and timeouts, runtime
 * faults, AuthorizationPolicy, outlier detection, mirrors, metrics, access
 * log and the edge the topology draws — which also says the HTTPRoute
 * routed it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Resource } from '../../../simulator/policy/model';
import { expandBatch, type TelemetryBatch } from '../../../simulator/telemetry-protocol';
import { ap, dr, scriptedApp, startMesh, type Policies, type TestMesh } from '../fixtures';
import { seededRandom } from '../../../simulator/random';

type App = Awaited<ReturnType<typeof scriptedApp>>;

const route = (rules: Resource<'HTTPRoute'>['spec']['rules']): Resource<'HTTPRoute'> => ({
  apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'reviews-route', namespace: 'default' },
  spec: { parentRefs: [{ group: '', kind: 'Service', name: 'reviews' }], rules },
});
const to = { name: 'reviews', port: 9080 };

describe('an HTTPRoute-routed request through the shared chain', () => {
  let mesh: TestMesh;
  let v1: App;
  let v2: App;
  let ratings: App;
  const batches: TelemetryBatch[] = [];
  const push = async (p: Policies) => { await mesh.push(p); v1.reset(); v2.reset(); ratings.reset(); };
  const get = (path: string) => mesh.request('productpage-v1', { url: `http://reviews:9080${path}` });
  const log = (path: string) => mesh.sidecars.get('productpage-v1')!.accessLog.tail().filter((e) => e.path === path);

  before(async () => {
    v1 = await scriptedApp('reviews-v1', (u) => (u.startsWith('/od') ? 500 : undefined));
    v2 = await scriptedApp('reviews-v2');
    ratings = await scriptedApp('ratings-v1');
    const pp = await scriptedApp('productpage-v1');
    mesh = await startMesh([
      { name: 'productpage', workloads: [{ name: 'productpage-v1', appPort: pp.port }] },
      { name: 'ratings', workloads: [{ name: 'ratings-v1', appPort: ratings.port }] },
      { name: 'reviews', workloads: [{ name: 'reviews-v1', labels: { app: 'reviews', version: 'v1' }, appPort: v1.port }, { name: 'reviews-v2', labels: { app: 'reviews', version: 'v2' }, appPort: v2.port }] },
    ], {}, { ingress: false, random: seededRandom(5), send: (m) => { if (m.type === 'telemetry') batches.push(m.data as TelemetryBatch); } });
    mesh.apps.set('pp', pp.server);
    mesh.apps.set('v1', v1.server);
    mesh.apps.set('v2', v2.server);
    mesh.apps.set('ratings', ratings.server);
  });
  after(() => mesh?.close());

  test('retry: the listed codes are retried (each backend answers 503 once), each attempt counted at the app', async () => {
    await push({ gatewayApi: [route([{ backendRefs: [to], retry: { attempts: 3, codes: [503] } }])] });
    const r = await get('/flaky/a/1');
    assert.equal(r.status, 200);
    const hits = [...v1.hits, ...v2.hits].filter((h) => h.url === '/flaky/a/1').sort((a, b) => a.at - b.at);
    assert.deepEqual(hits.map((h) => h.attempt), ['1', '2', '3']);
  });

  test('timeouts.request bounds the request: 504 UT', async () => {
    await push({ gatewayApi: [route([{ backendRefs: [to], timeouts: { request: '100ms' } }])] });
    const r = await get('/slow/1000');
    assert.equal(r.status, 504);
    assert.deepEqual(log('/slow/1000').map((e) => e.response_flags), ['UT']);
  });

  test('timeouts.backendRequest with retry bounds each attempt, and (as Istio converts retry) a timed-out attempt is not retried', async () => {
    await push({ gatewayApi: [route([{ backendRefs: [to], timeouts: { request: '2s', backendRequest: '150ms' }, retry: { attempts: 1 } }])] });
    const r = await get('/slowfirst/b/1000');
    // pilot retries connect-failure, refused-stream, unavailable, cancelled and the listed codes; a per-try timeout needs 5xx/gateway-error/reset.
    assert.equal(r.status, 504);
    assert.deepEqual(log('/slowfirst/b/1000').map((e) => e.response_flags), ['UT']);
    assert.equal([...v1.hits, ...v2.hits].filter((h) => h.url === '/slowfirst/b/1000').length, 1);
  });

  test('a runtime fault on the service aborts requests whichever API routes them', async () => {
    await push({ gatewayApi: [route([{ backendRefs: [to] }])] });
    const s = { ...mesh.snapshot, version: mesh.snapshot.version + 1, faults: [{ id: 'f1', service: 'reviews', host: 'reviews.default.svc.cluster.local', abort: { httpStatus: 418, percentage: 100 } }] };
    for (const sc of mesh.sidecars.values()) assert.equal((await sc.handle({ type: 'config', snapshot: s }))?.type, 'applied');
    const r = await get('/any');
    assert.equal(r.status, 418);
    assert.deepEqual(log('/any').map((e) => e.response_flags), ['FI']);
    await push({ gatewayApi: [route([{ backendRefs: [to] }])] });
  });

  test('AuthorizationPolicy denies at the callee as for any request', async () => {
    await push({
      gatewayApi: [route([{ backendRefs: [to] }])],
      authorizationPolicies: [ap('deny-admin', { selector: { matchLabels: { app: 'reviews' } }, action: 'DENY', rules: [{ to: [{ operation: { paths: ['/admin'] } }] }] })],
    });
    assert.equal((await get('/admin')).status, 403);
    assert.equal((await get('/public')).status, 200);
  });

  test('outlier detection ejects the failing backend of an HTTPRoute\'s Service', async () => {
    await push({
      gatewayApi: [route([{ backendRefs: [to] }])],
      destinationRules: [dr('reviews', { host: 'reviews', trafficPolicy: { outlierDetection: { consecutive5xxErrors: 1, interval: '10s', baseEjectionTime: '30s', maxEjectionPercent: 100 } } })],
    });
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await get(`/od/${i}`)).status);
    // Once reviews-v1 answered 500 it is ejected: the rest go to reviews-v2.
    const firstOk = statuses.indexOf(200);
    assert.ok(statuses.filter((s) => s === 500).length <= 1, `at most one 500 before the ejection: ${statuses}`);
    assert.ok(statuses.slice(firstOk).every((s) => s === 200), `${statuses}`);
  });

  test('RequestMirror: the mirror backend gets a copy with its body, and the caller sees only the route\'s answer', async () => {
    await push({ gatewayApi: [route([{ filters: [{ type: 'RequestMirror', requestMirror: { backendRef: { name: 'ratings', port: 9080 }, percent: 100 } }], backendRefs: [to] }])] });
    const r = await mesh.request('productpage-v1', { url: 'http://reviews:9080/mirrored', method: 'POST', body: 'hello' });
    assert.equal(r.status, 200);
    assert.match(r.json<{ workload: string }>().workload, /^reviews-v[12]$/);
    // The copy is sent beside the request, not before its answer: wait for it to arrive.
    const deadline = Date.now() + 5000;
    while (ratings.hits.length === 0 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
    assert.deepEqual(ratings.hits.map((h) => [h.url, h.bodyBytes]), [['/mirrored', 5]]);
    assert.equal(v1.hits.length + v2.hits.length, 1, 'the route\'s backend got the request once');
  });

  test('the access log names the rule, Istio\'s metrics count the request, the trace has both hops, and the edge says the HTTPRoute routed it', async () => {
    await push({ gatewayApi: [route([{ name: 'all-reviews', backendRefs: [to] }])] });
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const traced = await mesh.request('productpage-v1', { url: 'http://reviews:9080/observed', headers: { 'x-b3-traceid': traceId, 'x-b3-spanid': '00f067aa0ba902b7', 'x-b3-sampled': '1' } });
    assert.equal(traced.status, 200);
    assert.deepEqual(log('/observed').map((e) => e.route_name), ['all-reviews']);
    const pp = mesh.sidecars.get('productpage-v1')!;
    assert.match(await pp.telemetry.metrics.text(), /istio_requests_total\{[^}]*destination_service="reviews\.default\.svc\.cluster\.local"[^}]*response_code="200"/);
    pp.telemetry.flush();
    for (const sc of mesh.sidecars.values()) sc.telemetry.flush();
    const spans = batches.flatMap((b) => expandBatch(b).spans).filter((s) => s.traceId === traceId);
    assert.deepEqual(spans.map((s) => [s.attributes['url.path'], String(s.attributes['upstream_cluster']).replace(/\d+\|\|$/, '')]).sort(), [['/observed', 'inbound|'], ['/observed', 'outbound|9080||reviews.default.svc.cluster.local']]);
    const edges = batches.flatMap((b) => b.edges).filter((e) => e.source === 'productpage-v1' && e.service === 'reviews');
    assert.ok(edges.some((e) => e.routes?.['HTTPRoute default/reviews-route']), JSON.stringify(edges));
  });
});
