import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { dr, gw, startMesh, vs, type TestMesh } from './fixtures';
import { seededRandom } from '../../simulator/sidecar/routing/loadBalancer';

const reviews = {
  name: 'reviews',
  workloads: [
    { name: 'reviews-v1', labels: { app: 'reviews', version: 'v1' } },
    { name: 'reviews-v2', labels: { app: 'reviews', version: 'v2' } },
    { name: 'reviews-v3', labels: { app: 'reviews', version: 'v3' } },
  ],
};
const subsets = dr('reviews', { host: 'reviews', subsets: ['v1', 'v2', 'v3'].map((v) => ({ name: v, labels: { version: v } })) });

describe('routing between sidecars', () => {
  let mesh: TestMesh;
  before(async () => {
    mesh = await startMesh(
      [{ name: 'productpage', workloads: [{ name: 'productpage-v1' }] }, reviews, { name: 'ratings', workloads: [{ name: 'ratings-v1' }] }],
      {
        destinationRules: [subsets],
        virtualServices: [
          vs('reviews', {
            hosts: ['reviews'],
            http: [
              { match: [{ headers: { 'end-user': { exact: 'jason' } } }], route: [{ destination: { host: 'reviews', subset: 'v2' } }] },
              { match: [{ uri: { prefix: '/old/' } }], rewrite: { uri: '/new/' }, route: [{ destination: { host: 'reviews', subset: 'v1' } }] },
              { match: [{ uri: { exact: '/moved' } }], redirect: { uri: '/here' } },
              { match: [{ uri: { exact: '/teapot' } }], directResponse: { status: 418, body: { string: 'short and stout' } } },
              {
                headers: { request: { set: { 'x-routed': 'weights' } }, response: { add: { 'x-route': 'split' } } },
                route: [
                  { destination: { host: 'reviews', subset: 'v1' }, weight: 3 },
                  { destination: { host: 'reviews', subset: 'v3' }, weight: 1 },
                  { destination: { host: 'reviews', subset: 'v2' }, weight: 0 },
                ],
              },
            ],
          }),
        ],
      },
      { random: seededRandom(7) },
    );
  });
  after(() => mesh.close());

  test('weighted routing splits traffic by relative weight and sends nothing to weight 0', async () => {
    const counts: Record<string, number> = {};
    const N = 200;
    for (let i = 0; i < N; i++) {
      const r = await mesh.request('productpage-v1', { url: 'http://reviews:9080/' });
      counts[r.json().workload] = (counts[r.json().workload] ?? 0) + 1;
      assert.equal(r.json().headers['x-routed'], 'weights');
      assert.equal(r.headers['x-route'], 'split');
    }
    assert.equal(counts['reviews-v2'] ?? 0, 0);
    assert.ok(counts['reviews-v1'] > N * 0.6 && counts['reviews-v1'] < N * 0.9, JSON.stringify(counts));
    assert.ok(counts['reviews-v3'] > N * 0.1 && counts['reviews-v3'] < N * 0.4, JSON.stringify(counts));
  });

  test('a header match routes the matching user to its subset and others past it', async () => {
    for (let i = 0; i < 10; i++) {
      const r = await mesh.request('productpage-v1', { url: 'http://reviews:9080/', headers: { 'end-user': 'jason' } });
      assert.equal(r.json().workload, 'reviews-v2');
    }
    const other = await mesh.request('productpage-v1', { url: 'http://reviews:9080/', headers: { 'end-user': 'jasonx' } });
    assert.notEqual(other.json().workload, 'reviews-v2');
  });

  test('a prefix rewrite replaces the matched prefix and keeps the query', async () => {
    const r = await mesh.request('productpage-v1', { url: 'http://reviews:9080/old/a/b?q=1' });
    assert.equal(r.json().workload, 'reviews-v1');
    assert.equal(r.json().url, '/new/a/b?q=1');
  });

  test('a redirect answers 301 with a Location built from the request', async () => {
    const r = await mesh.request('productpage-v1', { url: 'http://reviews:9080/moved' });
    assert.equal(r.status, 301);
    assert.equal(r.headers.location, 'http://reviews:9080/here');
  });

  test('a direct response is answered by the sidecar without an upstream', async () => {
    const r = await mesh.request('productpage-v1', { url: 'http://reviews:9080/teapot' });
    assert.equal(r.status, 418);
    assert.equal(r.text, 'short and stout');
  });

  test('a host without a VirtualService reaches all of its workloads', async () => {
    const r = await mesh.request('productpage-v1', { url: 'http://ratings:9080/' });
    assert.equal(r.json().workload, 'ratings-v1');
  });

  test('a VirtualService with no matching rule answers 404 NR', async () => {
    await mesh.push({
      destinationRules: [subsets],
      virtualServices: [vs('reviews', { hosts: ['reviews'], http: [{ match: [{ uri: { prefix: '/only' } }], route: [{ destination: { host: 'reviews' } }] }] })],
    });
    const r = await mesh.request('productpage-v1', { url: 'http://reviews:9080/other' });
    assert.equal(r.status, 404);
    assert.equal(r.headers['x-devmesh-response-flags'], 'NR');
  });

  test('a subset that selects no workload answers 503 UH', async () => {
    await mesh.push({
      destinationRules: [dr('reviews', { host: 'reviews', subsets: [{ name: 'v9', labels: { version: 'v9' } }] })],
      virtualServices: [vs('reviews', { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews', subset: 'v9' } }] }] })],
    });
    const r = await mesh.request('productpage-v1', { url: 'http://reviews:9080/' });
    assert.equal(r.status, 503);
    assert.equal(r.headers['x-devmesh-response-flags'], 'UH');
  });
});

describe('the ingress', () => {
  let mesh: TestMesh;
  before(async () => {
    mesh = await startMesh([{ name: 'productpage', workloads: [{ name: 'productpage-v1' }] }, reviews], {
      destinationRules: [subsets],
      gateways: [gw('bookinfo-gateway', { selector: { istio: 'ingressgateway' }, servers: [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['*'] }] })],
      virtualServices: [
        vs('bookinfo', {
          hosts: ['*'],
          gateways: ['bookinfo-gateway'],
          http: [
            { match: [{ uri: { exact: '/productpage' } }, { uri: { prefix: '/static' } }], route: [{ destination: { host: 'productpage', port: { number: 9080 } } }] },
            { match: [{ uri: { prefix: '/api/v1/reviews' } }], route: [{ destination: { host: 'reviews', subset: 'v3' } }] },
          ],
        }),
        // A mesh-only VirtualService must not apply at the ingress for origin-form requests.
        vs('reviews', { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews', subset: 'v1' } }] }] }),
      ],
    });
  });
  after(() => mesh.close());

  test('routes origin-form requests by Gateway + bound VirtualService', async () => {
    const r = await mesh.request('ingress', { url: '/productpage', host: 'bookinfo.example.com' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json().workload, 'productpage-v1');
    const rv = await mesh.request('ingress', { url: '/api/v1/reviews/0', host: 'localhost:15080' });
    assert.equal(rv.status, 200, rv.text);
    assert.equal(rv.json().workload, 'reviews-v3');
  });

  test('requests leaving the ingress carry the ingress gateway identity', async () => {
    const r = await mesh.request('ingress', { url: '/productpage', host: 'bookinfo.example.com' });
    assert.match(r.json().headers['x-forwarded-client-cert'], /URI=spiffe:\/\/cluster\.local\/ns\/istio-system\/sa\/istio-ingressgateway$/);
  });

  test('an origin-form path no bound rule matches answers 404 NR', async () => {
    const r = await mesh.request('ingress', { url: '/admin', host: 'bookinfo.example.com' });
    assert.equal(r.status, 404);
    assert.equal(r.headers['x-devmesh-response-flags'], 'NR');
  });

  test('proxy-form requests reach any mesh host and follow its mesh VirtualService', async () => {
    const r = await mesh.request('ingress', { url: 'http://reviews:9080/x' });
    assert.equal(r.json().workload, 'reviews-v1');
  });

  test('with no Gateway, origin-form requests route by Host = service name', async () => {
    await mesh.push({ destinationRules: [subsets] });
    const r = await mesh.request('ingress', { url: '/x', host: 'productpage:9080' });
    assert.equal(r.json().workload, 'productpage-v1');
  });
});
