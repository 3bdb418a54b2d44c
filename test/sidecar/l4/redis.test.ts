/**
 * Debian's redis-server behind real sidecars: a workload reaches it with
 * redis-cli on its local upstream port and by CONNECT on its outbound
 * listener, over mTLS between the sidecars, counted in istio_tcp_*; a
 * plaintext client on Redis' inbound port is served under PERMISSIVE and
 * refused under STRICT. Skips with a message where redis-server is absent.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import type { MeshSpec } from '../../../simulator/policy/model';
import { freePort, pa, startMeshFromSpec, type TestMesh } from '../fixtures';
import { connectVia, eventually, metricValue, redisCli, redisCommand, redisServer } from './fixtures';

const REDIS = 'redis.default.svc.cluster.local';
const installed = !spawnSync('redis-server', ['--version']).error && !spawnSync('redis-cli', ['--version']).error;

describe('Redis through the mesh', { skip: installed ? false : 'redis-server/redis-cli not installed (apt-get install redis-server)' }, () => {
  let mesh: TestMesh;
  let local: number;
  before(async () => {
    local = await freePort();
    const spec: MeshSpec = {
      services: [
        { name: 'redis', ports: [{ name: 'redis', port: 6379 }], workloads: [{ name: 'redis-v1', port: 1 }] },
        { name: 'cart', port: 9190, workloads: [{ name: 'cart-v1', port: 2, upstreams: [{ service: 'redis', port: 6379, localPort: local }] }] },
      ],
    };
    mesh = await startMeshFromSpec(spec, {}, { ingress: false, app: async (n) => (n === 'redis-v1' ? redisServer(await freePort()) : undefined) } as Parameters<typeof startMeshFromSpec>[2]);
  });
  after(() => mesh?.close());

  const redisInbound = () => mesh.snapshot.workloads.find((w) => w.name === 'redis-v1')!.sidecar.inboundPort;

  test('redis-cli on the local upstream port sets and gets a key, over mTLS with the caller\'s identity', async () => {
    assert.deepEqual(await redisCli(local, 'SET', 'cart:42', 'three items'), { out: 'OK', code: 0 });
    assert.deepEqual(await redisCli(local, 'GET', 'cart:42'), { out: 'three items', code: 0 });
    const inb = await eventually(() => mesh.sidecars.get('redis-v1')!.accessLog.tail().find((e) => e.protocol === '-'), 'Redis\' sidecar to log the connection');
    assert.equal(inb.downstream_peer, 'spiffe://cluster.local/ns/default/sa/cart');
    const out = mesh.sidecars.get('cart-v1')!.accessLog.tail().find((e) => e.protocol === '-')!;
    assert.equal(out.upstream_cluster, `outbound|6379||${REDIS}`);
  });

  test('the connections are counted in istio_tcp_* at Redis\' sidecar, as mutual_tls from cart', async () => {
    const labels = { reporter: 'destination', source_workload: 'cart-v1', destination_workload: 'redis-v1', destination_service: REDIS, connection_security_policy: 'mutual_tls' };
    const closed = async () => metricValue(await mesh.sidecars.get('redis-v1')!.telemetry.metrics.text(), 'istio_tcp_connections_closed_total', labels) ?? 0;
    const before = await closed();
    assert.equal((await redisCli(local, 'PING')).out, 'PONG');
    await eventually(async () => ((await closed()) > before ? true : undefined), 'the close to be counted');
    const text = await mesh.sidecars.get('redis-v1')!.telemetry.metrics.text();
    assert.ok(metricValue(text, 'istio_tcp_connections_opened_total', labels)! > before);
    assert.ok(metricValue(text, 'istio_tcp_received_bytes_total', labels)! >= '*1\r\n$4\r\nPING\r\n'.length);
    assert.ok(metricValue(text, 'istio_tcp_sent_bytes_total', labels)! >= '+PONG\r\n'.length);
  });

  test('a CONNECT to redis:6379 on the outbound listener carries a Redis conversation', async () => {
    const c = await connectVia(mesh.sidecars.get('cart-v1')!.ports.outbound!, 'redis:6379');
    try {
      assert.equal(c.status, 200);
      assert.equal(await redisCommand(c.socket, 'SET', 'via', 'connect'), '+OK');
      assert.equal(await redisCommand(c.socket, 'GET', 'via'), 'connect');
      assert.equal(await redisCommand(c.socket, 'GET', 'cart:42'), 'three items', 'the same Redis the upstream port reaches');
      assert.equal(await redisCommand(c.socket, 'GET', 'missing'), null);
    } finally {
      c.socket.destroy();
    }
  });

  test('a plaintext redis-cli on Redis\' inbound port is served under PERMISSIVE and refused under STRICT; the mesh client still is', async () => {
    assert.deepEqual(await redisCli(redisInbound(), 'PING'), { out: 'PONG', code: 0 });
    await mesh.push({ peerAuthentications: [pa('default', { mtls: { mode: 'STRICT' } })] });
    const refused = await redisCli(redisInbound(), 'PING');
    assert.notEqual(refused.code, 0);
    assert.doesNotMatch(refused.out, /PONG/);
    assert.deepEqual(await redisCli(local, 'GET', 'cart:42'), { out: 'three items', code: 0 }, 'the sidecar\'s mTLS tunnel is still admitted');
  });
});
