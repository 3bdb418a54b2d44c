/**
 * Runtime faults pushed in the snapshot, through real sidecars: HTTP faults
 * on one workload (inside retries) and TCP toxics on the connections between
 * sidecars, with their expiry. The sidecars read a fake clock: expiry is
 * tested by moving it, not by waiting.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { dr, startMesh, vs, type TestMesh } from './fixtures';
import { seededRandom } from '../../simulator/sidecar/routing/loadBalancer';
import type { MeshSnapshot, RuntimeFault } from '../../simulator/protocol';

describe('runtime chaos through real sidecars', () => {
  let mesh: TestMesh;
  let version = 100;
  let clock = Date.now();
  const setFaults = async (faults: RuntimeFault[], policies: Partial<MeshSnapshot> = {}) => {
    const snapshot = { ...mesh.snapshot, ...policies, version: ++version, faults };
    for (const s of mesh.sidecars.values()) {
      const r = await s.handle({ type: 'config', snapshot });
      assert.equal(r?.type, 'applied');
    }
  };
  const get = (path = '/') => mesh.request('productpage-v1', { url: `http://reviews:9080${path}` });
  const timed = async (path = '/') => { const t0 = Date.now(); const r = await get(path); return { r, ms: Date.now() - t0 }; };
  /** The toxic relays productpage-v1's sidecar runs now (admin /config_dump). */
  const relays = async () => ((await fetch(`http://127.0.0.1:${mesh.sidecars.get('productpage-v1')!.ports.admin}/config_dump`).then((r) => r.json())) as { toxics: unknown[] }).toxics;

  before(async () => {
    mesh = await startMesh([
      { name: 'productpage', workloads: [{ name: 'productpage-v1' }] },
      { name: 'reviews', workloads: [{ name: 'reviews-v1', labels: { app: 'reviews', version: 'v1' } }, { name: 'reviews-v2', labels: { app: 'reviews', version: 'v2' } }] },
    ], { destinationRules: [dr('reviews', { host: 'reviews', subsets: [{ name: 'v1', labels: { version: 'v1' } }, { name: 'v2', labels: { version: 'v2' } }] })] }, { random: seededRandom(3), now: () => clock, ingress: false });
  });
  after(() => mesh.close());

  test('an abort on one workload is retried onto the other by a route that retries 503 (retries avoid the failed host)', async () => {
    const retry503 = vs('reviews', { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews' } }], retries: { attempts: 2, retryOn: 'gateway-error' } }] });
    await setFaults([{ id: 'w', service: 'reviews', workload: 'reviews-v1', abort: { httpStatus: 503, percentage: 100 } }], { virtualServices: [retry503] });
    for (let i = 0; i < 10; i++) {
      const r = await get();
      assert.equal(r.status, 200);
      assert.equal(r.json().workload, 'reviews-v2');
    }
  });

  test('without such a route the workload\'s 503 reaches the caller: Istio\'s default policy no longer retries 503 (since 1.24)', async () => {
    await setFaults([{ id: 'w', service: 'reviews', workload: 'reviews-v1', abort: { httpStatus: 503, percentage: 100 } }], { virtualServices: [] });
    const seen = new Set<number>();
    for (let i = 0; i < 20; i++) seen.add((await get()).status);
    assert.deepEqual([...seen].sort(), [200, 503]);
  });

  test('an abort on the service fails the caller\'s requests; with a caller edge only that caller\'s', async () => {
    await setFaults([{ id: 's', service: 'reviews', abort: { httpStatus: 503, percentage: 100 } }]);
    const r = await get();
    assert.equal(r.status, 503);
    assert.equal(r.headers['x-devmesh-response-flags'], 'FI');
    await setFaults([{ id: 'e', service: 'reviews', source: 'ratings', abort: { httpStatus: 503, percentage: 100 } }]);
    assert.equal((await get()).status, 200);
  });

  test('a fault stops applying when it expires, without a push', async () => {
    await setFaults([{ id: 'x', service: 'reviews', abort: { httpStatus: 500, percentage: 100 }, expiresAt: clock + 300 }]);
    assert.equal((await get()).status, 500);
    clock += 299;
    assert.equal((await get()).status, 500, 'still in force 1 ms before it expires');
    clock += 1;
    assert.equal((await get()).status, 200);
  });

  test('latency toxic with jitter delays each answer by about latency ± jitter', async () => {
    await setFaults([{ id: 'lat', service: 'reviews', tcp: { type: 'latency', latencyMs: 250, jitterMs: 50 } }]);
    const { r, ms } = await timed();
    assert.equal(r.status, 200, `${r.headers['x-devmesh-response-flags']} ${r.text}`);
    assert.ok(ms >= 200, `took ${ms} ms`);
    assert.ok((await relays()).length > 0, 'the calls go through a latency relay');
    await setFaults([]);
    assert.deepEqual(await relays(), [], 'cleared: no relay left in the path');
    assert.equal((await get()).status, 200);
  });

  test('reset_peer resets the connections: the caller gets 503 after its retries', async () => {
    await setFaults([{ id: 'rst', service: 'reviews', tcp: { type: 'reset_peer', timeoutMs: 0 } }]);
    const r = await get();
    assert.equal(r.status, 503);
    assert.match(String(r.headers['x-devmesh-response-flags']), /U[FC]/);
    await setFaults([]);
    assert.equal((await get()).status, 200);
  });

  test('a timeout toxic holds the connection; connectTimeout turns it into 503 UF', async () => {
    await setFaults([{ id: 'to', service: 'reviews', subset: 'v1', tcp: { type: 'timeout' } }], {
      destinationRules: [dr('reviews', { host: 'reviews', trafficPolicy: { connectionPool: { tcp: { connectTimeout: '200ms' } } }, subsets: [{ name: 'v1', labels: { version: 'v1' } }, { name: 'v2', labels: { version: 'v2' } }] })],
      virtualServices: [{ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'r', namespace: 'default' }, spec: { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews', subset: 'v1' } }], retries: { attempts: 0 } }] } }],
    });
    const { r, ms } = await timed();
    assert.equal(r.status, 503);
    assert.equal(r.headers['x-devmesh-response-flags'], 'UF');
    assert.ok(ms >= 180, `answered after the 200 ms connect timeout, not before (${ms} ms)`);
    await setFaults([]);
    assert.equal((await get()).status, 200);
  });
});
