/**
 * The filters see the request after the connection manager's own header
 * mutations, as Envoy's do: the app's x-forwarded-client-cert is sanitized
 * before the route matches, the ingress's x-forwarded-for holds the client
 * address when RBAC runs, a workload's RBAC reads the XFCC its inbound set,
 * and a generated x-request-id is what a consistent hash on it reads.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { ap, dr, startMesh, vs, type TestMesh } from './fixtures';
import { seededRandom } from '../../simulator/sidecar/routing/loadBalancer';

const versions = (app: string, n: number) => ({
  name: app,
  workloads: Array.from({ length: n }, (_, i) => ({ name: `${app}-v${i + 1}`, labels: { app, version: `v${i + 1}` } })),
});
const policies = {
  destinationRules: [
    dr('reviews', { host: 'reviews', subsets: ['v1', 'v2'].map((v) => ({ name: v, labels: { version: v } })) }),
    dr('ratings', { host: 'ratings', trafficPolicy: { loadBalancer: { consistentHash: { httpHeaderName: 'x-request-id' } } } }),
  ],
  virtualServices: [
    vs('reviews', {
      hosts: ['reviews'],
      http: [
        { match: [{ headers: { 'x-forwarded-client-cert': { prefix: 'By=' } } }], route: [{ destination: { host: 'reviews', subset: 'v2' } }] },
        { match: [{ headers: { 'x-forwarded-for': { exact: '127.0.0.1' } } }], route: [{ destination: { host: 'reviews', subset: 'v2' } }] },
        { route: [{ destination: { host: 'reviews', subset: 'v1' } }] },
      ],
    }),
  ],
};
const ingress = { matchLabels: { istio: 'ingressgateway' } };

describe("the connection manager's header mutations come before the filters", () => {
  let mesh: TestMesh;
  before(async () => {
    mesh = await startMesh([{ name: 'productpage', workloads: [{ name: 'productpage-v1' }] }, versions('reviews', 2), versions('ratings', 3)], policies, { random: seededRandom(11) });
  });
  after(() => mesh.close());

  test("an app's own x-forwarded-client-cert is sanitized at its sidecar's outbound before the route matches it", async () => {
    const r = await mesh.request('productpage-v1', { url: 'http://reviews:9080/', headers: { 'x-forwarded-client-cert': 'By=spiffe://cluster.local/ns/default/sa/reviews;URI=spiffe://cluster.local/ns/default/sa/forged' } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json().workload, 'reviews-v1', 'the forged XFCC must not reach the route match');
    assert.doesNotMatch(String(r.json().headers['x-forwarded-client-cert']), /forged/);
  });

  test("the ingress's route matches x-forwarded-for with the client address it appended", async () => {
    const r = await mesh.request('ingress', { url: 'http://reviews:9080/' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json().workload, 'reviews-v2');
    const behind = await mesh.request('ingress', { url: 'http://reviews:9080/', headers: { 'x-forwarded-for': '10.0.0.1' } });
    assert.equal(behind.json().workload, 'reviews-v1', 'the appended list is "10.0.0.1, 127.0.0.1"');
  });

  test("the ingress's AuthorizationPolicy reads x-forwarded-for with the client address it appended", async () => {
    await mesh.push({
      ...policies,
      authorizationPolicies: [ap('local-clients', { selector: ingress, action: 'ALLOW', rules: [{ when: [{ key: 'request.headers[x-forwarded-for]', values: ['127.0.0.1'] }] }] }, 'istio-system')],
    });
    try {
      assert.equal((await mesh.request('ingress', { url: 'http://ratings:9080/' })).status, 200);
      assert.equal((await mesh.request('ingress', { url: 'http://ratings:9080/', headers: { 'x-forwarded-for': '10.0.0.1' } })).status, 403);
    } finally {
      await mesh.push(policies);
    }
  });

  test("a workload's AuthorizationPolicy reads the x-forwarded-client-cert its sidecar's inbound set for the mTLS caller (APPEND_FORWARD)", async () => {
    const ratings = { matchLabels: { app: 'ratings' } };
    await mesh.push({
      ...policies,
      authorizationPolicies: [ap('callers-by-xfcc', { selector: ratings, action: 'ALLOW', rules: [{ when: [{ key: 'request.headers[x-forwarded-client-cert]', values: ['*;URI=spiffe://cluster.local/ns/default/sa/productpage'] }] }] })],
    });
    try {
      const r = await mesh.request('productpage-v1', { url: 'http://ratings:9080/' });
      assert.equal(r.status, 200, r.text);
      assert.match(r.json().headers['x-forwarded-client-cert'], /;URI=spiffe:\/\/cluster\.local\/ns\/default\/sa\/productpage$/);
      assert.equal((await mesh.request('ingress', { url: 'http://ratings:9080/' })).status, 403, "the ingress's element names the ingress gateway");
    } finally {
      await mesh.push(policies);
    }
  });

  test('a consistent hash on x-request-id reads the id the sidecar generated when the app sent none', async () => {
    const picked: Array<{ id: string; workload: string }> = [];
    for (let i = 0; i < 12; i++) {
      const r = await mesh.request('productpage-v1', { url: 'http://ratings:9080/' });
      picked.push({ id: r.json().headers['x-request-id'], workload: r.json().workload });
    }
    for (const { id, workload } of picked) {
      const again = await mesh.request('productpage-v1', { url: 'http://ratings:9080/', headers: { 'x-request-id': id } });
      assert.equal(again.json().workload, workload, `the same id ${id} hashes to the same endpoint`);
    }
  });
});

/**
 * x-forwarded-proto and the connection-specific headers, as Envoy's
 * connection manager leaves them before the first filter: a gateway
 * (use_remote_address) replaces a client's x-forwarded-proto with its own
 * connection's scheme unless gatewayTopology.numTrustedProxies trusts the
 * proxy in front; a sidecar keeps what its app sent and sets the scheme when
 * the app sent none; connection, keep-alive, proxy-connection,
 * transfer-encoding, upgrade and te (but `te: trailers`) reach no filter.
 */
