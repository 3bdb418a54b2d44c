import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { bandwidthMs, latencyFor, scheduleChunk, toxicApplies, toxicOf } from '../../../simulator/sidecar/chaos/toxics';
import { endpointFaults, faultProblem, faultService, routeFaults, toxicsFor, active } from '../../../simulator/sidecar/chaos/runtimeFaults';
import { seededRandom } from '../../../simulator/sidecar/routing/loadBalancer';
import type { MeshSnapshot, RuntimeFault, WorkloadInfo } from '../../../simulator/protocol';

const wl = (name: string, version: string): WorkloadInfo => ({ name, service: 'reviews', namespace: 'default', labels: { app: 'reviews', version }, serviceAccount: 'reviews', spiffeId: 'x', appPort: 1, sidecar: { inboundPort: 2, outboundPort: 3, adminPort: 4 } });
const caller = { workload: 'productpage-v1', service: 'productpage' };
const labels = (s: string) => ({ v1: { version: 'v1' }, v2: { version: 'v2' } } as Record<string, Record<string, string>>)[s];

describe('toxics', () => {
  test('latency with jitter stays within latency ± jitter and is reproducible with a seed', () => {
    const r = seededRandom(9);
    for (let i = 0; i < 500; i++) {
      const ms = latencyFor({ type: 'latency', latencyMs: 200, jitterMs: 50 }, r);
      assert.ok(ms >= 150 && ms <= 250, String(ms));
    }
    assert.equal(latencyFor({ type: 'latency', latencyMs: 200 }, r), 200);
  });
  test('bandwidth: bytes over rate; chunks keep their order', () => {
    assert.equal(bandwidthMs({ type: 'bandwidth', rateKBps: 10 }, 10 * 1024), 1000);
    assert.equal(scheduleChunk(500, 100, 50), 500);
    assert.equal(scheduleChunk(100, 100, 50), 150);
  });
  test('toxicity is per connection', () => {
    const r = seededRandom(11);
    let n = 0;
    for (let i = 0; i < 2000; i++) if (toxicApplies({ type: 'reset_peer', percentage: 20 }, r)) n++;
    assert.ok(Math.abs(n / 2000 - 0.2) < 0.03);
  });
  test('toxic parameters are checked', () => {
    assert.throws(() => toxicOf({ type: 'gremlin' }), /unknown toxic/);
    assert.throws(() => toxicOf({ type: 'bandwidth' }), /rate/);
    assert.equal(toxicOf({ type: 'latency', latencyMs: 5 }).latencyMs, 5);
  });
});

describe('which runtime faults apply', () => {
  const f = (id: string, x: Partial<RuntimeFault>): RuntimeFault => ({ id, service: 'reviews', abort: { httpStatus: 503, percentage: 100 }, ...x });
  test('service and subset faults act on the route; workload faults and unnamed subsets at the endpoint', () => {
    const faults = [f('svc', {}), f('v1', { subset: 'v1' }), f('w2', { workload: 'reviews-v2' }), f('other', { service: 'ratings' })];
    assert.deepEqual(routeFaults(faults, 'reviews.default.svc.cluster.local', 'v1', caller, 0).map((x) => x.id), ['svc', 'v1']);
    assert.deepEqual(routeFaults(faults, 'reviews.default.svc.cluster.local', undefined, caller, 0).map((x) => x.id), ['svc']);
    assert.deepEqual(endpointFaults(faults, 'reviews.default.svc.cluster.local', undefined, wl('reviews-v1', 'v1'), labels, caller, 0).map((x) => x.id), ['v1']);
    assert.deepEqual(endpointFaults(faults, 'reviews.default.svc.cluster.local', undefined, wl('reviews-v2', 'v2'), labels, caller, 0).map((x) => x.id), ['w2']);
  });
  test('a caller edge and the expiry narrow it', () => {
    const faults = [f('edge', { source: 'details' }), f('old', { expiresAt: 1000 })];
    assert.deepEqual(routeFaults(faults, 'reviews', undefined, caller, 0).map((x) => x.id), ['old']);
    assert.deepEqual(routeFaults(faults, 'reviews', undefined, caller, 1000).map((x) => x.id), []);
    assert.equal(active(faults[1], 999), true);
  });
  test('toxics target workloads of the service, narrowed by subset labels', () => {
    const t = { id: 't', service: 'reviews', subset: 'v2', tcp: { type: 'latency' as const, latencyMs: 1 } };
    assert.equal(toxicsFor([t], wl('reviews-v1', 'v1'), labels, caller, 0).length, 0);
    assert.equal(toxicsFor([t], wl('reviews-v2', 'v2'), labels, caller, 0).length, 1);
  });
});

describe('which service a runtime fault names, across namespaces', () => {
  const svc = (name: string, namespace: string) => ({ name, namespace, fqdn: `${name}.${namespace}.svc.cluster.local`, port: 9080, protocol: 'http' as const, workloads: [`${name}-${namespace}`] });
  const snapshot = { namespace: 'default', meshName: 'm', services: [svc('reviews', 'default'), svc('reviews', 'front'), svc('productpage', 'front')], workloads: [], destinationRules: [], ingress: { name: 'istio-ingressgateway' } } as unknown as MeshSnapshot;
  test('a short name is the only service of that name, else the one in the Mesh\'s namespace; name.namespace and the FQDN say which', () => {
    assert.equal((faultService('productpage', snapshot) as { fqdn: string }).fqdn, 'productpage.front.svc.cluster.local');
    assert.equal((faultService('reviews', snapshot) as { fqdn: string }).fqdn, 'reviews.default.svc.cluster.local');
    assert.equal((faultService('reviews.front', snapshot) as { fqdn: string }).fqdn, 'reviews.front.svc.cluster.local');
    assert.equal((faultService('reviews.front.svc.cluster.local', snapshot) as { fqdn: string }).fqdn, 'reviews.front.svc.cluster.local');
    assert.equal(faultService('ratings', snapshot), undefined);
  });
  test('a fault matches calls to its resolved host only', () => {
    const f: RuntimeFault = { id: 'a', service: 'reviews.front', host: 'reviews.front.svc.cluster.local', abort: { httpStatus: 503, percentage: 100 } };
    assert.deepEqual(routeFaults([f], 'reviews.front.svc.cluster.local', undefined, { workload: 'x' }, 0).map((x) => x.id), ['a']);
    assert.deepEqual(routeFaults([f], 'reviews.default.svc.cluster.local', undefined, { workload: 'x' }, 0), []);
  });
  test('an unknown service is named with the services there are, as name.namespace outside the Mesh\'s namespace', () => {
    assert.match(faultProblem({ service: 'ratings' }, snapshot)!, /no service "ratings" .*services: reviews, reviews\.front, productpage\.front/);
  });
});
