/**
 * Two HTTPRoutes with the same match on one Gateway listener: the Gateway
 * API gives the request to the oldest route. Pilot's conversion sorts them
 * by creationTimestamp (conversion.go sortRoutesByCreationTime:
 * CreationTimestamp.Compare, then namespace, then name), where a route
 * without one has the zero time — older than any route that has one. Here
 * the route without one sorts last by name. Real ingress listener, real
 * requests.
 */
import { strict as assert } from 'node:assert';
import * as http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { freePorts } from '../../../simulator/control/ports';
import type { MeshSpec, Resource } from '../../../simulator/policy/model';
import { startMeshFromSpec, type EchoBody, type TestMesh } from '../fixtures';

const SPEC: MeshSpec = {
  services: ['one', 'two'].map((name) => ({ name, port: 8080, workloads: [{ name: `${name}-v1`, port: 1 }] })),
};

const gateway = {
  apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', metadata: { name: 'edge', namespace: 'default' },
  spec: { gatewayClassName: 'istio', listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }] },
} as unknown as Resource<'KubernetesGateway'>;

const route = (name: string, backend: string, created?: string): Resource<'HTTPRoute'> => ({
  apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name, namespace: 'default', ...(created ? { creationTimestamp: created } : {}) },
  spec: { parentRefs: [{ name: 'edge' }], rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/api' } }], backendRefs: [{ name: backend, port: 8080 }] }] },
});

describe('Gateway API routes of equal precedence: a route without creationTimestamp is the oldest (pilot\'s zero time)', () => {
  let mesh: TestMesh;
  let port = 0;

  before(async () => {
    [port] = await freePorts(1);
    mesh = await startMeshFromSpec(SPEC, { gatewayApi: [gateway, route('a-stamped', 'one', '2026-01-01T00:00:00Z'), route('z-unstamped', 'two')] }, { gatewayPorts: { 'default/edge:80': port } });
  });
  after(() => mesh?.close());

  const workload = (path: string) => new Promise<string>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path, headers: { host: 'shop.example.com' }, agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve((JSON.parse(body) as EchoBody).workload));
    }).on('error', reject);
  });

  it('the route without creationTimestamp takes the request, whatever the names', async () => {
    assert.equal(await workload('/api/items'), 'two-v1');
  });
});

describe('Gateway API routes stamped in one second tie (Kubernetes keeps whole seconds) and fall to namespace, then name', () => {
  let mesh: TestMesh;
  let port = 0;

  before(async () => {
    [port] = await freePorts(1);
    // a-later is 0.9 s later within the second: a cluster would have stamped both 00:00:00, and "a-later" sorts first by name.
    mesh = await startMeshFromSpec(SPEC, { gatewayApi: [gateway, route('b-earlier', 'one', '2026-01-01T00:00:00.100Z'), route('a-later', 'two', '2026-01-01T00:00:00.900Z')] }, { gatewayPorts: { 'default/edge:80': port } });
  });
  after(() => mesh?.close());

  it('the route first by name takes the request', async () => {
    const got = await new Promise<string>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port, path: '/api/items', headers: { host: 'shop.example.com' }, agent: false }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve((JSON.parse(body) as EchoBody).workload));
      }).on('error', reject);
    });
    assert.equal(got, 'two-v1');
  });
});
