/**
 * The DestinationRule's connection pool and outlier detection, and runtime
 * TCP toxics, on the L4 path through real sidecars: maxConnections refuses
 * the connection past the limit (UO), connectTimeout bounds a tunnel that
 * never comes up (UF), a host whose app refuses connections is ejected, and
 * a toxic relay sits in the path of the connections it targets.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { MeshSpec } from '../../../simulator/policy/model';
import type { MeshSnapshot, RuntimeFault } from '../../../simulator/protocol';
import { seededRandom } from '../../../simulator/sidecar/routing/loadBalancer';
import { dr, freePort, startMeshFromSpec, type TestMesh } from '../fixtures';
import { connectVia, eventually, exchangeLine, say, tcpEcho } from './fixtures';

describe('TCP resilience', () => {
  let mesh: TestMesh;
  let local: number;
  let version = 1000;
  // Each case's policies are a patch on the ones in force, so a case undoes what it set (a 200 ms connectTimeout
  // left in force would fail the next case's tunnels through a latency toxic on a loaded machine).
  let current: MeshSnapshot | undefined;
  const apply = async (patch: Partial<MeshSnapshot>) => {
    const snapshot = current = { ...(current ?? mesh.snapshot), ...patch, version: ++version };
    for (const s of mesh.sidecars.values()) assert.equal((await s.handle({ type: 'config', snapshot }))?.type, 'applied');
  };
  const lastEntry = () => mesh.sidecars.get('sleep')!.accessLog.tail().filter((e) => e.protocol === '-').at(-1)!;

  before(async () => {
    local = await freePort();
    const spec: MeshSpec = {
      services: [
        { name: 'tcp-echo', ports: [{ name: 'tcp', port: 9000 }], workloads: [
          { name: 'tcp-echo-v1', labels: { app: 'tcp-echo', version: 'v1' }, port: 1 },
          { name: 'tcp-echo-v2', labels: { app: 'tcp-echo', version: 'v2' }, port: 2 },
        ] },
        { name: 'sleep', port: 80, workloads: [{ name: 'sleep', port: 3, upstreams: [{ service: 'tcp-echo', localPort: local }] }] },
      ],
    };
    mesh = await startMeshFromSpec(spec, {}, { ingress: false, random: seededRandom(5), app: (n: string) => (n.startsWith('tcp-echo-v') ? tcpEcho(n.slice(-2)) : undefined) } as Parameters<typeof startMeshFromSpec>[2]);
  });
  after(() => mesh.close());

  test('connectionPool.tcp.maxConnections: the connection past the limit is closed at once (UO); a freed slot is used again', async () => {
    await apply({ destinationRules: [dr('tcp-echo', { host: 'tcp-echo', trafficPolicy: { connectionPool: { tcp: { maxConnections: 1 } } } })] });
    const first = await connectVia(mesh.sidecars.get('sleep')!.ports.outbound!, 'tcp-echo:9000');
    assert.match(await exchangeLine(first.socket, 'held'), /^v[12] held$/);
    const second = await connectVia(mesh.sidecars.get('sleep')!.ports.outbound!, 'tcp-echo:9000');
    assert.deepEqual([second.status, second.reason], [503, 'overflow']);
    assert.equal(lastEntry().response_flags, 'UO');
    first.socket.end();
    await eventually(async () => ((await say(local, 'again')).trim().endsWith('again') ? true : undefined), 'the freed slot');
    const clusters = JSON.stringify(await fetchClusters(mesh));
    assert.match(clusters, /"upstream_cx_overflow":[1-9]/);
  });

  test('connectTimeout bounds a tunnel that never comes up (a toxic that holds every byte): closed with UF', async () => {
    const hold: RuntimeFault = { id: 'hold', service: 'tcp-echo', host: 'tcp-echo.default.svc.cluster.local', tcp: { type: 'timeout' } };
    await apply({ destinationRules: [dr('tcp-echo', { host: 'tcp-echo', trafficPolicy: { connectionPool: { tcp: { connectTimeout: '200ms' } } } })], faults: [hold] });
    try {
      assert.equal((await say(local, 'x')).trim(), '');
      assert.deepEqual([lastEntry().response_flags, lastEntry().proxy_error], ['UF', 'connect-timeout']);
    } finally {
      await apply({ destinationRules: [], faults: [] });
    }
  });

  test('a TCP toxic sits in the path of the connections it targets, and leaves when removed', async () => {
    const latency: RuntimeFault = { id: 'lat', service: 'tcp-echo', host: 'tcp-echo.default.svc.cluster.local', tcp: { type: 'latency', latencyMs: 20 } };
    // Without the previous test's 200 ms connectTimeout: a new session's handshake through 20 ms each way can take longer on a busy machine.
    await apply({ faults: [latency], destinationRules: [] });
    const reply = (await say(local, 'slow')).trim();
    assert.match(reply, /^v[12] slow$/, JSON.stringify(lastEntry()));
    const relays = await fetchToxics(mesh);
    assert.ok(relays.some((r) => r.connections >= 1), JSON.stringify(relays));
    await apply({ faults: [] });
    assert.equal((await fetchToxics(mesh)).length, 0);
    assert.match((await say(local, 'fast')).trim(), /^v[12] fast$/);
  });

  test('outlier detection: a host whose app refuses connections is ejected after consecutiveGatewayErrors, the other takes every connection', async () => {
    await apply({ destinationRules: [dr('tcp-echo', { host: 'tcp-echo', trafficPolicy: {
      loadBalancer: { simple: 'ROUND_ROBIN' },
      outlierDetection: { consecutiveGatewayErrors: 2, interval: '10s', baseEjectionTime: '30s', maxEjectionPercent: 100 },
    } })] });
    const logged = mesh.sidecars.get('sleep')!.accessLog.tail().length;
    const down = mesh.apps.get('tcp-echo-v2')! as import('node:net').Server & { destroyAll(): void };
    down.destroyAll();
    await new Promise<void>((r) => down.close(() => r()));
    const answers: string[] = [];
    for (let i = 0; i < 10; i++) answers.push((await say(local, 'x')).trim());
    // Round robin alternates until v2 has failed twice; after that v1 only.
    assert.equal(answers.filter((a) => a === '').length, 2, JSON.stringify(answers));
    assert.deepEqual(new Set(answers.slice(4)), new Set(['v1 x']));
    const failed = mesh.sidecars.get('sleep')!.accessLog.tail().slice(logged).filter((e) => e.protocol === '-' && e.response_flags === 'UF');
    assert.ok(failed.length >= 2 && failed.every((e) => e.peer_workload === 'tcp-echo-v2'));
    assert.match(JSON.stringify(await fetchClusters(mesh)), /"host":"tcp-echo-v2","ejected":true/);
  });
});

async function fetchClusters(mesh: TestMesh): Promise<unknown> {
  const r = await fetch(`http://127.0.0.1:${mesh.sidecars.get('sleep')!.ports.admin}/clusters`);
  return r.json();
}

async function fetchToxics(mesh: TestMesh): Promise<Array<{ connections: number }>> {
  const r = await fetch(`http://127.0.0.1:${mesh.sidecars.get('sleep')!.ports.admin}/config_dump`);
  const body = await r.json() as { toxics?: Array<{ connections: number }> };
  return body.toxics ?? [];
}
