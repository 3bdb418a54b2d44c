import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import { ap, dr, pa } from '../fixtures';
import { echoClient, grpcMesh, say, statusOf, type GrpcMesh } from './fixtures';

describe('AuthorizationPolicy and PeerAuthentication on gRPC calls', () => {
  let m: GrpcMesh;
  before(async () => { m = await grpcMesh(); });
  after(() => m.close());

  test('an ALLOW policy on the method path admits Say and denies Watch with PERMISSION_DENIED "RBAC: access denied"', async () => {
    await m.mesh.push({
      authorizationPolicies: [ap('ratings-say-only', {
        selector: { matchLabels: { app: 'ratings' } },
        action: 'ALLOW',
        rules: [{ from: [{ source: { principals: ['cluster.local/ns/default/sa/productpage'] } }], to: [{ operation: { paths: ['/devmesh.test.Echo/Say'], methods: ['POST'] } }] }],
      })],
    });
    const client = await m.client();
    assert.equal((await say(client, { text: 'ok' })).reply.text, 'ok');
    const denied = await new Promise<grpc.StatusObject>((resolve) => {
      const s = client.watch({ count: 1 });
      s.on('error', () => undefined);
      s.on('status', resolve);
    });
    assert.equal(denied.code, grpc.status.PERMISSION_DENIED);
    assert.equal(denied.details, 'RBAC: access denied');
    const inbound = m.mesh.sidecars.get('ratings-v1')!.accessLog.tail().at(-1)!;
    assert.equal(inbound.response_flags, 'UAEX');
    assert.equal(m.mesh.sidecars.get('ratings-v1')!.stats.get('rbac.denied'), 1);
  });

  test('a DENY policy on one method denies only that method, call by call on one connection', async () => {
    await m.mesh.push({
      authorizationPolicies: [ap('no-collect', { selector: { matchLabels: { app: 'ratings' } }, action: 'DENY', rules: [{ to: [{ operation: { paths: ['/devmesh.test.Echo/Collect'] } }] }] })],
    });
    const client = await m.client();
    const denied = await statusOf(new Promise((resolve, reject) => { const c = client.collect(new grpc.Metadata(), {}, (e, r) => (e ? reject(e) : resolve(r))); c.end(); }));
    assert.equal(denied.code, grpc.status.PERMISSION_DENIED);
    assert.equal((await say(client, { text: 'still fine' })).reply.text, 'still fine');
  });

  test('PERMISSIVE admits a plaintext h2c client straight to the inbound port; STRICT refuses its connection while mesh calls go on', async () => {
    await m.mesh.push({});
    const inboundPort = m.mesh.sidecars.get('ratings-v1')!.ports.inbound!;
    const outsider = echoClient(`127.0.0.1:${inboundPort}`, { 'grpc.default_authority': 'ratings:9090' });
    try {
      const { reply } = await say(outsider, { text: 'plain' });
      assert.equal(reply.text, 'plain');
      assert.equal(reply.metadata!['x-forwarded-client-cert'], undefined);
      assert.ok(m.mesh.sidecars.get('ratings-v1')!.stats.get('inbound.cx_plaintext') >= 1);
      await m.mesh.push({ peerAuthentications: [pa('strict', { mtls: { mode: 'STRICT' } })] });
      const refused = await statusOf(say(outsider, { text: 'plain again' }, {}, { deadline: Date.now() + 5000 }));
      assert.equal(refused.code, grpc.status.UNAVAILABLE);
      assert.equal((await say(await m.client(), { text: 'mtls' })).reply.text, 'mtls');
    } finally {
      outsider.close();
      await m.mesh.push({});
    }
  });
});

describe('circuit breaking and outlier detection per gRPC call', () => {
  let m: GrpcMesh;
  before(async () => { m = await grpcMesh({ workloads: ['ratings-v1', 'ratings-v2'] }); });
  after(() => m.close());

  test('maxConnections: 1 does not serialize gRPC calls: the destination is HTTP/2, every call rides one connection', async () => {
    await m.mesh.push({ destinationRules: [dr('ratings', { host: 'ratings', trafficPolicy: { connectionPool: { tcp: { maxConnections: 1 }, http: { http1MaxPendingRequests: 1 } } } })] });
    const client = await m.client();
    // A first call opens the connection (calls wait, pending, while it connects, as in Envoy).
    await say(client, { text: 'warm' });
    const replies = await Promise.all(Array.from({ length: 8 }, (_, i) => say(client, { text: String(i) }, { 'sleep-ms': '20' })));
    assert.deepEqual(replies.map((r) => r.reply.text), ['0', '1', '2', '3', '4', '5', '6', '7']);
    assert.equal(m.mesh.sidecars.get('productpage-v1')!.stats.get('upstream_rq_pending_overflow'), 0);
  });

  test('http2MaxRequests: 1 refuses a second concurrent call on the same connection with UNAVAILABLE (UO)', async () => {
    await m.mesh.push({ destinationRules: [dr('ratings', { host: 'ratings', trafficPolicy: { connectionPool: { http: { http2MaxRequests: 1, http1MaxPendingRequests: 1 } } } })] });
    const client = await m.client();
    const hang = new grpc.Metadata();
    hang.set('hang', '1');
    hang.set('sleep-ms', '5');
    const holder = client.watch({}, hang);
    holder.on('error', () => undefined);
    await once(holder, 'data');
    const s = await statusOf(say(client, { text: 'second' }));
    assert.equal(s.code, grpc.status.UNAVAILABLE);
    assert.match(s.details, /overflow/);
    const log = m.mesh.sidecars.get('productpage-v1')!.accessLog.tail().at(-1)!;
    assert.equal(log.response_flags, 'UO');
    holder.cancel();
  });

  test('consecutive UNAVAILABLE answers eject a host: later calls on the same connection all go to the other one', async () => {
    await m.mesh.push({
      destinationRules: [dr('ratings', { host: 'ratings', trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' }, outlierDetection: { consecutive5xxErrors: 2, interval: '1s', baseEjectionTime: '30s', maxEjectionPercent: 50 } } })],
      virtualServices: [],
    });
    const client = await m.client();
    const fail = { 'fail-with': String(grpc.status.UNAVAILABLE), 'only-on': 'ratings-v1' };
    for (let i = 0; i < 6; i++) await statusOf(say(client, { text: String(i) }, fail));
    assert.ok(m.mesh.sidecars.get('productpage-v1')!.stats.get('outlier_detection.ejections_enforced_total') >= 1);
    for (let i = 0; i < 6; i++) assert.equal((await say(client, { text: String(i) }, fail)).reply.workload, 'ratings-v2');
  });
});
