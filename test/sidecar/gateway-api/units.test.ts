/** Gateway API routing decisions as pure functions over compiled tables: no sockets. */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import type { Resource } from '../../../simulator/policy/model';
import { compileTables, routeKey, type MeshTables } from '../../../simulator/sidecar/tables';
import { attributesFor, planMesh, type RoutePlan } from '../../../simulator/sidecar/routing/plan';
import { pathPrefixMatches, replacePrefixMatch } from '../../../simulator/sidecar/routing/gatewayApi/paths';
import { redirectLocation } from '../../../simulator/sidecar/routing/gatewayApi/action';
import { retryPolicyFor } from '../../../simulator/sidecar/resilience/retryPolicy';
import { routeTimeoutMs } from '../../../simulator/sidecar/resilience/timeoutPolicy';
import { mirrorTargets } from '../../../simulator/sidecar/routing/mirror';
import { seededRandom } from '../../../simulator/random';
import { snapshotOf, vs, NS } from '../fixtures';

type Route = Resource<'HTTPRoute'>;
const route = (name: string, spec: Route['spec'], namespace = NS, created?: string): Route =>
  ({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name, namespace, ...(created ? { creationTimestamp: created } : {}) }, spec });
const onService = (name: string, port?: number) => [{ group: '', kind: 'Service', name, ...(port ? { port } : {}) }];
const to = (name: string, extra: Record<string, unknown> = {}) => ({ name, port: 9080, ...extra });

const SERVICES = [
  { name: 'productpage', workloads: [{ name: 'productpage-v1' }] },
  { name: 'reviews', workloads: [{ name: 'reviews-v1' }, { name: 'reviews-v2' }] },
  { name: 'reviews-v1', workloads: [] },
  { name: 'reviews-v2', workloads: [] },
  { name: 'ratings', workloads: [{ name: 'ratings-v1' }] },
];

function tables(routes: Route[], extra: { virtualServices?: Resource<'VirtualService'>[] } = {}, workload = 'productpage-v1'): MeshTables {
  const s = snapshotOf(SERVICES, { virtualServices: extra.virtualServices });
  return compileTables({ ...s, httpRoutes: routes }, workload);
}

function plan(t: MeshTables, path: string, headers: Record<string, string> = {}, method = 'GET', host = 'reviews:9080'): RoutePlan {
  return planMesh(t, attributesFor(method, path, host, headers, t.identity.labels, 'mesh', t.identity.namespace), seededRandom(7));
}
const where = (p: RoutePlan) => (p.kind === 'forward' ? `${p.service.name} ${p.path}` : p.kind === 'error' ? `${p.error.status} ${p.error.reason}` : p.kind === 'redirect' ? `${p.status} ${p.location}` : `${p.status}`);

describe('PathPrefix and ReplacePrefixMatch', () => {
  it('a PathPrefix matches whole segments, a trailing slash ignored', () => {
    assert.deepEqual(['/abc', '/abc/', '/abc/def', '/abcd', '/ab'].map((p) => pathPrefixMatches('/abc', p)), [true, true, true, false, false]);
    assert.deepEqual(['/abc', '/abc/def', '/abcd'].map((p) => pathPrefixMatches('/abc/', p)), [true, true, false]);
    assert.ok(pathPrefixMatches('/', '/anything'));
  });

  it('ReplacePrefixMatch follows the Gateway API table row by row', () => {
    const rows: [string, string, string, string][] = [
      ['/foo/bar', '/foo', '/xyz', '/xyz/bar'], ['/foo/bar', '/foo', '/xyz/', '/xyz/bar'], ['/foo/bar', '/foo/', '/xyz', '/xyz/bar'],
      ['/foo/bar', '/foo/', '/xyz/', '/xyz/bar'], ['/foo', '/foo', '/xyz', '/xyz'], ['/foo/', '/foo', '/xyz', '/xyz/'],
      ['/foo/bar', '/foo', '', '/bar'], ['/foo/', '/foo', '', '/'], ['/foo', '/foo', '', '/'], ['/foo/', '/foo', '/', '/'], ['/foo', '/foo', '/', '/'],
    ];
    for (const [path, prefix, replacement, want] of rows) assert.equal(replacePrefixMatch(path, prefix, replacement), want, `${path} ${prefix} ${replacement}`);
  });
});