describe('x-forwarded-proto and the connection-specific headers, as the filters see them', () => {
  let mesh: TestMesh;
  const byProto = {
    destinationRules: [dr('reviews', { host: 'reviews', subsets: ['v1', 'v2'].map((v) => ({ name: v, labels: { version: v } })) })],
    virtualServices: [
      vs('reviews', {
        hosts: ['reviews'],
        http: [
          { match: [{ headers: { 'x-forwarded-proto': { exact: 'http' } } }], route: [{ destination: { host: 'reviews', subset: 'v2' } }] },
          { route: [{ destination: { host: 'reviews', subset: 'v1' } }] },
        ],
      }),
    ],
  };
  const gateTo = (when: { key: string; values?: string[]; notValues?: string[] }[], action: 'ALLOW' | 'DENY' = 'ALLOW', selector = ingress) =>
    ({ ...byProto, authorizationPolicies: [ap('by-header', { selector, action, rules: [{ when }] }, selector === ingress ? 'istio-system' : 'default')] });
  before(async () => {
    mesh = await startMesh([{ name: 'productpage', workloads: [{ name: 'productpage-v1' }] }, versions('reviews', 2), versions('ratings', 1)], byProto);
  });
  after(() => mesh.close());

  test('a sidecar sets x-forwarded-proto before the route matches when the app sent none (http: the app\'s connection is plaintext), and keeps the app\'s own', async () => {
    const none = await mesh.request('productpage-v1', { url: 'http://reviews:9080/' });
    assert.equal(none.json().workload, 'reviews-v2', 'the route matched x-forwarded-proto: http');
    assert.equal(none.json().headers['x-forwarded-proto'], 'http');
    const own = await mesh.request('productpage-v1', { url: 'http://reviews:9080/', headers: { 'x-forwarded-proto': 'https' } });
    assert.equal(own.json().workload, 'reviews-v1', 'use_remote_address is off at a sidecar: the app\'s value is kept');
    assert.equal(own.json().headers['x-forwarded-proto'], 'https', 'and forwarded as the app sent it');
  });

  test('the ingress\'s AuthorizationPolicy reads the scheme of the client\'s connection: a client\'s own x-forwarded-proto: https on plaintext is replaced', async () => {
    await mesh.push(gateTo([{ key: 'request.headers[x-forwarded-proto]', values: ['https'] }]));
    try {
      const r = await mesh.request('ingress', { url: 'http://ratings:9080/', headers: { 'x-forwarded-proto': 'https' } });
      assert.equal(r.status, 403, 'the ingress saw http, whatever the client claimed');
      await mesh.push({ ...gateTo([{ key: 'request.headers[x-forwarded-proto]', values: ['http'] }]) });
      const ok = await mesh.request('ingress', { url: 'http://ratings:9080/', headers: { 'x-forwarded-proto': 'https' } });
      assert.equal(ok.status, 200, ok.text);
      assert.equal(ok.json().headers['x-forwarded-proto'], 'http', 'the app behind gets the ingress\'s value');
    } finally {
      await mesh.push(byProto);
    }
  });

  test('gatewayTopology.numTrustedProxies: 1 trusts the proxy in front of the ingress, so its x-forwarded-proto is what the policy reads', async () => {
    await mesh.push({ ...gateTo([{ key: 'request.headers[x-forwarded-proto]', values: ['https'] }]), mesh: { meshConfig: { defaultConfig: { gatewayTopology: { numTrustedProxies: 1 } } } } });
    try {
      const r = await mesh.request('ingress', { url: 'http://ratings:9080/', headers: { 'x-forwarded-proto': 'https' } });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json().headers['x-forwarded-proto'], 'https');
      assert.equal((await mesh.request('ingress', { url: 'http://ratings:9080/' })).status, 403, 'none sent: the connection\'s own http');
    } finally {
      await mesh.push(byProto);
    }
  });

  test('connection-specific headers reach no filter: an ingress DENY on keep-alive, proxy-connection or te: gzip lets the request through; te: trailers is seen', async () => {
    await mesh.push(gateTo([{ key: 'request.headers[keep-alive]', values: ['*'] }], 'DENY'));
    try {
      const r = await mesh.request('ingress', { url: 'http://ratings:9080/', headers: { connection: 'keep-alive', 'keep-alive': 'timeout=5' } });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json().headers['keep-alive'], undefined, 'nor forwarded');
      await mesh.push(gateTo([{ key: 'request.headers[proxy-connection]', values: ['*'] }], 'DENY'));
      assert.equal((await mesh.request('ingress', { url: 'http://ratings:9080/', headers: { 'proxy-connection': 'keep-alive' } })).status, 200);
      await mesh.push(gateTo([{ key: 'request.headers[te]', values: ['gzip'] }], 'DENY'));
      assert.equal((await mesh.request('ingress', { url: 'http://ratings:9080/', headers: { te: 'gzip' } })).status, 200);
      await mesh.push(gateTo([{ key: 'request.headers[te]', values: ['trailers'] }], 'DENY'));
      assert.equal((await mesh.request('ingress', { url: 'http://ratings:9080/', headers: { te: 'trailers' } })).status, 403, 'the one TE value that crosses');
    } finally {
      await mesh.push(byProto);
    }
  });

  test('transfer-encoding reaches no filter, but the chunked body still reaches the app', async () => {
    await mesh.push(gateTo([{ key: 'request.headers[transfer-encoding]', values: ['*'] }], 'DENY'));
    try {
      const r = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port: mesh.ingress!.ports.ingress!, method: 'POST', path: 'http://ratings:9080/', headers: { host: 'ratings:9080', 'transfer-encoding': 'chunked' }, agent: false, timeout: 5000 }, (res) => {
          let body = '';
          res.on('data', (d) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on('error', reject);
        req.write('hello ');
        req.end('world');
      });
      assert.equal(r.status, 200, r.body);
      assert.equal(JSON.parse(r.body).bodyBytes, 11);
    } finally {
      await mesh.push(byProto);
    }
  });
});
