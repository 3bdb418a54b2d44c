/**
 * `devmesh explain --trace` and the per-rule counters against a running
 * `devmesh up` (Bookinfo, real sidecars and apps): one traced request through
 * ingress -> productpage -> reviews (routed by the user header) -> ratings
 * (behind an AuthorizationPolicy); the command sets what each hop's sidecars
 * decided beside the walk's prediction, and the control API counts the
 * request against the rules that decided it.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { BIN, bookinfoFixture, startUp, viaProxy, waitFor, waitReady, type BookinfoFixture, type UpProcess } from '../control/helpers';
import { ControlClient } from '../../simulator/control/api/client';

const POLICIES = {
  'reviews.yaml': `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews }
spec:
  hosts: [reviews]
  http:
    - match:
        - headers:
            end-user: { exact: jason }
      route:
        - destination: { host: reviews, subset: v2 }
    - route:
        - destination: { host: reviews, subset: v1 }
`,
  'ratings-authz.yaml': `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: ratings-viewer }
spec:
  selector:
    matchLabels: { app: ratings }
  action: ALLOW
  rules:
    - from:
        - source:
            principals: [cluster.local/ns/default/sa/bookinfo-reviews]
      to:
        - operation:
            methods: [GET]
`,
};

interface HopJson {
  request: { from: string; method: string; url: string };
  status: number;
  decided: { outbound: Array<{ step: string; rule?: { kind: string; name: string; rule: number }; subset?: string; endpoint?: string }>; inbound: Record<string, Array<Array<{ step: string; allowed?: boolean; rule?: { name: string; rule: number } }>>> };
  agrees: boolean;
  difference?: string;
  predicted?: { summary: string };
}

function run(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd, timeout: 20_000 }, (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
  });
}

describe('explain --trace and per-rule counters on a running mesh', { timeout: 120_000 }, () => {
  let fx: BookinfoFixture;
  let up: UpProcess;
  let client: ControlClient;
  const TRACE = randomBytes(16).toString('hex');

  before(async () => {
    fx = await bookinfoFixture(POLICIES);
    up = startUp(fx.meshFile);
    await waitReady(up, fx.meshFile);
    const s = up.session();
    client = new ControlClient(s.apiUrl, s.token);
    const r = await viaProxy(fx.ingressPort, 'http://productpage:9080/productpage', { 'x-b3-traceid': TRACE, 'x-b3-spanid': randomBytes(8).toString('hex'), 'x-b3-sampled': '1', 'end-user': 'jason' });
    assert.equal(r.status, 200, r.body);
    // Every hop's spans reach the control plane's store (ingress, productpage's two calls, reviews -> ratings; each with its callee's).
    await waitFor('the whole trace', async () => (await client.trace(TRACE).catch(() => undefined))?.spans.length! >= 8, 15_000, 100);
  });
  after(async () => {
    await up?.stop();
    fx?.cleanup();
  });

  test('with the headers the rules read, the walk agrees with every hop the sidecars decided', async () => {
    const r = await run(['explain', '--trace', TRACE, '-f', fx.meshFile, '-H', 'end-user: jason', '--format', 'json'], fx.dir);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const out = JSON.parse(r.stdout) as { agrees: boolean; hops: HopJson[] };
    assert.equal(out.agrees, true);
    const hop = (url: string) => out.hops.find((h) => h.request.url.startsWith(url));
    const toReviews = hop('http://reviews:9080')!;
    assert.equal(toReviews.request.from, 'productpage-v1');
    const route = toReviews.decided.outbound.find((d) => d.step === 'route')!;
    assert.deepEqual([route.rule?.kind, route.rule?.name, route.rule?.rule, route.subset], ['VirtualService', 'reviews', 0, 'v2']);
    assert.deepEqual(toReviews.decided.outbound.filter((d) => d.step === 'attempt').map((d) => d.endpoint), ['reviews-v2']);
    const toRatings = hop('http://ratings:9080')!;
    assert.equal(toRatings.request.from, 'reviews-v2');
    const authz = toRatings.decided.inbound['ratings-v1'][0].find((d) => d.step === 'authz')!;
    assert.deepEqual([authz.allowed, authz.rule?.name, authz.rule?.rule], [true, 'ratings-viewer', 0]);
    assert.ok(out.hops.some((h) => h.request.from === 'ingress'), 'the ingress hop is explained too');
    for (const h of out.hops) assert.ok(h.predicted, `${h.request.url}: a predicted outcome`);
  });

  test('without -H too: each caller recorded the config version and the headers its policies read (end-user, not the rest), and the walk takes them', async () => {
    const r = await run(['explain', '--trace', TRACE, '-f', fx.meshFile, '--format', 'json'], fx.dir);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const out = JSON.parse(r.stdout) as { agrees: boolean; hops: Array<HopJson & { walkedOver: string; request: { headers: Record<string, string> } }> };
    const toReviews = out.hops.find((h) => h.request.url.startsWith('http://reviews:9080'))!;
    assert.deepEqual(toReviews.request.headers, { 'end-user': 'jason' });
    assert.match(toReviews.walkedOver, /^config v\d+, in force when the request ran$/);
    const recorded = toReviews.decided.outbound[0] as unknown as { step: string; config: number; headers: Record<string, string> };
    assert.equal(recorded.step, 'request');
    assert.deepEqual(recorded.headers, { 'end-user': 'jason' });
  });

  test('after the policies change, the trace is still walked over the config it ran under; the folder\'s policies now would route it elsewhere', async () => {
    const before = (await client.config()).version;
    fx.write('reviews.yaml', POLICIES['reviews.yaml'].replace('subset: v2 }', 'subset: v3 }'));
    await waitFor('the edit applied', async () => (await client.config()).version > before, 15_000, 100);
    const r = await run(['explain', '--trace', TRACE, '-f', fx.meshFile], fx.dir);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`walked over config v${before}, in force when the request ran`));
    assert.match(r.stdout, /route {5}VirtualService default\/reviews rule 0 -> reviews\.default\.svc\.cluster\.local:9080 subset v2/);
    // The offline walk reads the folder as it is now: jason goes to v3.
    const now = await run(['explain', '-f', fx.meshFile, '--from', 'productpage-v1', 'GET', 'http://reviews:9080/reviews/0', '-H', 'end-user: jason', '--format', 'json'], fx.dir);
    assert.equal((JSON.parse(now.stdout) as { route: { destinations: Array<{ subset: string }> } }).route.destinations[0].subset, 'v3');
  });

  test('a trace the mesh does not keep is a usage error that says so', async () => {
    const r = await run(['explain', '--trace', '0'.repeat(32), '-f', fx.meshFile], fx.dir);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /no trace 0{32}/);
  });

  test('the control API counts the request against the route and authorization rules that decided it, with the edge and the trace', async () => {
    const routed = await waitFor('the reviews rule counted', async () => (await client.rules({ rule: 'VirtualService/default/reviews/0' })).rules[0], 15_000, 100);
    assert.ok(routed.requests >= 1 && routed.requestsPerMinute >= 1 && routed.total >= 1);
    assert.equal(routed.errorRate, 0);
    assert.ok(routed.p99Ms !== null && routed.p99Ms >= 0);
    assert.deepEqual(routed.edges.map((e) => `${e.source}>${e.destination}`), ['productpage-v1>reviews-v2']);
    assert.ok(routed.traces.includes(TRACE));
    const allowed = await waitFor('the ratings rule counted', async () => (await client.rules({ rule: 'AuthorizationPolicy/default/ratings-viewer/0' })).rules[0], 15_000, 100);
    assert.deepEqual(allowed.edges.map((e) => `${e.source}>${e.destination}`), ['reviews-v2>ratings-v1']);
    // The rule no request matched is not listed; an edge lists the rules that sent traffic over it.
    assert.equal((await client.rules({ rule: 'VirtualService/default/reviews/1' })).rules.length, 0);
    const edge = await client.rules({ edge: { source: 'productpage-v1', destination: 'reviews-v2' } });
    assert.deepEqual(edge.rules.map((x) => x.rule), ['VirtualService/default/reviews/0']);
    assert.ok((await client.traces({ rule: 'VirtualService/default/reviews/0' })).traces.some((t) => t.traceId === TRACE));
    assert.equal((await client.traces({ rule: 'VirtualService/default/reviews/1' })).traces.length, 0);
  });
});
