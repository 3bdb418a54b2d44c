/**
 * The agreement property for outlier detection: real 5xx from one endpoint
 * eject it from the caller's cluster, and the walk, told which workloads
 * failed past the threshold (`--ejected`, recorded by the sidecar's own
 * detector), predicts the endpoints and outcome the real sidecar gives the
 * next requests: the ejected host skipped; a second failing host kept in by
 * maxEjectionPercent (Istio's 10 %: one of three may go); a subset whose
 * only host is ejected answering 503 UH; and below minHealthPercent (the
 * panic threshold) the ejected host picked anyway. The prediction's set of
 * endpoints must equal the set the sidecar used (round robin visits each
 * eligible one), so a walk that ejects too much or too little fails. Each
 * request is replayed too as `explain --trace` walks it, with the ejections
 * the caller's sidecar recorded in its request record (not the assumption):
 * that walk must agree as well.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { explainRequest } from '../../simulator/explain/walk';
import { disagreement } from '../../simulator/explain/compare';
import { dr, startMeshRetrying, vs, type ServiceDef, type TestMesh } from '../sidecar/fixtures';
import { observe, type SentRequest } from './hops';
import { hopsOf } from '../../simulator/explain/trace';
import type { SpanRecord } from '../../simulator/control/api/contract';

const REVIEWS = ['reviews-v1', 'reviews-v2', 'reviews-v3'];
const SERVICES: ServiceDef[] = [
  { name: 'frontend', workloads: [{ name: 'frontend-v1', labels: { app: 'frontend', version: 'v1' }, serviceAccount: 'frontend' }] },
  { name: 'reviews', workloads: REVIEWS.map((name) => ({ name, labels: { app: 'reviews', version: name.slice(-2) }, serviceAccount: 'reviews' })) },
];
/** Ejections outlast the test (Envoy's max ejection time is raised to a longer base). */
const EJECTION = { consecutive5xxErrors: 1, baseEjectionTime: '10m' };

