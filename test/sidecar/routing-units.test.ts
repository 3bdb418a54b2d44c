import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { compileMatch } from '../../simulator/sidecar/routing/match';
import { attributesFor, planMesh, selectRule } from '../../simulator/sidecar/routing/plan';
import { pickWeighted } from '../../simulator/sidecar/routing/weights';
import { subsetEndpoints } from '../../simulator/sidecar/routing/subsets';
import { effectiveTrafficPolicy } from '../../simulator/sidecar/routing/trafficPolicy';
import { newLbStats, pickEndpoint, seededRandom } from '../../simulator/sidecar/routing/loadBalancer';
import { redirectLocation, rewritePath } from '../../simulator/sidecar/routing/rewrite';
import { applyHeaderOps } from '../../simulator/sidecar/routing/headerOps';
import { compileTables } from '../../simulator/sidecar/tables';
import type { WorkloadInfo } from '../../simulator/protocol';
import { dr, snapshotOf, vs } from './fixtures';

const attrs = (over: Partial<ReturnType<typeof attributesFor>> = {}) => ({ ...attributesFor('GET', '/api/v1/items?id=7&id=8', 'reviews:9080', { 'end-user': 'jason', 'x-multi': ['a', 'b'] }, { app: 'productpage', version: 'v1' }, 'mesh'), ...over });

describe('HTTP match requests', () => {
  test('uri exact, prefix and regex; regex must match the whole path', () => {
    assert.equal(compileMatch({ uri: { exact: '/api/v1/items' } }, 'default').test(attrs()), true);
    assert.equal(compileMatch({ uri: { prefix: '/api/' } }, 'default').test(attrs()), true);
    assert.equal(compileMatch({ uri: { regex: '/api/v[0-9]+/.*' } }, 'default').test(attrs()), true);
    assert.equal(compileMatch({ uri: { regex: 'v1' } }, 'default').test(attrs()), false);
  });

  test('ignoreUriCase applies to the uri only', () => {
    assert.equal(compileMatch({ uri: { prefix: '/API/' }, ignoreUriCase: true }, 'default').test(attrs()), true);
    assert.equal(compileMatch({ uri: { prefix: '/API/' } }, 'default').test(attrs()), false);
  });

  test('headers, withoutHeaders and an empty match meaning "present"', () => {
    assert.equal(compileMatch({ headers: { 'End-User': { exact: 'jason' } } }, 'default').test(attrs()), true);
    assert.equal(compileMatch({ headers: { 'end-user': { prefix: 'ja' } } }, 'default').test(attrs()), true);
    assert.equal(compileMatch({ headers: { 'end-user': {} } }, 'default').test(attrs()), true);
    assert.equal(compileMatch({ headers: { 'x-absent': {} } }, 'default').test(attrs()), false);
    assert.equal(compileMatch({ withoutHeaders: { 'end-user': { exact: 'jason' } } }, 'default').test(attrs()), false);
    assert.equal(compileMatch({ withoutHeaders: { 'x-absent': {} } }, 'default').test(attrs()), true);
    assert.equal(compileMatch({ headers: { 'x-multi': { exact: 'a,b' } } }, 'default').test(attrs()), true);
  });

  test('query parameters use the first value; method, authority, port and source labels', () => {
    assert.equal(compileMatch({ queryParams: { id: { exact: '7' } } }, 'default').test(attrs()), true);
    assert.equal(compileMatch({ queryParams: { id: { exact: '8' } } }, 'default').test(attrs()), false);
    assert.equal(compileMatch({ method: { exact: 'POST' } }, 'default').test(attrs()), false);
    assert.equal(compileMatch({ authority: { exact: 'reviews' } }, 'default').test(attrs()), true);
    assert.equal(compileMatch({ authority: { exact: 'reviews:9080' } }, 'default').test(attrs()), true);
    assert.equal(compileMatch({ port: 9080 }, 'default').test(attrs()), true);
    assert.equal(compileMatch({ port: 9081 }, 'default').test(attrs()), false);
    assert.equal(compileMatch({ sourceLabels: { app: 'productpage' } }, 'default').test(attrs()), true);
    assert.equal(compileMatch({ sourceLabels: { app: 'productpage', version: 'v2' } }, 'default').test(attrs()), false);
  });

  test('gateways: a short name is qualified with the VirtualService namespace; `mesh` means sidecars', () => {
    const m = compileMatch({ gateways: ['bookinfo-gateway'] }, 'default');
    assert.equal(m.test(attrs({ gateway: 'default/bookinfo-gateway' })), true);
    assert.equal(m.test(attrs()), false);
    assert.equal(compileMatch({ gateways: ['mesh'] }, 'default').test(attrs()), true);
  });

  test('all conditions of one match must hold, and any match of a rule may', () => {
    const t = compileTables(snapshotOf([{ name: 'reviews', workloads: [{ name: 'r1' }] }], { virtualServices: [vs('reviews', { hosts: ['reviews'], http: [
      { name: 'both', match: [{ uri: { prefix: '/api' }, method: { exact: 'POST' } }], route: [{ destination: { host: 'reviews' } }] },
      { name: 'either', match: [{ method: { exact: 'PUT' } }, { uri: { prefix: '/api' } }], route: [{ destination: { host: 'reviews' } }] },
    ] })] }), 'r1');
    const hit = selectRule(t.meshRoutes.get('reviews.default.svc.cluster.local')!, attrs());
    assert.equal(hit?.rule.name, 'either');
  });
});

