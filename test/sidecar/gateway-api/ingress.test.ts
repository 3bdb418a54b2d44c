/**
 * A Gateway API Gateway served by the ingress, through real sidecars: each
 * Gateway port on a local port of its own (here a free port for 80, 443 and
 * 8080), HTTP and HTTPS (TLS terminated with the listener's certificate,
 * chosen by SNI), hostnames choosing the listener and the routes, allowedRoutes
 * deciding who may attach, and a backend in another namespace refused
 * without a ReferenceGrant and served with one.
 */
import { strict as assert } from 'node:assert';
import * as http from 'node:http';
import * as https from 'node:https';
import { after, before, describe, it } from 'node:test';
import { createCa } from '../../../simulator/control/ca';
import { freePorts } from '../../../simulator/control/ports';
import type { MeshSpec, Resource } from '../../../simulator/policy/model';
import { startMeshFromSpec, type EchoBody, type TestMesh } from '../fixtures';

const SPEC: MeshSpec = {
  services: [
    { name: 'productpage', port: 9080, workloads: [{ name: 'productpage-v1', port: 1 }] },
    { name: 'reviews', port: 9080, workloads: [{ name: 'reviews-v1', port: 1 }] },
    { name: 'billing', namespace: 'pay', port: 8080, workloads: [{ name: 'billing-v1', port: 1 }] },
  ],
};

const gateway: Resource<'KubernetesGateway'> = {
  apiVersion: 'gateway.networking.k8s.io/v1', kind: 'KubernetesGateway' as never, metadata: { name: 'edge', namespace: 'default' },
  spec: {
    gatewayClassName: 'istio',
    listeners: [
      { name: 'http', port: 80, protocol: 'HTTP', hostname: '*.example.com', allowedRoutes: { namespaces: { from: 'All' } } },
      { name: 'https', port: 443, protocol: 'HTTPS', hostname: 'shop.example.com' },
      { name: 'admin', port: 8080, protocol: 'HTTP' },
    ],
  },
};
(gateway as { kind: string }).kind = 'Gateway';

const route = (name: string, namespace: string, spec: Resource<'HTTPRoute'>['spec']): Resource<'HTTPRoute'> =>
  ({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name, namespace }, spec });

const ROUTES = [
  route('shop', 'default', {
    parentRefs: [{ name: 'edge' }],
    hostnames: ['shop.example.com'],
    rules: [
      { matches: [{ path: { type: 'PathPrefix', value: '/reviews' } }], backendRefs: [{ name: 'reviews', port: 9080 }] },
      { matches: [{ path: { type: 'PathPrefix', value: '/secure' } }], filters: [{ type: 'RequestRedirect', requestRedirect: { scheme: 'https' } }] },
      { backendRefs: [{ name: 'productpage', port: 9080 }] },
    ],
  }),
  route('api', 'default', { parentRefs: [{ name: 'edge', sectionName: 'http' }], hostnames: ['api.example.com'], rules: [{ backendRefs: [{ name: 'billing', namespace: 'pay', port: 8080 }] }] }),
  route('from-pay', 'pay', { parentRefs: [{ name: 'edge', namespace: 'default', sectionName: 'admin' }], rules: [{ backendRefs: [{ name: 'billing', port: 8080 }] }] }),
];

const grant: Resource<'ReferenceGrant'> = {
  apiVersion: 'gateway.networking.k8s.io/v1beta1', kind: 'ReferenceGrant', metadata: { name: 'default-routes', namespace: 'pay' },
  spec: { from: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: 'default' }], to: [{ group: '', kind: 'Service' }] },
};

describe('a Gateway API Gateway at the ingress', () => {
  let mesh: TestMesh;
  let ports: { http: number; https: number; admin: number };
  const ca = createCa({ trustDomain: 'cluster.local' });

  before(async () => {
    const [h, s, a] = await freePorts(3);
    ports = { http: h, https: s, admin: a };
    const cert = ca.issueServer({ dns: ['shop.example.com'] });
    mesh = await startMeshFromSpec(SPEC, { gatewayApi: [gateway, ...ROUTES] }, {
      gatewayPorts: { 'default/edge:80': h, 'default/edge:443': s, 'default/edge:8080': a },
      listenerCertificates: { 'default/edge:443': [{ hostname: 'shop.example.com', certPem: cert.certPem, keyPem: cert.keyPem, source: 'minted by devmesh' }] },
    });
  });
  after(() => mesh?.close());

  const get = (port: number, host: string, path = '/'): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> => new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path, headers: { host }, agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    }).on('error', reject);
  });
  const workload = (body: string) => (JSON.parse(body) as EchoBody).workload;

  it('serves each Gateway port on its local port, as the ingress reports', () => {
    assert.deepEqual(mesh.ingress!.ports.listeners, { 'default/edge:80': ports.http, 'default/edge:443': ports.https, 'default/edge:8080': ports.admin });
  });

  it('routes by the Host: the route whose hostname it is, by path precedence', async () => {
    assert.equal(workload((await get(ports.http, 'shop.example.com', '/reviews/1')).body), 'reviews-v1');
    assert.equal(workload((await get(ports.http, 'shop.example.com:80', '/')).body), 'productpage-v1');
  });

  it('answers 404 for a Host its listener covers but no route serves, and for a Host no listener covers', async () => {
    const none = await get(ports.http, 'unknown.example.com');
    assert.equal(none.status, 404);
    assert.match(none.body, /no route attached to listener http for host "unknown.example.com"/);
    assert.match((await get(ports.http, 'shop.other.org')).body, /has no listener on port 80 for host "shop.other.org"/);
  });

  it('derives a redirect\'s port from the listener\'s, not the local port devmesh mapped it to', async () => {
    const r = await get(ports.http, 'shop.example.com', '/secure/cart');
    assert.equal(r.status, 302);
    assert.equal(r.headers.location, 'https://shop.example.com/secure/cart');
  });

  it('terminates TLS on an HTTPS listener with the certificate for the SNI name, and tells the backend the scheme', async () => {
    const reply = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      https.get({ host: '127.0.0.1', port: ports.https, servername: 'shop.example.com', path: '/x', headers: { host: 'shop.example.com' }, ca: ca.trustBundlePem, agent: false }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      }).on('error', reject);
    });
    assert.equal(reply.status, 200);
    const seen = JSON.parse(reply.body) as EchoBody;
    assert.equal(seen.workload, 'productpage-v1');
    assert.equal(seen.headers['x-forwarded-proto'], 'https');
  });

  it('refuses a route from a namespace the listener does not allow (allowedRoutes from: Same)', async () => {
    assert.equal((await get(ports.admin, 'anything')).status, 404);
  });

  it('answers 500 for a backend in another namespace without a ReferenceGrant there, and serves it once one allows it', async () => {
    const refused = await get(ports.http, 'api.example.com');
    assert.equal(refused.status, 500);
    assert.match(refused.body, /no ReferenceGrant in pay allows HTTPRoutes of default/);
    await mesh.push({ gatewayApi: [gateway, ...ROUTES, grant] });
    assert.equal(workload((await get(ports.http, 'api.example.com')).body), 'billing-v1');
  });
});