/** The app of one reviews workload: `/fail/<workload>` answers 503 at that workload, 200 elsewhere. */
async function failingApp(workload: string): Promise<{ server: http.Server; port: number }> {
  const server = http.createServer((req, res) => {
    res.statusCode = req.url === `/fail/${workload}` ? 503 : 200;
    res.end(workload);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port };
}

describe('explain agrees with real sidecars on outlier detection', { timeout: 120_000 }, () => {
  let mesh: TestMesh;
  const apps: http.Server[] = [];
  let n = 0;
  before(async () => {
    const services = structuredClone(SERVICES);
    for (const w of services[1].workloads) {
      const app = await failingApp(w.name);
      apps.push(app.server);
      w.appPort = app.port;
    }
    const route = (subset?: string) => [{ destination: { host: 'reviews', ...(subset ? { subset } : {}) } }];
    mesh = await startMeshRetrying(services, {
      virtualServices: [vs('reviews', { hosts: ['reviews'], http: [
        { match: [{ headers: { 'x-subset': { exact: 'v1' } } }], route: route('v1'), retries: { attempts: 0 } },
        { match: [{ headers: { 'x-subset': { exact: 'v2' } } }], route: route('v2'), retries: { attempts: 0 } },
        { route: route(), retries: { attempts: 0 } },
      ] })],
      destinationRules: [dr('reviews', {
        host: 'reviews',
        trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' }, outlierDetection: EJECTION },
        subsets: [
          { name: 'v1', labels: { version: 'v1' } },
          // Below 50 % healthy hosts the load balancer uses them all (Envoy's panic threshold).
          { name: 'v2', labels: { version: 'v2' }, trafficPolicy: { outlierDetection: { ...EJECTION, minHealthPercent: 50 } } },
        ],
      })],
    });
  });
  after(async () => {
    await mesh?.close();
    for (const a of apps) { a.closeAllConnections(); a.close(); }
  });

  const get = (path: string, headers: Record<string, string> = {}): SentRequest => ({ from: 'frontend-v1', method: 'GET', url: `http://reviews:9080${path}`, headers });

  /**
   * Sends `req` until an attempt reached `workload` (its 503 is then recorded by the caller's detector); bounded.
   * `ejects`: whether the caller's sidecar ejected it (ejections_enforced_total), or maxEjectionPercent kept it in.
   */
  async function failAt(workload: string, req: SentRequest, ejects: boolean): Promise<void> {
    const caller = mesh.sidecars.get('frontend-v1')!;
    const before = caller.stats.get('outlier_detection.ejections_enforced_total');
    for (let i = 0; i < 12; i++) {
      const seen = await observe(mesh, req, `drive-${n++}`, REVIEWS);
      if (!seen.outbound.some((r) => r.step === 'attempt' && r.endpoint === workload)) continue;
      assert.equal(seen.status, 503);
      assert.equal(caller.stats.get('outlier_detection.ejections_enforced_total') - before, ejects ? 1 : 0, `${workload} ${ejects ? 'ejected' : 'kept in'} by the sidecar`);
      return;
    }
    assert.fail(`no request of 12 reached ${workload}`);
  }

  /** Sends `req` `times` times; each must agree with an outcome the walk predicts given `ejected`, and together they must reach exactly the predicted endpoints. */
  async function agrees(req: SentRequest, ejected: string[], times: number): Promise<{ endpoints: Set<string>; status: Set<number> }> {
    const walked = explainRequest(mesh.snapshot, { ...req, appStatus: 200, ejected }, {});
    const candidates = walked.outcomes.filter((o) => o.probability > 0);
    const predicted = new Set(candidates.flatMap((o) => o.records.flatMap((r) => (r.step === 'attempt' && r.endpoint ? [r.endpoint] : []))));
    const seenEndpoints = new Set<string>();
    const status = new Set<number>();
    for (let i = 0; i < times; i++) {
      const seen = await observe(mesh, req, `check-${n++}`, REVIEWS);
      const agreeing = candidates.find((o) => disagreement(o, seen) === undefined);
      assert.ok(agreeing, [
        `${req.url} ${JSON.stringify(req.headers)} given ejected ${ejected.join(', ')}: no predicted outcome agrees`,
        `sidecars: status ${seen.status} flags ${seen.flags}; outbound ${JSON.stringify(seen.outbound)}`,
        ...candidates.map((o) => `predicted ${(o.probability * 100).toFixed(1)} % (${disagreement(o, seen)}): ${o.summary}`),
      ].join('\n'));
      // Replayed as `explain --trace` walks the hop: from the span of the caller's records, whose request record carries the hosts its detector held out then.
      const span = { traceId: 't', spanId: `s${i}`, name: req.url, kind: 'client', role: 'outbound', start: i, durationMs: 1, error: false, workload: req.from, service: 'frontend', namespace: 'default', attributes: { 'http.method': req.method, 'http.url': req.url, 'http.status_code': seen.status }, decisions: seen.outbound } as SpanRecord;
      const [hop] = hopsOf([span]);
      const replayed = explainRequest(mesh.snapshot, hop.request, {}).outcomes.filter((o) => o.probability > 0);
      assert.ok(replayed.some((o) => disagreement(o, seen) === undefined), [
        `the replay of ${req.url} with the recorded ejections ${JSON.stringify(hop.request.ejected ?? [])} does not agree with the sidecar`,
        `sidecars: status ${seen.status}; outbound ${JSON.stringify(seen.outbound)}`,
        ...replayed.map((o) => `replayed ${(o.probability * 100).toFixed(1)} % (${disagreement(o, seen)}): ${o.summary}`),
      ].join('\n'));
      for (const r of seen.outbound) if (r.step === 'attempt' && r.endpoint) seenEndpoints.add(r.endpoint);
      status.add(seen.status);
    }
    assert.deepEqual([...seenEndpoints].sort(), [...predicted].sort(), 'the endpoints the sidecar used are the ones the walk predicts');
    // The odds line (`Cluster ... endpoints:`) lists the same hosts, and names the ejected ones it leaves out (no retries here: first picks are all picks).
    const odds = walked.destinations.flatMap((d) => d.endpoints.map((e) => e.workload));
    assert.deepEqual([...odds].sort(), [...predicted].sort(), 'the odds line lists the endpoints the outcomes reach');
    const left = walked.destinations.flatMap((d) => d.ejected ?? []);
    assert.deepEqual(left.sort(), ejected.filter((w) => walked.destinations.some((d) => d.workloads.includes(w)) && !predicted.has(w)).sort(), 'the odds line names the ejected hosts it leaves out');
    return { endpoints: seenEndpoints, status };
  }

  test('an ejected host is skipped; a second one is kept in by maxEjectionPercent', async () => {
    await failAt('reviews-v1', get('/fail/reviews-v1'), true);
    assert.deepEqual([...(await agrees(get('/ok'), ['reviews-v1'], 4)).endpoints].sort(), ['reviews-v2', 'reviews-v3']);
    await failAt('reviews-v2', get('/fail/reviews-v2'), false);
    // One of three hosts is out already (33 % >= 10 %): reviews-v2 stays in.
    assert.deepEqual([...(await agrees(get('/ok'), ['reviews-v1', 'reviews-v2'], 4)).endpoints].sort(), ['reviews-v2', 'reviews-v3']);
  });

  test('a subset whose only host is ejected has no healthy upstream: 503 UH', async () => {
    await failAt('reviews-v1', get('/fail/reviews-v1', { 'x-subset': 'v1' }), true);
    assert.deepEqual([...(await agrees(get('/ok', { 'x-subset': 'v1' }), ['reviews-v1'], 2)).status], [503]);
  });

  test('below minHealthPercent the load balancer picks the ejected host anyway (panic)', async () => {
    await failAt('reviews-v2', get('/fail/reviews-v2', { 'x-subset': 'v2' }), true);
    assert.deepEqual([...(await agrees(get('/ok', { 'x-subset': 'v2' }), ['reviews-v2'], 2)).endpoints], ['reviews-v2']);
  });
});