describe('route weights', () => {
  const dests = [{ n: 'a', weight: 75 }, { n: 'b', weight: 25 }, { n: 'c', weight: 0 }];
  test('are relative, and weight 0 never wins', () => {
    const rnd = seededRandom(1);
    const counts: Record<string, number> = { a: 0, b: 0, c: 0 };
    for (let i = 0; i < 4000; i++) counts[pickWeighted(dests, rnd)!.n]++;
    assert.equal(counts.c, 0);
    assert.ok(Math.abs(counts.a / 4000 - 0.75) < 0.03, JSON.stringify(counts));
    const rel = [{ n: 'x', weight: 1 }, { n: 'y', weight: 3 }];
    assert.equal(pickWeighted(rel, () => 0.2)!.n, 'x');
    assert.equal(pickWeighted(rel, () => 0.3)!.n, 'y');
  });
  test('a lone destination gets everything; all zero gets nothing; none weighted share equally', () => {
    assert.equal(pickWeighted([{ n: 'only', weight: 0 }], Math.random)!.n, 'only');
    assert.equal(pickWeighted([{ n: 'a', weight: 0 }, { n: 'b', weight: 0 }], Math.random), undefined);
    assert.equal(pickWeighted<{ n: string; weight?: number }>([{ n: 'a' }, { n: 'b' }], () => 0.6)!.n, 'b');
  });
});

const wl = (name: string, labels: Record<string, string>): WorkloadInfo => ({ name, service: 'reviews', namespace: 'default', labels, serviceAccount: 'reviews', spiffeId: '', appPort: 1, sidecar: { inboundPort: 1, outboundPort: 1, adminPort: 1 } });
const endpoints = [wl('r1', { version: 'v1' }), wl('r2', { version: 'v2', canary: 'yes' }), wl('r3', { version: 'v2' })];

