/**
 * TCP services under `devmesh up` (real processes: the control plane, its
 * sidecars and Debian's redis-server as a supervised workload): up's tables
 * print the three ways to reach each service port, the topology API keeps
 * them, and an app reaches Redis by its local upstream port and by CONNECT
 * on its sidecar's outbound listener. Skips where redis-server is absent.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import type { Topology } from '../../simulator/control/api/contract';
import { connectVia, redisCli, redisCommand } from '../sidecar/l4/fixtures';
import { freePorts, removeDir, upWithMesh, waitFor, withOutput, type UpProcess } from './helpers';

const installed = !spawnSync('redis-server', ['--version']).error && !spawnSync('redis-cli', ['--version']).error;

describe('Redis under devmesh up', { skip: installed ? false : 'redis-server/redis-cli not installed (apt-get install redis-server)' }, () => {
  let dir: string;
  let up: UpProcess;
  let ports: Record<'control' | 'ingress' | 'redis' | 'cart' | 'cartOut' | 'local', number>;
  before(async () => {
    const [control, ingress, redis, cart, cartOut, local] = await freePorts(6);
    ports = { control, ingress, redis, cart, cartOut, local };
    ({ dir, up } = await upWithMesh(`apiVersion: devmesh.dev/v1alpha1
kind: Mesh
metadata: { name: shop }
spec:
  controlPort: ${control}
  ingress: { port: ${ingress} }
  services:
    - name: redis
      ports: [{ name: redis, port: 6379 }]
      workloads:
        - name: redis-v1
          port: ${redis}
          command: [redis-server, --port, "${redis}", --bind, 127.0.0.1, --save, "", --appendonly, "no"]
    - name: cart
      port: 9190
      workloads:
        - name: cart-v1
          port: ${cart}
          sidecar: { outboundPort: ${cartOut} }
          upstreams:
            - { service: redis, port: 6379, localPort: ${local} }
`, 'devmesh-tcp-up-'));
  });
  after(async () => {
    await up?.stop();
    if (dir) removeDir(dir);
  });

  test('up prints, per service port, the proxy form, the CONNECT target and the local upstream ports', () => {
    const row = (start: string) => up.output().split('\n').find((l) => l.startsWith(start) && l.includes('CONNECT'));
    assert.match(row('redis:6379') ?? '', new RegExp(`^redis:6379 +redis +- +CONNECT redis:6379 +cart-v1 127\\.0\\.0\\.1:${ports.local}$`), up.output());
    assert.match(row('cart:9190') ?? '', /^cart:9190 +http +GET http:\/\/cart:9190\/ +CONNECT cart:9190 +-$/);
  });

  test('the topology API keeps the three ways with each service port, and each workload\'s upstreams', async () => {
    const t = await (await up.api('/api/topology')).json() as Topology;
    const redis = t.services.find((s) => s.name === 'redis')!;
    assert.deepEqual(redis.ports[0].reach, { connect: 'redis:6379', upstreams: [{ workload: 'cart-v1', localPort: ports.local }] });
    assert.deepEqual(t.services.find((s) => s.name === 'cart')!.ports[0].reach, { proxyForm: 'http://cart:9190/', connect: 'cart:9190', upstreams: [] });
    assert.deepEqual(t.workloads.find((w) => w.name === 'cart-v1')!.upstreams, [{ service: 'redis.default.svc.cluster.local', port: 6379, localPort: ports.local }]);
  });

  test('redis-cli on the local upstream port and a CONNECT on the app\'s outbound listener reach the same Redis', async () => {
    assert.deepEqual(await redisCli(ports.local, 'SET', 'cart:7', 'two items'), { out: 'OK', code: 0 });
    const c = await connectVia(ports.cartOut, 'redis:6379');
    try {
      assert.equal(c.status, 200);
      assert.equal(await redisCommand(c.socket, 'GET', 'cart:7'), 'two items');
    } finally {
      c.socket.destroy();
    }
  });

  test('the topology draws cart-v1 -> redis-v1 as a TCP edge: its connections over mTLS, bytes and the one still open', async () => {
    const c = await connectVia(ports.cartOut, 'redis:6379');
    try {
      assert.equal(await redisCommand(c.socket, 'SET', 'cart:8', 'x'.repeat(2_000)), '+OK');
      const edge = await waitFor('a TCP edge with the open connection and its bytes', async () => {
        const t = await (await up.api('/api/topology')).json() as Topology;
        const e = t.edges.find((x) => x.source === 'cart-v1' && x.destination === 'redis-v1');
        return e?.tcp && e.tcp.open >= 1 && e.tcp.bytes >= 2_000 ? e : undefined;
      }).catch(withOutput(up));
      assert.deepEqual(edge.protocols, ['tcp']);
      assert.equal(edge.service, 'redis');
      assert.equal(edge.mtlsShare, 1);
      assert.ok(edge.tcp!.connections >= 1 && edge.tcp!.bytesPerSecond > 0, JSON.stringify(edge.tcp));
      assert.equal(edge.requests, 0, 'connections, not requests');
    } finally {
      c.socket.destroy();
    }
  });
});