describe('RequestRedirect Location', () => {
  const req = { method: 'GET', path: '/a?x=1', authority: 'echo', scheme: 'http' as const, port: 80 };
  it('derives the port from the scheme it sets, else from the port the request was sent to, and omits 80 for http and 443 for https', () => {
    assert.equal(redirectLocation({ hostname: 'example.org' }, undefined, req).location, 'http://example.org/a?x=1');
    assert.equal(redirectLocation({ hostname: 'example.org' }, undefined, { ...req, port: 8080 }).location, 'http://example.org:8080/a?x=1');
    assert.equal(redirectLocation({ scheme: 'https' }, undefined, { ...req, port: 8080 }).location, 'https://echo/a?x=1');
    assert.equal(redirectLocation({ port: 8083 }, undefined, req).location, 'http://echo:8083/a?x=1');
    assert.equal(redirectLocation({ scheme: 'https', port: 443 }, undefined, req).location, 'https://echo/a?x=1');
    assert.equal(redirectLocation({}, undefined, req).status, 302);
    assert.equal(redirectLocation({ statusCode: 308, path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/b' } }, '/a', req).location, 'http://echo/b?x=1');
  });
});

describe('HTTPRoutes on a Service, as a sidecar plans', () => {
  it('with a route attached, a request no rule matches gets 404 (NR); without one, traffic flows as without a mesh', () => {
    const t = tables([route('r', { parentRefs: onService('reviews'), rules: [{ matches: [{ path: { type: 'Exact', value: '/only' } }], backendRefs: [to('reviews')] }] })]);
    assert.equal(where(plan(t, '/only')), 'reviews /only');
    assert.equal(where(plan(t, '/other')), '404 no-route-match');
    assert.equal(where(plan(t, '/x', {}, 'GET', 'ratings:9080')), 'ratings /x', 'ratings has no route: the default');
    assert.equal(t.routes.get(routeKey('reviews.default.svc.cluster.local', 9080))!.source!.api, 'HTTPRoute');
  });

  it('the most specific match wins across every route of the parent, whatever their order; ties go to the older route, then to namespace/name', () => {
    const routes = [
      route('b-catch-all', { parentRefs: onService('reviews'), rules: [{ backendRefs: [to('ratings')] }] }),
      route('a-prefix', { parentRefs: onService('reviews'), rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/v2' } }], backendRefs: [to('reviews-v2')] }] }),
      route('c-exact', { parentRefs: onService('reviews'), rules: [{ matches: [{ path: { type: 'Exact', value: '/v2/x' } }], backendRefs: [to('reviews-v1')] }] }),
      route('d-header', { parentRefs: onService('reviews'), rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/v2' }, headers: [{ name: 'end-user', value: 'jason' }] }], backendRefs: [to('productpage')] }] }),
      route('e-method', { parentRefs: onService('reviews'), rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/v2' }, method: 'POST' }], backendRefs: [to('reviews')] }] }),
    ];
    const t = tables(routes);
    assert.equal(where(plan(t, '/v2/x')), 'reviews-v1 /v2/x', 'Exact first');
    assert.equal(where(plan(t, '/v2/y', { 'end-user': 'jason' }, 'POST')), 'reviews /v2/y', 'then a method');
    assert.equal(where(plan(t, '/v2/y', { 'end-user': 'jason' })), 'productpage /v2/y', 'then the most headers');
    assert.equal(where(plan(t, '/v2/y')), 'reviews-v2 /v2/y', 'a longer prefix beats /');
    assert.equal(where(plan(t, '/v2y')), 'ratings /v2y', 'whole segments only');
    const tie = (createdA: string, createdB: string) => tables([
      route('zz', { parentRefs: onService('reviews'), rules: [{ backendRefs: [to('reviews-v1')] }] }, NS, createdA),
      route('aa', { parentRefs: onService('reviews'), rules: [{ backendRefs: [to('reviews-v2')] }] }, NS, createdB),
    ]);
    assert.equal(where(plan(tie('2024-01-01T00:00:00Z', '2024-06-01T00:00:00Z'), '/')), 'reviews-v1 /', 'the older route');
    assert.equal(where(plan(tie('2024-06-01T00:00:00Z', '2024-06-01T00:00:00Z'), '/')), 'reviews-v2 /', 'then namespace/name');
  });

  it('a consumer route applies to its namespace\'s callers only, and replaces the producer routes for them', () => {
    const snapshot = snapshotOf(SERVICES);
    snapshot.workloads.push({ ...snapshot.workloads[0], name: 'shop-client', namespace: 'shop', service: 'shop' });
    const routes = [
      route('producer', { parentRefs: onService('reviews'), rules: [{ backendRefs: [to('reviews-v1')] }] }),
      route('consumer', { parentRefs: [{ group: '', kind: 'Service', name: 'reviews', namespace: NS }], rules: [{ backendRefs: [{ name: 'reviews-v2', namespace: NS, port: 9080 }] }] }, 'shop'),
    ];
    const inShop = compileTables({ ...snapshot, httpRoutes: routes }, 'shop-client');
    const inDefault = compileTables({ ...snapshot, httpRoutes: routes }, 'productpage-v1');
    assert.equal(where(plan(inShop, '/', {}, 'GET', 'reviews.default:9080')), 'reviews-v2 /');
    assert.equal(where(plan(inDefault, '/')), 'reviews-v1 /');
  });

  it('weights split the traffic; a weight-0 backend gets none; a backend that does not resolve answers 500 for its share; no backend at all answers 500', () => {
    const t = tables([route('r', {
      parentRefs: onService('reviews'),
      rules: [
        { matches: [{ path: { type: 'Exact', value: '/split' } }], backendRefs: [to('reviews-v1', { weight: 1 }), to('ghost', { weight: 1 }), to('ratings', { weight: 0 })] },
        { matches: [{ path: { type: 'Exact', value: '/none' } }], backendRefs: [to('reviews', { weight: 0 })] },
      ],
    })]);
    const random = seededRandom(3);
    const seen = new Map<string, number>();
    for (let i = 0; i < 400; i++) {
      const p = planMesh(t, attributesFor('GET', '/split', 'reviews:9080', {}, {}, 'mesh', NS), random);
      const k = where(p);
      seen.set(k, (seen.get(k) ?? 0) + 1);
    }
    assert.deepEqual([...seen.keys()].sort(), ['500 invalid-backend', 'reviews-v1 /split']);
    assert.ok(Math.abs(seen.get('500 invalid-backend')! / 400 - 0.5) < 0.1);
    assert.equal(where(plan(t, '/none')), '500');
  });

  it('URLRewrite and the header modifiers of the rule and of the backend shape the forwarded request', () => {
    const t = tables([route('r', {
      parentRefs: onService('reviews'),
      rules: [{
        matches: [{ path: { type: 'PathPrefix', value: '/api/v1' } }],
        filters: [
          { type: 'URLRewrite', urlRewrite: { hostname: 'internal.example', path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/v1' } } },
          { type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'X-A', value: '1' }, { name: 'x-a', value: 'ignored' }] } },
          { type: 'ResponseHeaderModifier', responseHeaderModifier: { add: [{ name: 'X-B', value: '2' }] } },
        ],
        backendRefs: [to('reviews', { filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { remove: ['X-C'] } }] })],
      }],
    })]);
    const p = plan(t, '/api/v1/items?q=1');
    assert.equal(p.kind, 'forward');
    if (p.kind !== 'forward') return;
    assert.equal(p.path, '/v1/items?q=1');
    assert.equal(p.authority, 'internal.example');
    assert.deepEqual(p.requestHeaderOps, [{ set: { 'x-a': '1' } }, { remove: ['x-c'] }]);
    assert.deepEqual(p.responseHeaderOps, [{ add: { 'x-b': '2' } }]);
    assert.equal(p.origin?.kind, 'HTTPRoute');
    assert.equal(p.routeName, 'default.r.0', 'pilot names an unnamed rule <namespace>.<name>.<index>');
  });

  it('timeouts and retry become what pilot writes: request as the route timeout, backendRequest per try when retrying (else the route timeout), the listed codes on top of connection errors', () => {
    const t = tables([route('r', {
      parentRefs: onService('reviews'),
      rules: [
        { name: 'retrying', matches: [{ path: { type: 'Exact', value: '/a' } }], backendRefs: [to('reviews')], timeouts: { request: '2s', backendRequest: '500ms' }, retry: { attempts: 3, codes: [500, 503], backoff: '100ms' } },
        { matches: [{ path: { type: 'Exact', value: '/b' } }], backendRefs: [to('reviews')], timeouts: { request: '2s', backendRequest: '500ms' } },
      ],
    })]);
    const a = plan(t, '/a');
    const b = plan(t, '/b');
    assert.ok(a.kind === 'forward' && b.kind === 'forward');
    if (a.kind !== 'forward' || b.kind !== 'forward') return;
    assert.equal(a.routeName, 'retrying');
    assert.equal(routeTimeoutMs(a.rule, {}), 2000);
    const retry = retryPolicyFor(a.rule, t.defaults)!;
    assert.equal(retry.retries, 3);
    assert.equal(retry.perTryTimeoutMs, 500);
    assert.deepEqual([...retry.on].sort(), ['cancelled', 'connect-failure', 'refused-stream', 'retriable-status-codes', 'unavailable']);
    assert.deepEqual([...retry.statusCodes].sort(), [500, 503]);
    assert.equal(routeTimeoutMs(b.rule, {}), 500, 'no retry: backendRequest is the route timeout, as pilot writes it');
  });

  it('RequestMirror becomes the mirrors pilot writes: percent, or fraction as a percentage, to the backend\'s Service and port; neither copies every request', () => {
    const mirrorTo = (extra: Record<string, unknown>) => ({ type: 'RequestMirror' as const, requestMirror: { backendRef: { name: 'ratings', port: 9080 }, ...extra } });
    const t = tables([route('r', {
      parentRefs: onService('reviews'),
      rules: [
        { matches: [{ path: { type: 'Exact', value: '/all' } }], filters: [mirrorTo({})], backendRefs: [to('reviews')] },
        { matches: [{ path: { type: 'Exact', value: '/percent' } }], filters: [mirrorTo({ percent: 30 })], backendRefs: [to('reviews')] },
        { matches: [{ path: { type: 'Exact', value: '/fraction' } }], filters: [mirrorTo({ fraction: { numerator: 1, denominator: 8 } })], backendRefs: [to('reviews')] },
        { matches: [{ path: { type: 'Exact', value: '/default-denominator' } }], filters: [mirrorTo({ fraction: { numerator: 5 } })], backendRefs: [to('reviews')] },
      ],
    })]);
    const mirrorsOf = (path: string) => { const p = plan(t, path); assert.equal(p.kind, 'forward'); return p.kind === 'forward' ? p.rule?.mirrors : undefined; };
    const ratings = { host: 'ratings.default.svc.cluster.local', port: { number: 9080 } };
    assert.deepEqual(mirrorsOf('/all'), [{ destination: ratings }]);
    assert.deepEqual(mirrorsOf('/percent'), [{ destination: ratings, percentage: { value: 30 } }]);
    assert.deepEqual(mirrorsOf('/fraction'), [{ destination: ratings, percentage: { value: 12.5 } }]);
    assert.deepEqual(mirrorsOf('/default-denominator'), [{ destination: ratings, percentage: { value: 5 } }]);
    // The shared mirror filter draws them: with no percentage every request is copied.
    const all = plan(t, '/all');
    assert.ok(all.kind === 'forward' && all.rule && mirrorTargets(all.rule, () => 0.999).length === 1);
  });

  it('a VirtualService and an HTTPRoute for one host: the HTTPRoute for callers in its namespace, the older one elsewhere', () => {
    const r = route('reviews-route', { parentRefs: onService('reviews'), rules: [{ backendRefs: [to('reviews-v2')] }] }, NS, '2024-06-01T00:00:00Z');
    const v = vs('reviews', { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews-v1' } }] }] });
    const same = tables([r], { virtualServices: [v] });
    assert.equal(where(plan(same, '/')), 'reviews-v2 /');
    assert.equal(same.routes.get(routeKey('reviews.default.svc.cluster.local', 9080))!.ignored?.api, 'VirtualService');
    const snapshot = snapshotOf(SERVICES, { virtualServices: [{ ...v, metadata: { ...v.metadata, creationTimestamp: '2024-01-01T00:00:00Z' } }] });
    snapshot.workloads.push({ ...snapshot.workloads[0], name: 'shop-client', namespace: 'shop', service: 'shop' });
    const elsewhere = compileTables({ ...snapshot, httpRoutes: [r] }, 'shop-client');
    assert.equal(where(plan(elsewhere, '/', {}, 'GET', 'reviews.default:9080')), 'reviews-v1 /', 'the VirtualService is older');
  });

  it('a VirtualService and an HTTPRoute created in one second: the first by name wins, then namespace (pilot sorts the converted VirtualService, named <route>~N~istio-autogenerated-k8s-gateway, among the others)', () => {
    const at = '2024-06-01T00:00:00Z';
    const r = route('zzz-route', { parentRefs: onService('reviews'), rules: [{ backendRefs: [to('reviews-v2')] }] }, NS, at);
    const v = vs('aaa', { hosts: ['reviews.default.svc.cluster.local'], http: [{ route: [{ destination: { host: 'reviews-v1.default.svc.cluster.local' } }] }] }, 'zz');
    const snapshot = snapshotOf(SERVICES, { virtualServices: [{ ...v, metadata: { ...v.metadata, creationTimestamp: at } }] });
    snapshot.workloads.push({ ...snapshot.workloads[0], name: 'shop-client', namespace: 'shop', service: 'shop' });
    const t = compileTables({ ...snapshot, httpRoutes: [r] }, 'shop-client');
    assert.equal(where(plan(t, '/', {}, 'GET', 'reviews.default:9080')), 'reviews-v1 /', '"aaa" before "zzz-route~0~...", though namespace zz is after default');
  });

  it('a call to a workload\'s own address reaches that workload, and no route of its Service applies', () => {
    const s = snapshotOf(SERVICES);
    const w = s.workloads.find((x) => x.name === 'reviews-v2')!;
    w.appPort = 43210;
    const t = compileTables({ ...s, httpRoutes: [route('r', { parentRefs: onService('reviews'), rules: [{ matches: [{ path: { type: 'Exact', value: '/only' } }], backendRefs: [to('reviews')] }] })] }, 'productpage-v1');
    const p = plan(t, '/anything', {}, 'GET', '127.0.0.1:43210');
    assert.equal(p.kind, 'forward');
    if (p.kind === 'forward') assert.deepEqual([p.service.name, p.endpoint, p.routeName], ['reviews', 'reviews-v2', 'passthrough']);
  });

  it('a GRPCRoute matches /<service>/<method> as pilot writes it: exact, service prefix, method or regex, and metadata; most specific first', () => {
    const grpc: Resource<'GRPCRoute'> = {
      apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GRPCRoute', metadata: { name: 'g', namespace: NS },
      spec: {
        parentRefs: onService('reviews'),
        rules: [
          { backendRefs: [to('ratings')] },
          { matches: [{ method: { service: 'shop.Reviews' } }], backendRefs: [to('reviews-v1')] },
          { matches: [{ method: { service: 'shop.Reviews', method: 'Get' } }], backendRefs: [to('reviews-v2')] },
          { matches: [{ method: { method: 'Health' } }], backendRefs: [to('productpage')] },
          { matches: [{ method: { type: 'RegularExpression', service: 'shop\\.Rev.*', method: 'Li.t' } }, { headers: [{ name: 'x-canary', value: 'yes' }] }], backendRefs: [to('reviews')] },
        ],
      },
    };
    const t = compileTables({ ...snapshotOf(SERVICES), grpcRoutes: [grpc] }, 'productpage-v1');
    const call = (path: string, headers: Record<string, string> = {}) => where(plan(t, path, headers, 'POST'));
    assert.equal(call('/shop.Reviews/Get'), 'reviews-v2 /shop.Reviews/Get', 'service and method: exact');
    assert.equal(call('/shop.Reviews/Put'), 'reviews-v1 /shop.Reviews/Put', 'the service\'s other methods');
    assert.equal(call('/grpc.health.v1.Health/Health'), 'productpage /grpc.health.v1.Health/Health', 'a method of any service');
    assert.equal(call('/shop.Reviewz/List'), 'reviews /shop.Reviewz/List', 'a regular expression');
    assert.equal(call('/other.Svc/Do', { 'x-canary': 'yes' }), 'reviews /other.Svc/Do', 'metadata');
    assert.equal(call('/other.Svc/Do'), 'ratings /other.Svc/Do', 'a rule with no matches takes the rest');
    assert.equal(t.routes.get(routeKey('reviews.default.svc.cluster.local', 9080))!.source!.api, 'GRPCRoute');
  });
});
