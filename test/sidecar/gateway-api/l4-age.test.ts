/**
 * A Gateway API TLS or TCP listener becomes an Istio Gateway server stamped
 * with its Gateway's creationTimestamp (pilot gateway_collection.go), and
 * pilot merges it among the Istio Gateways by that age (initGateways,
 * mergeGateways). Here an Istio Gateway and a newer Kubernetes Gateway
 * pass one host through on one port: the newer listener's server repeats
 * the host and is skipped, so the Istio Gateway's VirtualService takes the
 * connection. Real ingress, real ClientHellos.
 */
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { createCa } from '../../../simulator/control/ca';
import type { MeshSpec, Resource } from '../../../simulator/policy/model';
import { freePort, gw, startMeshFromSpec, vs, type TestMesh } from '../fixtures';
import { tlsGreeter, tlsHello } from '../l4/fixtures';

const SPEC: MeshSpec = {
  services: ['shop', 'blog'].map((name) => ({ name, ports: [{ name: 'tls', port: 443 }], workloads: [{ name: `${name}-v1`, port: 1 }] })),
};
const appCa = createCa({ trustDomain: 'example.com' });
const apps = (n: string) => (['shop-v1', 'blog-v1'].includes(n) ? tlsGreeter(n, appCa.issueServer({ dns: ['*.example.com'] })) : undefined);
const API = 'gateway.networking.k8s.io';

describe('a Gateway API listener is merged among Istio Gateways by its Gateway\'s creationTimestamp', () => {
  let mesh: TestMesh;
  let port = 0;

  before(async () => {
    port = await freePort();
    const k8sGateway = {
      apiVersion: `${API}/v1`, kind: 'Gateway', metadata: { name: 'edge-api', namespace: 'default', creationTimestamp: '2026-02-01T00:00:00Z' },
      spec: { gatewayClassName: 'istio', listeners: [{ name: 'tls', port, protocol: 'TLS', hostname: 'shop.example.com', tls: { mode: 'Passthrough' } }] },
    } as unknown as Resource<'KubernetesGateway'>;
    const tlsRoute = {
      apiVersion: `${API}/v1alpha2`, kind: 'TLSRoute', metadata: { name: 'to-blog', namespace: 'default' },
      spec: { parentRefs: [{ name: 'edge-api', sectionName: 'tls' }], hostnames: ['shop.example.com'], rules: [{ backendRefs: [{ name: 'blog', port: 443 }] }] },
    } as unknown as Resource<'TLSRoute'>;
    const istio = gw('edge-istio', { selector: { istio: 'ingressgateway' }, servers: [{ port: { number: port, name: 'tls', protocol: 'TLS' }, tls: { mode: 'PASSTHROUGH' }, hosts: ['shop.example.com'] }] });
    mesh = await startMeshFromSpec(SPEC, {
      gateways: [{ ...istio, metadata: { ...istio.metadata, creationTimestamp: '2026-01-01T00:00:00Z' } }],
      virtualServices: [vs('to-shop', { hosts: ['shop.example.com'], gateways: ['edge-istio'], tls: [{ match: [{ sniHosts: ['shop.example.com'] }], route: [{ destination: { host: 'shop', port: { number: 443 } } }] }] })],
      gatewayApi: [k8sGateway, tlsRoute],
    }, { app: apps } as Parameters<typeof startMeshFromSpec>[2]);
  });
  after(() => mesh?.close());

  it('the older Istio Gateway keeps the host', async () => {
    assert.equal(await tlsHello(port, 'shop.example.com', appCa.certPem), 'shop-v1 shop.example.com');
  });
});
