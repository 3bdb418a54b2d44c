/**
 * Calls out of the mesh through real sidecars: ServiceEntry hosts routed,
 * retried, faulted and load-balanced like mesh services; the outbound
 * traffic policy (ALLOW_ANY passthrough, REGISTRY_ONLY black hole, per
 * Sidecar); Sidecar egress scoping. The "external" hosts are local servers.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { dr, se, sidecarResource, startMeshRetrying, vs, type TestMesh } from '../fixtures';
import { externalHttp, type ExternalServer } from './fixtures';

const services = [
  { name: 'productpage', workloads: [{ name: 'productpage-v1' }] },
  { name: 'reviews', workloads: [{ name: 'reviews-v1' }] },
];

const entry = (ext: ExternalServer[], extra: Partial<Parameters<typeof se>[1]> = {}) => se('payments', {
  hosts: ['api.payments.example'], location: 'MESH_EXTERNAL', resolution: 'STATIC',
  ports: [{ number: 80, name: 'http', protocol: 'HTTP' }],
  endpoints: ext.map((e, i) => ({ address: '127.0.0.1', ports: { http: e.port }, labels: { version: `v${i + 1}` } })),
  ...extra,
});

describe('egress through a sidecar', () => {
  let mesh: TestMesh;
  let v1: ExternalServer;
  let v2: ExternalServer;
  let other: ExternalServer;

  before(async () => {
    [v1, v2, other] = await Promise.all([externalHttp('payments-v1'), externalHttp('payments-v2'), externalHttp('unlisted')]);
    mesh = await startMeshRetrying(services, { serviceEntries: [entry([v1])] });
  });
  after(async () => {
    await mesh?.close();
    await Promise.all([v1, v2, other].map((s) => s?.close()));
  });

  it('sends a proxy-form call to a ServiceEntry host to its STATIC endpoint, with the Host the app wrote', async () => {
    const r = await mesh.request('productpage-v1', { url: 'http://api.payments.example/charge' });
    assert.equal(r.status, 200);
    assert.equal(r.json<{ server: string }>().server, 'payments-v1');
    const seen = v1.seen.at(-1)!;
    assert.equal(seen.host, 'api.payments.example');
    assert.equal(seen.headers['x-devmesh-destination'], undefined, 'no mesh-internal header leaves the mesh');
    const log = mesh.sidecars.get('productpage-v1')!.accessLog.tail().at(-1)!;
    assert.equal(log.upstream_cluster, 'outbound|80||api.payments.example');
    assert.equal(log.upstream_host, `127.0.0.1:${v1.port}`);
  });

  it('routes a ServiceEntry host by subset: endpoint labels are what DestinationRule subsets select', async () => {
    await mesh.push({
      serviceEntries: [entry([v1, v2])],
      destinationRules: [dr('payments', { host: 'api.payments.example', subsets: [{ name: 'v1', labels: { version: 'v1' } }, { name: 'v2', labels: { version: 'v2' } }] })],
      virtualServices: [vs('payments', { hosts: ['api.payments.example'], http: [{ route: [{ destination: { host: 'api.payments.example', subset: 'v2' } }] }] })],
    });
    const before2 = v2.seen.length;
    const before1 = v1.seen.length;
    for (let i = 0; i < 4; i++) assert.equal((await mesh.request('productpage-v1', { url: 'http://api.payments.example/' })).json<{ server: string }>().server, 'payments-v2');
    assert.equal(v2.seen.length - before2, 4);
    assert.equal(v1.seen.length, before1);
  });

  it('retries a ServiceEntry host as a VirtualService says, and injects its faults', async () => {
    let failures = 2;
    v1.answer = () => (failures-- > 0 ? 503 : 200);
    await mesh.push({
      serviceEntries: [entry([v1])],
      virtualServices: [vs('payments', { hosts: ['api.payments.example'], http: [
        { match: [{ uri: { prefix: '/flaky' } }], route: [{ destination: { host: 'api.payments.example' } }], timeout: '5s', retries: { attempts: 3, retryOn: '5xx' } },
        { match: [{ uri: { prefix: '/teapot' } }], route: [{ destination: { host: 'api.payments.example' } }], fault: { abort: { httpStatus: 418, percentage: { value: 100 } } } },
      ] })],
    });
    const start = v1.seen.length;
    const r = await mesh.request('productpage-v1', { url: 'http://api.payments.example/flaky' });
    assert.equal(r.status, 200);
    assert.equal(v1.seen.length - start, 3, 'two 503s, then the third attempt answers');
    assert.equal(v1.seen.at(-1)!.headers['x-envoy-attempt-count'], '3');
    const log = mesh.sidecars.get('productpage-v1')!.accessLog.tail().at(-1)!;
    assert.equal(log.upstream_host, `127.0.0.1:${v1.port}`, 'the endpoint behind a timeout is the request\'s');
    assert.equal(log.peer_workload, '127.0.0.1');
    const f = await mesh.request('productpage-v1', { url: 'http://api.payments.example/teapot' });
    assert.equal(f.status, 418);
    assert.equal(v1.seen.length - start, 3, 'an aborted call never leaves the sidecar');
    v1.answer = () => 200;
  });

  it('ejects a failing endpoint of a ServiceEntry host (outlier detection)', async () => {
    v2.answer = () => 500;
    await mesh.push({
      serviceEntries: [entry([v1, v2])],
      destinationRules: [dr('payments', { host: 'api.payments.example', trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' }, outlierDetection: { consecutive5xxErrors: 1, interval: '1s', baseEjectionTime: '1m', maxEjectionPercent: 100 } } })],
      virtualServices: [vs('payments', { hosts: ['api.payments.example'], http: [{ route: [{ destination: { host: 'api.payments.example' } }], retries: { attempts: 0 } }] })],
    });
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await mesh.request('productpage-v1', { url: 'http://api.payments.example/' })).status);
    assert.equal(statuses.filter((s) => s === 500).length, 1, `one 500 ejects the endpoint: ${statuses}`);
    v2.answer = () => 200;
  });

  it('passes a host outside the registry through (ALLOW_ANY), logged as the PassthroughCluster', async () => {
    await mesh.push({ serviceEntries: [entry([v1])] });
    const r = await mesh.request('productpage-v1', { url: `http://127.0.0.1:${other.port}/anything?x=1` });
    assert.equal(r.status, 200);
    assert.equal(other.seen.at(-1)!.url, '/anything?x=1');
    const log = mesh.sidecars.get('productpage-v1')!.accessLog.tail().at(-1)!;
    assert.equal(log.upstream_cluster, 'PassthroughCluster');
    assert.equal(log.route_name, 'allow_any');
    const metrics = await mesh.sidecars.get('productpage-v1')!.telemetry.metrics.text();
    assert.match(metrics, /istio_requests_total\{[^}]*destination_service="127\.0\.0\.1"[^}]*destination_service_name="PassthroughCluster"/);
  });

  it('answers 502 from the BlackHoleCluster under REGISTRY_ONLY, and still serves ServiceEntry hosts', async () => {
    await mesh.push({ serviceEntries: [entry([v1])], outboundTrafficPolicy: 'REGISTRY_ONLY' });
    const before = other.seen.length;
    const r = await mesh.request('productpage-v1', { url: `http://127.0.0.1:${other.port}/` });
    assert.equal(r.status, 502);
    assert.equal(r.headers['x-devmesh-proxy-error'], 'registry-only');
    assert.match(r.text, /REGISTRY_ONLY \(Mesh spec\.outboundTrafficPolicy\).*ServiceEntry/);
    assert.equal(other.seen.length, before);
    const log = mesh.sidecars.get('productpage-v1')!.accessLog.tail().at(-1)!;
    assert.equal(`${log.upstream_cluster} ${log.route_name}`, 'BlackHoleCluster block_all');
    assert.equal((await mesh.request('productpage-v1', { url: 'http://api.payments.example/' })).status, 200);
  });

  it('lets a Sidecar resource set one workload\'s outbound traffic policy', async () => {
    await mesh.push({ serviceEntries: [entry([v1])], sidecars: [sidecarResource('strict-reviews', { workloadSelector: { labels: { app: 'reviews' } }, outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' } })] });
    assert.equal((await mesh.request('reviews-v1', { url: `http://127.0.0.1:${other.port}/` })).status, 502);
    assert.equal((await mesh.request('productpage-v1', { url: `http://127.0.0.1:${other.port}/` })).status, 200);
  });

  it('knows only the hosts a Sidecar\'s egress lists: others fail as unknown', async () => {
    await mesh.push({
      serviceEntries: [entry([v1]), se('elsewhere', { hosts: ['api.elsewhere.example'], resolution: 'STATIC', ports: [{ number: 80, name: 'http' }], endpoints: [{ address: '127.0.0.1', ports: { http: other.port } }] }, 'partners')],
      outboundTrafficPolicy: 'REGISTRY_ONLY',
      sidecars: [sidecarResource('default', { egress: [{ hosts: ['./*', 'partners/api.elsewhere.example'] }] })],
    });
    assert.equal((await mesh.request('productpage-v1', { url: 'http://api.payments.example/' })).status, 200, './* imports the namespace\'s entry');
    assert.equal((await mesh.request('productpage-v1', { url: 'http://api.elsewhere.example/' })).status, 200, 'ns/host imports one host');
    await mesh.push({
      serviceEntries: [entry([v1])], outboundTrafficPolicy: 'REGISTRY_ONLY',
      sidecars: [sidecarResource('default', { egress: [{ hosts: ['istio-system/*'] }] })],
    });
    const blocked = await mesh.request('productpage-v1', { url: 'http://api.payments.example/' });
    assert.equal(blocked.status, 502);
    assert.equal(blocked.headers['x-devmesh-proxy-error'], 'registry-only');
    const mesh404 = await mesh.request('productpage-v1', { url: 'http://reviews:9080/' });
    assert.equal(mesh404.status, 502);
    assert.match(mesh404.text, /Sidecar default\/default limits the hosts/);
  });
});