describe('subsets and traffic policy', () => {
  const rule = dr('reviews', {
    host: 'reviews',
    trafficPolicy: { loadBalancer: { simple: 'RANDOM' }, tls: { mode: 'ISTIO_MUTUAL' }, portLevelSettings: [{ port: { number: 9080 }, loadBalancer: { simple: 'ROUND_ROBIN' } }] },
    subsets: [{ name: 'v2', labels: { version: 'v2' }, trafficPolicy: { loadBalancer: { consistentHash: { httpHeaderName: 'x-user' } } } }, { name: 'canary', labels: { version: 'v2', canary: 'yes' } }],
  }).spec;
  test('a subset selects the workloads carrying all its labels', () => {
    assert.deepEqual((subsetEndpoints(endpoints, rule, 'v2', 'reviews') as { endpoints: WorkloadInfo[] }).endpoints.map((e) => e.name), ['r2', 'r3']);
    assert.deepEqual((subsetEndpoints(endpoints, rule, 'canary', 'reviews') as { endpoints: WorkloadInfo[] }).endpoints.map((e) => e.name), ['r2']);
    assert.equal((subsetEndpoints(endpoints, rule, undefined, 'reviews') as { endpoints: WorkloadInfo[] }).endpoints.length, 3);
    assert.match((subsetEndpoints(endpoints, rule, 'v9', 'reviews') as { error: string }).error, /v9/);
    assert.match((subsetEndpoints(endpoints, undefined, 'v1', 'reviews') as { error: string }).error, /needs a DestinationRule/);
  });
  test('port-level settings replace the top level for their service port (no inheritance, as Istio), and the subset overrides both', () => {
    assert.deepEqual(effectiveTrafficPolicy(rule, undefined, 9090).loadBalancer, { simple: 'RANDOM' });
    assert.deepEqual(effectiveTrafficPolicy(rule, undefined, 9090).tls, { mode: 'ISTIO_MUTUAL' });
    assert.deepEqual(effectiveTrafficPolicy(rule, undefined, 9080).loadBalancer, { simple: 'ROUND_ROBIN' });
    assert.equal(effectiveTrafficPolicy(rule, undefined, 9080).tls, undefined, 'port 9080 settings say nothing of tls: the default, not the top level\'s');
    assert.deepEqual(effectiveTrafficPolicy(rule, 'v2', 9080).loadBalancer, { consistentHash: { httpHeaderName: 'x-user' } });
    assert.deepEqual(effectiveTrafficPolicy(rule, 'v2', 9090).tls, { mode: 'ISTIO_MUTUAL' });
    const subsetPorts = dr('r', { host: 'r', trafficPolicy: { tls: { mode: 'DISABLE' } }, subsets: [{ name: 's', trafficPolicy: { loadBalancer: { simple: 'RANDOM' }, portLevelSettings: [{ port: { number: 9080 }, connectionPool: { tcp: { maxConnections: 1 } } }] } }] }).spec;
    assert.deepEqual(effectiveTrafficPolicy(subsetPorts, 's', 9080), { connectionPool: { tcp: { maxConnections: 1 } } }, 'the subset\'s port-level settings replace every field');
    assert.deepEqual(effectiveTrafficPolicy(subsetPorts, 's', 9090), { tls: { mode: 'DISABLE' }, loadBalancer: { simple: 'RANDOM' } });
    assert.deepEqual(effectiveTrafficPolicy(rule, 'canary', 9080).loadBalancer, { simple: 'ROUND_ROBIN' });
    assert.deepEqual(effectiveTrafficPolicy(undefined, undefined, 9080), {});
  });
});

