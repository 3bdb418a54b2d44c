import * as http from 'node:http';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseXfcc } from '../../simulator/sidecar/security/xfcc';
import { startMesh, type TestMesh } from './fixtures';

describe('a request from one workload to another', () => {
  let mesh: TestMesh;
  before(async () => {
    mesh = await startMesh([
      { name: 'productpage', workloads: [{ name: 'productpage-v1' }] },
      { name: 'reviews', workloads: [{ name: 'reviews-v1', labels: { app: 'reviews', version: 'v1' } }] },
    ]);
  });
  after(() => mesh.close());

  test('goes outbound -> mTLS HTTP/2 -> inbound -> app, and the app sees the caller SPIFFE id in XFCC', async () => {
    const r = await mesh.request('productpage-v1', { url: 'http://reviews:9080/reviews/1?x=1' });
    assert.equal(r.status, 200);
    const body = r.json();
    assert.equal(body.workload, 'reviews-v1');
    assert.equal(body.url, '/reviews/1?x=1');
    const xfcc = parseXfcc(body.headers['x-forwarded-client-cert']);
    assert.equal(xfcc.URI, 'spiffe://cluster.local/ns/default/sa/productpage');
    assert.equal(xfcc.By, 'spiffe://cluster.local/ns/default/sa/reviews');
    assert.match(xfcc.Hash, /^[0-9a-f]{64}$/);
    assert.match(body.headers['x-request-id'], /^[0-9a-f-]{36}$/);
    assert.equal(body.headers.host, 'reviews:9080');
    assert.equal(mesh.sidecars.get('productpage-v1')!.stats.get('upstream_rq_mtls'), 1);
    assert.equal(mesh.sidecars.get('reviews-v1')!.stats.get('inbound.cx_mtls'), 1);
  });

  test('origin-form requests whose Host names a service are routed too, by any spelling of the host', async () => {
    for (const host of ['reviews', 'reviews:9080', 'reviews.default', 'reviews.default.svc.cluster.local:9080']) {
      const r = await mesh.request('productpage-v1', { url: '/ping', host });
      assert.equal(r.status, 200, host);
      assert.equal(r.json().workload, 'reviews-v1');
    }
  });

  test('many requests share one HTTP/2 session to the peer sidecar', async () => {
    await Promise.all(Array.from({ length: 20 }, () => mesh.request('productpage-v1', { url: 'http://reviews:9080/' })));
    const dump = await fetch(`http://127.0.0.1:${mesh.sidecars.get('productpage-v1')!.ports.admin}/config_dump`).then((r) => r.json()) as { upstreamSessions: number };
    assert.equal(dump.upstreamSessions, 1);
  });

  test('request and response bodies stream through both sidecars', async () => {
    const big = 'x'.repeat(3 * 1024 * 1024);
    const r = await mesh.request('productpage-v1', { url: 'http://reviews:9080/upload', method: 'POST', body: big, headers: { 'content-type': 'text/plain' } });
    assert.equal(r.status, 200);
    assert.equal(r.json().bodyBytes, big.length);
  });

  test('an unknown host fails fast with 502, naming the host and the known services', async () => {
    // Fast: the answer is the sidecar's own (NR), never a wait on a connection that cannot exist.
    const r = await mesh.request('productpage-v1', { url: 'http://nosuch:9080/' });
    assert.equal(r.status, 502);
    assert.equal(r.headers['x-devmesh-proxy-error'], 'unknown-host');
    assert.equal(r.headers['x-devmesh-response-flags'], 'NR');
    assert.match(r.text, /nosuch/);
    assert.match(r.text, /reviews:9080/);
  });

  test('an upstream whose app is down answers 503 UF,URX from the inbound sidecar, after its reset-before-request retries (pilot route.go:1305-1313)', async () => {
    const app = mesh.apps.get('reviews-v1') as http.Server;
    const port = mesh.snapshot.workloads.find((w) => w.name === 'reviews-v1')!.appPort;
    app.closeAllConnections();
    await new Promise<void>((r) => app.close(() => r()));
    try {
      const r = await mesh.request('productpage-v1', { url: 'http://reviews:9080/' });
      assert.equal(r.status, 503);
      assert.equal(r.headers['x-devmesh-response-flags'], 'UF,URX');
      assert.equal(mesh.sidecars.get('reviews-v1')!.stats.get('inbound.app_retry'), 2);
    } finally {
      await new Promise<void>((r) => app.listen(port, '127.0.0.1', r));
    }
  });

  test('the access log records one line per request per sidecar with the route and upstream', async () => {
    await mesh.request('productpage-v1', { url: 'http://reviews:9080/logged', headers: { 'x-request-id': 'req-42' } });
    const out = mesh.sidecars.get('productpage-v1')!.accessLog.tail().find((e) => e.request_id === 'req-42');
    const inb = mesh.sidecars.get('reviews-v1')!.accessLog.tail().find((e) => e.request_id === 'req-42');
    assert.ok(out && inb);
    assert.equal(out.upstream_host, `127.0.0.1:${mesh.snapshot.workloads.find((w) => w.name === 'reviews-v1')!.sidecar.inboundPort}`);
    assert.equal(out.peer_workload, 'reviews-v1');
    assert.equal(out.upstream_cluster, 'outbound|9080||reviews.default.svc.cluster.local');
    assert.equal(inb.downstream_peer, 'spiffe://cluster.local/ns/default/sa/productpage');
  });
});
