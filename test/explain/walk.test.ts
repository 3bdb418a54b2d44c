/**
 * The static walk over snapshots built in code: what each step reports, the
 * odds, and the records — built by the sidecars' own record builders.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { explainRequest, ExplainUsageError } from '../../simulator/explain/walk';
import type { ExplainRequest } from '../../simulator/explain/result';
import { ap, dr, gw, pa, snapshotOf, vs, type Policies, type ServiceDef } from '../sidecar/fixtures';

const SERVICES: ServiceDef[] = [
  { name: 'productpage', workloads: [{ name: 'productpage-v1', labels: { app: 'productpage', version: 'v1' }, serviceAccount: 'bookinfo-productpage' }] },
  { name: 'reviews', workloads: [
    { name: 'reviews-v1', labels: { app: 'reviews', version: 'v1' }, serviceAccount: 'bookinfo-reviews' },
    { name: 'reviews-v2', labels: { app: 'reviews', version: 'v2' }, serviceAccount: 'bookinfo-reviews' },
    { name: 'reviews-v3', labels: { app: 'reviews', version: 'v3' }, serviceAccount: 'bookinfo-reviews' },
  ] },
  { name: 'ratings', workloads: [{ name: 'ratings-v1', labels: { app: 'ratings', version: 'v1' } }] },
];
const subsets = dr('reviews', { host: 'reviews', subsets: ['v1', 'v2', 'v3'].map((v) => ({ name: v, labels: { version: v } })) });
const jasonToV2 = vs('reviews', { hosts: ['reviews'], http: [
  { match: [{ headers: { 'end-user': { exact: 'jason' } } }, { uri: { prefix: '/beta' } }], route: [{ destination: { host: 'reviews', subset: 'v2' } }] },
  { route: [{ destination: { host: 'reviews', subset: 'v1' }, weight: 75 }, { destination: { host: 'reviews', subset: 'v3' }, weight: 25 }, { destination: { host: 'reviews', subset: 'v2' }, weight: 0 }] },
] });

const explain = (policies: Policies, req: Partial<ExplainRequest> = {}) =>
  explainRequest(snapshotOf(SERVICES, policies), { from: 'productpage-v1', method: 'GET', url: 'http://reviews:9080/reviews/0', headers: {}, ...req });

describe('explain: routing', () => {
  test('each rule before the one that matched says the first condition each of its matches failed', () => {
    const r = explain({ virtualServices: [jasonToV2], destinationRules: [subsets] });
    assert.deepEqual(r.route.rules.map((x) => [x.rule.rule, x.matched, x.failed ?? x.because]), [
      [0, false, ['header end-user exact "jason" (the request has none)', 'uri prefix "/beta" (the request has "/reviews/0")']],
      [1, true, 'no match conditions: every request'],
    ]);
    assert.deepEqual(r.route.chosen, { kind: 'VirtualService', namespace: 'default', name: 'reviews', rule: 1 });
  });

  test('weights are odds: relative, and a weight of 0 is no destination', () => {
    const r = explain({ virtualServices: [jasonToV2], destinationRules: [subsets] });
    assert.deepEqual(r.route.destinations!.map((d) => [d.subset, d.probability, d.weight]), [['v1', 0.75, 75], ['v3', 0.25, 25]]);
    assert.deepEqual(r.outcomes.map((o) => [o.summary, o.probability]), [
      ['forwarded to reviews-v1 (subset v1, 75 %): the app answers', 0.75],
      ['forwarded to reviews-v3 (subset v3, 25 %): the app answers', 0.25],
    ]);
    assert.equal(r.answered, true);
  });

  test('a matched rule says which of its matches did', () => {
    const r = explain({ virtualServices: [jasonToV2], destinationRules: [subsets] }, { headers: { 'End-User': 'jason' } });
    assert.deepEqual(r.route.rules.map((x) => [x.rule.rule, x.matched, x.because]), [[0, true, 'header end-user exact "jason"']]);
    assert.deepEqual(r.destinations.map((d) => [d.subset, d.workloads, d.endpoints]), [['v2', ['reviews-v2'], [{ workload: 'reviews-v2', probability: 1 }]]]);
  });

  test('without a VirtualService the default route takes every workload, least-request shares them evenly', () => {
    const r = explain({});
    assert.equal(r.route.source, undefined);
    assert.equal(r.route.routeName, 'default');
    const d = r.destinations[0];
    assert.equal(d.loadBalancer.policy, 'LEAST_REQUEST');
    assert.match(d.loadBalancer.source, /Istio 1\.30 default: .*cluster_traffic_policy\.go/);
    assert.deepEqual(d.endpoints.map((e) => [e.workload, Number(e.probability.toFixed(4))]), [['reviews-v1', 0.3333], ['reviews-v2', 0.3333], ['reviews-v3', 0.3333]]);
  });

  test('round robin over a cycle of requests gives each workload its turn', () => {
    const r = explain({ destinationRules: [dr('reviews', { host: 'reviews', trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' } } })] });
    assert.deepEqual(r.destinations[0].endpoints.map((e) => Number(e.probability.toFixed(4))), [0.3333, 0.3333, 0.3333]);
  });

  test('a consistent hash on a header present in the request names one workload', () => {
    const r = explain({ destinationRules: [dr('reviews', { host: 'reviews', trafficPolicy: { loadBalancer: { consistentHash: { httpHeaderName: 'x-user' } } } })] }, { headers: { 'x-user': 'jason' } });
    assert.equal(r.destinations[0].endpoints.length, 1);
    assert.equal(r.destinations[0].loadBalancer.policy, 'consistent hash on header x-user');
  });

  test('a subset no DestinationRule defines is refused, exit 1', () => {
    const r = explain({ virtualServices: [vs('reviews', { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews', subset: 'v9' } }] }] })], destinationRules: [subsets] });
    assert.equal(r.answered, false);
    assert.match(r.outcomes[0].summary, /^503 NR: subset "v9" is not defined/);
  });

  test('no rule matching is 404 NR, with every rule\'s failed condition', () => {
    const r = explain({ virtualServices: [vs('reviews', { hosts: ['reviews'], http: [{ match: [{ method: { exact: 'POST' } }], route: [{ destination: { host: 'reviews' } }] }] })] });
    assert.equal(r.route.action, 'refused');
    assert.deepEqual(r.route.rules[0].failed, ['method exact "POST" (the request has "GET")']);
    assert.equal(r.outcomes[0].status, 404);
    assert.equal(r.answered, false);
  });

  test('a redirect is the mesh\'s own answer', () => {
    const r = explain({ virtualServices: [vs('reviews', { hosts: ['reviews'], http: [{ redirect: { uri: '/v2/reviews' } }] })] });
    assert.equal(r.outcomes[0].kind, 'mesh');
    assert.equal(r.outcomes[0].status, 301);
    assert.equal(r.answered, true);
  });

  test('an unknown --from is a usage error that lists the workloads', () => {
    assert.throws(() => explain({}, { from: 'nobody' }), (e) => e instanceof ExplainUsageError && /productpage-v1, .*ingress/.test(e.message));
  });
});

describe("explain: the headers after the connection manager's own mutations, as the sidecars match them", () => {
  const byHeader = (name: string, match: Record<string, string>) => vs('reviews', { hosts: ['reviews'], http: [
    { match: [{ headers: { [name]: match } }], route: [{ destination: { host: 'reviews', subset: 'v2' } }] },
    { route: [{ destination: { host: 'reviews', subset: 'v1' } }] },
  ] });

  test("an app's own x-forwarded-client-cert is sanitized before the route matches", () => {
    const r = explain({ virtualServices: [byHeader('x-forwarded-client-cert', { prefix: 'By=' })], destinationRules: [subsets] }, { headers: { 'x-forwarded-client-cert': 'By=spiffe://cluster.local/ns/default/sa/forged' } });
    assert.deepEqual(r.route.chosen, { kind: 'VirtualService', namespace: 'default', name: 'reviews', rule: 1 });
    assert.deepEqual(r.route.rules[0].failed, ['header x-forwarded-client-cert prefix "By=" (the request has none)']);
  });

  test("the ingress's route matches x-forwarded-for with the client address it appended", () => {
    const r = explain({ virtualServices: [byHeader('x-forwarded-for', { exact: '10.0.0.1, 127.0.0.1' })], destinationRules: [subsets] }, { from: 'ingress', headers: { 'x-forwarded-for': '10.0.0.1' } });
    assert.deepEqual(r.route.chosen, { kind: 'VirtualService', namespace: 'default', name: 'reviews', rule: 0 });
  });

  test("the ingress's route matches the x-forwarded-proto of the client's connection, not the client's own, as the sidecar's", () => {
    const r = explain({ virtualServices: [byHeader('x-forwarded-proto', { exact: 'https' })], destinationRules: [subsets] }, { from: 'ingress', headers: { 'x-forwarded-proto': 'https' } });
    assert.deepEqual(r.route.chosen, { kind: 'VirtualService', namespace: 'default', name: 'reviews', rule: 1 });
    assert.deepEqual(r.route.rules[0].failed, ['header x-forwarded-proto exact "https" (the request has "http")']);
  });

  test('a connection-specific header the client sent is matched by no route, as it reaches no filter', () => {
    const r = explain({ virtualServices: [byHeader('keep-alive', { exact: 'timeout=5' })], destinationRules: [subsets] }, { headers: { 'keep-alive': 'timeout=5' } });
    assert.deepEqual(r.route.chosen, { kind: 'VirtualService', namespace: 'default', name: 'reviews', rule: 1 });
  });

  test("a workload's AuthorizationPolicy reads the x-forwarded-client-cert its inbound sets for the mTLS caller", () => {
    const byXfcc = ap('ratings-by-xfcc', { selector: { matchLabels: { app: 'ratings' } }, rules: [{ when: [{ key: 'request.headers[x-forwarded-client-cert]', values: ['*;URI=spiffe://cluster.local/ns/default/sa/bookinfo-productpage'] }] }] });
    assert.equal(explain({ authorizationPolicies: [byXfcc] }, { url: 'http://ratings:9080/ratings/0' }).answered, true);
  });
});

describe('explain: resilience', () => {
  test('faults are odds, and an abort is the mesh refusing', () => {
    const r = explain({ virtualServices: [vs('reviews', { hosts: ['reviews'], http: [{ fault: { abort: { httpStatus: 503, percentage: { value: 20 } } }, route: [{ destination: { host: 'reviews' } }] }] })] });
    assert.deepEqual(r.route.faults, [{ kind: 'abort', probability: 0.2, status: 503, source: 'route' }]);
    const abort = r.outcomes.find((o) => o.kind === 'refused')!;
    assert.equal(Number(abort.probability.toFixed(6)), 0.2);
    assert.deepEqual(abort.records.map((x) => x.step), ['route', 'fault']);
    assert.deepEqual(abort.records[1], { step: 'fault', rule: { kind: 'VirtualService', namespace: 'default', name: 'reviews', rule: 0 }, abort: 503 });
  });

  test('the default retry policy is said with the Istio release and pilot line it comes from', () => {
    const r = explain({});
    assert.equal(r.route.retries!.retries, 2);
    assert.equal(r.route.retries!.on, 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes');
    assert.match(r.route.retries!.source, /^Istio 1\.30 default: .*retry\.go:36/);
  });

  test('with an app answering 503, Istio 1.30 returns it at once and compatibilityVersion 1.23 retries it twice', () => {
    const now = explain({}, { appStatus: 503 });
    assert.deepEqual(now.outcomes.map((o) => o.records.filter((x) => x.step === 'attempt').length), [1, 1, 1]);
    const old = explain({ mesh: { compatibilityVersion: '1.23' } }, { appStatus: 503 });
    assert.ok(old.outcomes.every((o) => o.flags === 'URX' && o.records.filter((x) => x.step === 'attempt').length === 3));
    assert.match(old.route.retries!.source, /retriable status codes 503 from compatibilityVersion 1\.23/);
  });

  test('a rule\'s own retries are said as the rule\'s', () => {
    const r = explain({ virtualServices: [vs('reviews', { hosts: ['reviews'], http: [{ retries: { attempts: 4, retryOn: '5xx', perTryTimeout: '1s' }, route: [{ destination: { host: 'reviews' } }] }] })] }, { appStatus: 500 });
    assert.deepEqual([r.route.retries!.retries, r.route.retries!.on, r.route.retries!.perTryTimeoutMs], [4, '5xx', 1000]);
    assert.equal(r.outcomes[0].records.filter((x) => x.step === 'attempt').length, 5);
  });

  test('the merged DestinationRule policy: port level replaces, the subset overrides', () => {
    const rule = dr('reviews', {
      host: 'reviews',
      trafficPolicy: { connectionPool: { tcp: { maxConnections: 10 } }, portLevelSettings: [{ port: { number: 9080 }, outlierDetection: { consecutive5xxErrors: 3 } }] },
      subsets: [{ name: 'v1', labels: { version: 'v1' }, trafficPolicy: { loadBalancer: { simple: 'RANDOM' } } }],
    });
    const r = explain({ destinationRules: [rule], virtualServices: [vs('reviews', { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews', subset: 'v1' } }] }] })] });
    const d = r.destinations[0];
    assert.deepEqual(d.policy.connectionPool, { maxRequestsPerConnection: 0, idleTimeoutMs: 3_600_000, connectTimeoutMs: 10_000 }, 'the port-level entry replaced the top level: no maxConnections');
    assert.equal(d.policy.outlierDetection?.consecutive5xx, 3);
    assert.equal(d.loadBalancer.policy, 'RANDOM');
    assert.deepEqual(d.policy.levels, ['trafficPolicy', 'trafficPolicy.portLevelSettings port 9080 (replaces the top level for this port)', 'subset v1 trafficPolicy (overrides field by field)']);
  });
});

describe('explain: security at the destination', () => {
  const viewer = ap('ratings-viewer', { selector: { matchLabels: { app: 'ratings' } }, rules: [{ from: [{ source: { principals: ['cluster.local/ns/default/sa/bookinfo-reviews'] } }], to: [{ operation: { methods: ['GET'] } }] }] });

  test('an ALLOW policy that does not match denies, naming the principal and the rule', () => {
    const r = explain({ authorizationPolicies: [viewer] }, { url: 'http://ratings:9080/ratings/0' });
    assert.equal(r.answered, false);
    assert.equal(r.outcomes[0].summary, '403 RBAC: access denied by AuthorizationPolicy default/ratings-viewer: principal cluster.local/ns/default/sa/bookinfo-productpage not in principals ["cluster.local/ns/default/sa/bookinfo-reviews"] (rule 0)');
    assert.deepEqual(r.outcomes[0].records.at(-1), { step: 'authz', proxy: 'ratings-v1', allowed: false, reason: 'no ALLOW policy matched (default/ratings-viewer)' });
  });

  test('a matching DENY names its rule; AUDIT and dry-run are listed but never decide', () => {
    const deny = ap('deny-post', { selector: { matchLabels: { app: 'ratings' } }, action: 'DENY', rules: [{ to: [{ operation: { paths: ['/admin'] } }] }, { to: [{ operation: { methods: ['GET'] } }] }] });
    const audit = ap('audit', { action: 'AUDIT', rules: [{}] });
    const dry = { ...ap('dry', { action: 'DENY', rules: [{}] }), metadata: { name: 'dry', namespace: 'default', annotations: { 'istio.io/dry-run': 'true' } } };
    const r = explain({ authorizationPolicies: [deny, audit, dry] }, { url: 'http://ratings:9080/ratings/0' });
    const at = r.destinations[0].at[0];
    assert.deepEqual(at.authz.policies.map((p) => [p.policy.name, p.action, p.dryRun, p.matched]), [['deny-post', 'DENY', false, 1], ['audit', 'AUDIT', false, 0], ['dry', 'DENY', true, 0]]);
    assert.equal(at.authz.policies[0].rules[0].failed, 'path /ratings/0 not in paths ["/admin"]');
    assert.equal(r.outcomes[0].summary, '403 RBAC: access denied by AuthorizationPolicy default/deny-post (DENY) rule 1');
    assert.deepEqual(r.outcomes[0].records.at(-1), {
      step: 'authz', proxy: 'ratings-v1', allowed: false, rule: { kind: 'AuthorizationPolicy', namespace: 'default', name: 'deny-post', rule: 1 }, action: 'DENY',
      reason: 'default/deny-post', audit: ['default/audit'], dryRun: { allowed: false, policy: 'default/dry' },
    });
  });

  test('a plaintext caller (tls DISABLE) at a STRICT port is refused, and the PeerAuthentication that set it is named', () => {
    const r = explain({ peerAuthentications: [pa('strict', { mtls: { mode: 'STRICT' } })], destinationRules: [dr('reviews', { host: 'reviews', trafficPolicy: { tls: { mode: 'DISABLE' } } })] });
    const at = r.destinations[0].at[0];
    assert.deepEqual([at.mtls.sends, at.port?.mode, at.port?.admitted], [false, 'STRICT', false]);
    assert.deepEqual(at.port?.source, { kind: 'PeerAuthentication', namespace: 'default', name: 'strict' });
    assert.equal(r.answered, false);
  });

  test('auto mTLS sends plaintext to a DISABLE workload', () => {
    const r = explain({ peerAuthentications: [pa('off', { selector: { matchLabels: { app: 'reviews' } }, mtls: { mode: 'DISABLE' } })] });
    assert.deepEqual(r.destinations[0].at.map((a) => [a.mtls.sends, a.port?.admitted]), [[false, true], [false, true], [false, true]]);
  });
});

describe('explain: the ingress', () => {
  const gateway = gw('bookinfo-gateway', { selector: { istio: 'ingressgateway' }, servers: [{ port: { number: 8080, name: 'http', protocol: 'HTTP' }, hosts: ['bookinfo.example.com'] }] });
  const bookinfo = vs('bookinfo', { hosts: ['bookinfo.example.com'], gateways: ['bookinfo-gateway'], http: [{ match: [{ uri: { exact: '/productpage' } }], route: [{ destination: { host: 'productpage', port: { number: 9080 } } }] }] });

  test('an origin-form request is routed by the Gateway and its VirtualService', () => {
    const r = explain({ gateways: [gateway], virtualServices: [bookinfo] }, { from: 'ingress', url: 'http://bookinfo.example.com/productpage' });
    assert.equal(r.host.via, 'gateway');
    assert.deepEqual(r.host.gateways, [{ name: 'default/bookinfo-gateway', hosts: ['bookinfo.example.com'], matched: true }]);
    assert.deepEqual(r.host.virtualServices, [{ name: 'default/bookinfo', gateway: 'default/bookinfo-gateway', outcome: 'routed', domain: 'bookinfo.example.com' }]);
    assert.equal(r.outcomes[0].summary, 'forwarded to productpage-v1: the app answers');
    assert.equal(r.caller.proxy, 'istio-ingressgateway');
  });

  test('a host no Gateway serves is 404 NR', () => {
    const r = explain({ gateways: [gateway], virtualServices: [bookinfo] }, { from: 'ingress', url: 'http://other.example.com/productpage' });
    assert.deepEqual(r.host.gateways?.map((g) => g.matched), [false]);
    assert.equal(r.outcomes[0].status, 404);
  });

  test('a Host is served from its most specific virtual host only: a wider VirtualService is named, not tried', () => {
    const edge = gw('edge', { selector: { istio: 'ingressgateway' }, servers: [{ port: { number: 8080, name: 'http', protocol: 'HTTP' }, hosts: ['*'] }] });
    const wide = vs('wide', { hosts: ['*.example.com'], gateways: ['edge'], http: [{ route: [{ destination: { host: 'productpage', port: { number: 9080 } } }] }] });
    const exact = vs('exact', { hosts: ['a.example.com'], gateways: ['edge'], http: [{ match: [{ uri: { prefix: '/mine' } }], route: [{ destination: { host: 'productpage', port: { number: 9080 } } }] }] });
    const r = explain({ gateways: [edge], virtualServices: [wide, exact] }, { from: 'ingress', url: 'http://a.example.com/other' });
    assert.deepEqual(r.host.virtualServices, [
      { name: 'default/wide', gateway: 'default/edge', outcome: 'other-virtual-host', domain: 'a.example.com' },
      { name: 'default/exact', gateway: 'default/edge', outcome: 'no-rule-matched', domain: 'a.example.com' },
    ]);
    assert.equal(r.outcomes[0].status, 404);
  });
});

describe('explain: timeouts and mirrors', () => {
  const toV1 = (rule: Record<string, unknown>) => vs('reviews', { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews', subset: 'v1' } }], ...rule }] });

  test('an app slower than the route timeout: the attempt in flight ends UT, 504, not retried', () => {
    const r = explain({ virtualServices: [toV1({ timeout: '1s' })], destinationRules: [subsets] }, { appStatus: 200, appDelayMs: 2000 });
    assert.deepEqual(r.outcomes.map((o) => [o.status, o.flags, o.records.filter((x) => x.step === 'attempt')]), [
      [504, 'UT', [{ step: 'attempt', n: 1, endpoint: 'reviews-v1', result: 'UT', retried: false }]],
    ]);
    assert.match(r.outcomes[0].summary, /^504 UT: upstream request timeout \(the route timeout, 1s, passed during attempt 1\)/);
  });

  test('per-try timeouts are retried under 5xx until none are left (URX); the client\'s own header turns the route timeout off', () => {
    const r = explain({ virtualServices: [toV1({ timeout: '1s', retries: { attempts: 2, perTryTimeout: '250ms', retryOn: '5xx' } })], destinationRules: [subsets] },
      { appStatus: 200, appDelayMs: 2000, headers: { 'x-envoy-upstream-rq-timeout-ms': '0' } });
    assert.deepEqual(r.outcomes.map((o) => [o.status, o.flags, o.records.filter((x) => x.step === 'attempt').map((a) => a.step === 'attempt' && `${a.result}${a.retried ? '+' : ''}`)]), [
      [504, 'UT,URX', ['UT+', 'UT+', 'UT']],
    ]);
  });

  test('the client\'s x-envoy-upstream-rq-timeout-ms cuts a slow answer without any route timeout', () => {
    const r = explain({ destinationRules: [subsets], virtualServices: [toV1({})] }, { appStatus: 200, appDelayMs: 500, headers: { 'x-envoy-upstream-rq-timeout-ms': '100' } });
    assert.deepEqual(r.outcomes.map((o) => [o.status, o.flags]), [[504, 'UT']]);
    const fast = explain({ destinationRules: [subsets], virtualServices: [toV1({})] }, { appStatus: 200, appDelayMs: 50, headers: { 'x-envoy-upstream-rq-timeout-ms': '100' } });
    assert.deepEqual(fast.outcomes.map((o) => [o.status, o.flags]), [[200, undefined]]);
  });

  test('the route timeout bounds the backoffs too: a jittered wait that outlasts it ends the request 504 UT before the retry', () => {
    // Backoffs uniform in [0, 2s), then [0, 6s): the first outlasts a 1.2 s timeout 40 % of the time,
    // both together stay under it 1.2^2 / (2 x 2 x 6) = 6 % of the time.
    const r = explain({ virtualServices: [toV1({ timeout: '1200ms', retries: { attempts: 2, retryOn: '5xx', backoff: '2s' } })], destinationRules: [subsets] }, { appStatus: 503 });
    const shown = r.outcomes.map((o) => [Number(o.probability.toFixed(6)), o.status, o.flags, o.records.filter((x) => x.step === 'attempt').map((a) => a.step === 'attempt' && `${a.result}${a.retried ? '+' : ''}`).join(' ')]);
    assert.deepEqual(shown, [[0.54, 504, 'UT', '503+ 503+'], [0.4, 504, 'UT', '503+'], [0.06, 503, 'URX', '503+ 503+ 503']]);
    assert.match(r.outcomes[0].summary, /^504 UT: upstream request timeout \(the route timeout, 1\.2s, passed during the backoff before retry 2\) after 2 attempts/);
    // Without a timeout every wait ends: each retry is made, the last 503 goes back (URX).
    const untimed = explain({ virtualServices: [toV1({ retries: { attempts: 2, retryOn: '5xx', backoff: '2s' } })], destinationRules: [subsets] }, { appStatus: 503 });
    assert.deepEqual(untimed.outcomes.map((o) => [o.status, o.flags]), [[503, 'URX']]);
  });

  test('a mirror percentage is odds: each outcome with and without the copy', () => {
    const r = explain({ virtualServices: [toV1({ mirror: { host: 'ratings' }, mirrorPercentage: { value: 25 } })], destinationRules: [subsets] }, { appStatus: 200 });
    assert.deepEqual(r.outcomes.map((o) => [o.probability, o.records.filter((x) => x.step === 'mirror')]), [
      [0.75, []],
      [0.25, [{ step: 'mirror', rule: { kind: 'VirtualService', namespace: 'default', name: 'reviews', rule: 0 }, to: ['ratings'] }]],
    ]);
  });
});