describe('load balancing', () => {
  const req = { headers: {}, query: {} };
  test('ROUND_ROBIN cycles through the endpoints in order', () => {
    const stats = newLbStats();
    const picks = Array.from({ length: 6 }, () => pickEndpoint({ simple: 'ROUND_ROBIN' }, endpoints, 'c', stats, req, Math.random)!.endpoint.name);
    assert.deepEqual(picks, ['r1', 'r2', 'r3', 'r1', 'r2', 'r3']);
  });
  test('LEAST_REQUEST (the default) prefers the less busy of two sampled endpoints', () => {
    const stats = newLbStats();
    stats.activeRequests.set('r1', 10);
    const seq = [0.1, 0.5]; // samples r1 then r2
    let i = 0;
    assert.equal(pickEndpoint(undefined, endpoints, 'c', stats, req, () => seq[i++ % 2])!.endpoint.name, 'r2');
    const counts: Record<string, number> = {};
    const rnd = seededRandom(3);
    for (let k = 0; k < 300; k++) {
      const n = pickEndpoint({ simple: 'LEAST_REQUEST' }, endpoints, 'c', stats, req, rnd)!.endpoint.name;
      counts[n] = (counts[n] ?? 0) + 1;
    }
    assert.ok((counts.r1 ?? 0) < 300 / 9 + 15, JSON.stringify(counts)); // r1 wins only when sampled twice
  });
  test('RANDOM is reproducible with a seeded random source', () => {
    const a = Array.from({ length: 10 }, ((r) => () => pickEndpoint({ simple: 'RANDOM' }, endpoints, 'c', newLbStats(), req, r)!.endpoint.name)(seededRandom(9)));
    const b = Array.from({ length: 10 }, ((r) => () => pickEndpoint({ simple: 'RANDOM' }, endpoints, 'c', newLbStats(), req, r)!.endpoint.name)(seededRandom(9)));
    assert.deepEqual(a, b);
    assert.ok(new Set(a).size > 1);
  });
  test('consistent hashing sticks one key to one endpoint, for headers, cookies, query parameters and source IPs', () => {
    const stats = newLbStats();
    const rnd = seededRandom(5);
    const pick = (lb: object, r: object) => pickEndpoint({ consistentHash: lb }, endpoints, 'c', stats, { headers: {}, query: {}, ...r }, rnd)!;
    for (const [lb, r] of [
      [{ httpHeaderName: 'x-user' }, { headers: { 'x-user': 'alice' } }],
      [{ httpCookie: { name: 'sid' } }, { headers: { cookie: 'a=1; sid=abc' } }],
      [{ httpQueryParameterName: 'u' }, { query: { u: 'bob' } }],
      [{ useSourceIp: true }, { sourceIp: '127.0.0.7' }],
    ] as const) {
      const first = pick(lb, r).endpoint.name;
      for (let i = 0; i < 20; i++) assert.equal(pick(lb, r).endpoint.name, first, JSON.stringify(lb));
    }
    const users = new Set(Array.from({ length: 40 }, (_, i) => pick({ httpHeaderName: 'x-user' }, { headers: { 'x-user': `u${i}` } }).endpoint.name));
    assert.equal(users.size, 3);
  });
  test('an httpCookie with a ttl mints the cookie when the request has none', () => {
    const p = pickEndpoint({ consistentHash: { httpCookie: { name: 'sid', ttl: '60s' } } }, endpoints, 'c', newLbStats(), req, seededRandom(2))!;
    assert.match(p.setCookie!, /^sid=[0-9a-f]+; Path=\/; HttpOnly$/);
  });
});

describe('rewrite, redirect and header operations', () => {
  test('a uri rewrite replaces what the match matched', () => {
    assert.equal(rewritePath('/old/a?x=1', { uri: '/new/' }, { uri: { prefix: '/old/' } }), '/new/a?x=1');
    assert.equal(rewritePath('/exact?x=1', { uri: '/other' }, { uri: { exact: '/exact' } }), '/other?x=1');
    assert.equal(rewritePath('/a/b', { uri: '/v2/' }, undefined), '/v2/a/b');
    assert.equal(rewritePath('/users/42/x', { uriRegexRewrite: { match: '^/users/([0-9]+)/x$', rewrite: '/u/\\1' } }, undefined), '/u/42');
  });
  test('a redirect keeps what the rule leaves out and defaults to 301', () => {
    assert.deepEqual(redirectLocation({ uri: '/v2' }, { authority: 'reviews:9080', path: '/v1?q=1', scheme: 'http' }), { status: 301, location: 'http://reviews:9080/v2?q=1' });
    assert.deepEqual(redirectLocation({ authority: 'new.example', redirectCode: 308, scheme: 'https' }, { authority: 'old:80', path: '/p', scheme: 'http' }), { status: 308, location: 'https://new.example/p' });
    // pilot route.go:822-828: no explicit :80 for http or :443 for https.
    assert.equal(redirectLocation({ port: 443, scheme: 'https' }, { authority: 'reviews:9080', path: '/p', scheme: 'http' }).location, 'https://reviews/p');
    assert.equal(redirectLocation({ port: 80 }, { authority: 'reviews:9080', path: '/p', scheme: 'http' }).location, 'http://reviews/p');
    assert.equal(redirectLocation({ port: 8443, scheme: 'https' }, { authority: 'reviews:9080', path: '/p', scheme: 'http' }).location, 'https://reviews:8443/p');
    assert.equal(redirectLocation({ derivePort: 'FROM_REQUEST_PORT', authority: 'other' }, { authority: 'reviews', path: '/p', scheme: 'http', port: 9080 }).location, 'http://other:9080/p');
    assert.deepEqual(redirectLocation({ port: 8443 }, { authority: 'old:80', path: '/p', scheme: 'http' }).location, 'http://old:8443/p');
  });
  test('header operations remove, then set, then add', () => {
    const h: Record<string, string | string[] | number | undefined> = { 'x-a': '1', 'x-gone': 'y', 'x-b': 'old' };
    applyHeaderOps(h, { remove: ['X-Gone'], set: { 'X-B': 'new' }, add: { 'x-a': '2', 'x-c': '3' } });
    assert.deepEqual(h, { 'x-a': ['1', '2'], 'x-b': 'new', 'x-c': '3' });
  });
});

describe('planning a request', () => {
  const snap = snapshotOf([{ name: 'reviews', workloads: [{ name: 'r1' }] }, { name: 'ratings', workloads: [{ name: 't1' }] }], {
    virtualServices: [vs('reviews', { hosts: ['reviews'], http: [{ match: [{ uri: { prefix: '/ratings' } }], route: [{ destination: { host: 'ratings' } }] }, { route: [{ destination: { host: 'nosuch' } }] }] })],
  });
  const t = compileTables(snap, 'r1');
  const plan = (path: string, authority = 'reviews') => planMesh(t, attributesFor('GET', path, authority, {}, {}, 'mesh'), Math.random);
  test('a route may send one host to another service', () => {
    const p = plan('/ratings/1');
    assert.equal(p.kind, 'forward');
    assert.equal(p.kind === 'forward' && p.host, 'ratings.default.svc.cluster.local');
  });
  test('a destination that is not a mesh service is 503 NC; an unknown Host is 502 NR', () => {
    const p = plan('/x');
    assert.equal(p.kind === 'error' && `${p.error.status} ${p.error.flag}`, '503 NC');
    for (const host of ['unknown:80', 'unknown.default:80', 'unknown.other.svc:80', 'unknown.other.svc.cluster.local']) {
      const u = plan('/', host);
      assert.equal(u.kind === 'error' && `${u.error.status} ${u.error.flag} ${u.error.reason}`, '502 NR unknown-host', host);
    }
    // A dotted name outside the mesh's namespaces is a host on the internet: Istio's default (ALLOW_ANY) passes it through.
    const out = plan('/', 'unknown.example:80');
    assert.equal(out.kind === 'forward' && `${out.service.fqdn} ${out.routeName}`, 'PassthroughCluster allow_any');
  });
  test('a VirtualService bound only to a gateway does not apply at sidecars', () => {
    const t2 = compileTables(snapshotOf([{ name: 'reviews', workloads: [{ name: 'r1' }] }], { virtualServices: [vs('edge', { hosts: ['reviews'], gateways: ['gw'], http: [{ directResponse: { status: 418 } }] })] }), 'r1');
    const p = planMesh(t2, attributesFor('GET', '/', 'reviews', {}, {}, 'mesh'), Math.random);
    assert.equal(p.kind, 'forward');
    assert.deepEqual(t2.gatewayRoutes.map((v) => v.gateways), [['default/gw']]);
  });
  test('a snapshot with a negative weight or a bad regex does not compile', () => {
    assert.throws(() => compileTables(snapshotOf([{ name: 'reviews', workloads: [{ name: 'r1' }] }], { virtualServices: [vs('v', { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews' }, weight: -1 }] }] })] }), 'r1'), /negative/);
    assert.throws(() => compileTables(snapshotOf([{ name: 'reviews', workloads: [{ name: 'r1' }] }], { virtualServices: [vs('v', { hosts: ['reviews'], http: [{ match: [{ headers: { a: { regex: '[' } } }] }] })] }), 'r1'), /invalid regex/);
    assert.throws(() => compileTables(snapshotOf([], {}), 'r1'), /not in snapshot/);
  });
});
