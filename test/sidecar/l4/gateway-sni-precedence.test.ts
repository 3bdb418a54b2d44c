/**
 * Which tls[] rule takes a passthrough connection at the ingress when several
 * VirtualServices bound to the Gateway claim its server name. Pilot builds
 * one filter chain per tls[] match of every bound VirtualService, oldest
 * first (gateway.go buildGatewayNetworkFiltersFromTLSRoutes), and drops a
 * match whose sniHosts repeat a name an earlier one claimed on the port
 * ("skipping VirtualService ... duplicate SNI host names"); Envoy's filter
 * chain match then picks the most specific server name — an exact name over
 * a wildcard, a longer wildcard over a shorter one — whatever the
 * VirtualServices' age. The same through the Gateway API: the most specific
 * hostname wins across listeners and routes, then the oldest route.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createCa } from '../../../simulator/control/ca';
import type { MeshSpec, Resource } from '../../../simulator/policy/model';
import { explainGatewayConnection } from '../../../simulator/explain/walkGatewayL4';
import { freePort, gw, startMeshFromSpec, vs, type TestMesh } from '../fixtures';
import { eventually, tlsGreeter, tlsHello } from './fixtures';

const SPEC: MeshSpec = {
  services: ['shop', 'blog', 'news'].map((name) => ({ name, ports: [{ name: 'tls', port: 443 }], workloads: [{ name: `${name}-v1`, port: 1 }] })),
};

const appCa = createCa({ trustDomain: 'example.com' });
const apps = (n: string) => {
  const service = n.replace(/-v1$/, '');
  return ['shop', 'blog', 'news'].includes(service) ? tlsGreeter(n, appCa.issueServer({ dns: ['*.example.com', 'example.com'] })) : undefined;
};

/** A TLS client of a gateway port asking for `servername` (none: no SNI): what the app behind it said, '' when closed. */
const hello = (port: number, servername: string | undefined) => tlsHello(port, servername, appCa.certPem);

const routeTo = (name: string, created: string, sniHosts: string[], backend: string): Resource<'VirtualService'> => {
  const v = vs(name, { hosts: ['*.example.com'], gateways: ['edge'], tls: [{ match: [{ sniHosts }], route: [{ destination: { host: backend, port: { number: 443 } } }] }] });
  return { ...v, metadata: { ...v.metadata, creationTimestamp: created } };
};

describe('Istio Gateway passthrough: the most specific server name across VirtualServices', () => {
  let mesh: TestMesh;
  let port: number;

  before(async () => {
    port = await freePort();
    const edge = gw('edge', { selector: { istio: 'ingressgateway' }, servers: [{ port: { number: port, name: 'tls', protocol: 'TLS' }, tls: { mode: 'PASSTHROUGH' }, hosts: ['*.example.com'] }] });
    mesh = await startMeshFromSpec(SPEC, {
      gateways: [edge],
      virtualServices: [
        // The oldest: every name under example.com to blog.
        routeTo('wildcard', '2026-01-01T00:00:00Z', ['*.example.com'], 'blog'),
        // Newer: shop.example.com, exactly, to shop.
        routeTo('shop-exact', '2026-02-01T00:00:00Z', ['shop.example.com'], 'shop'),
        // Newer still, the same wildcard as the oldest: pilot drops this match (duplicate SNI host names).
        routeTo('wildcard-again', '2026-03-01T00:00:00Z', ['*.example.com'], 'news'),
      ],
    }, { app: apps } as Parameters<typeof startMeshFromSpec>[2]);
  });
  after(() => mesh?.close());

  test('an exact server name of a newer VirtualService wins over an older wildcard', async () => {
    assert.equal(await hello(port, 'shop.example.com'), 'shop-v1 shop.example.com');
    const entry = await eventually(() => mesh.ingress!.accessLog.tail().find((e) => e.protocol === '-' && e.requested_server_name === 'shop.example.com'), 'the ingress\'s access-log entry');
    assert.deepEqual([entry.upstream_cluster, entry.response_flags], ['outbound|443||shop.default.svc.cluster.local', '-']);
  });

  test('other names under the wildcard go to the oldest VirtualService that claims it; the newer duplicate claim is dropped', async () => {
    assert.equal(await hello(port, 'www.example.com'), 'blog-v1 www.example.com');
  });

  test('devmesh explain picks the same rule and says why the others did not take it', () => {
    const shop = explainGatewayConnection(mesh.snapshot, { from: 'ingress', protocol: 'tls', target: `shop.example.com:${port}` });
    assert.deepEqual([shop.route.chosen?.name, shop.route.destinations?.map((d) => d.host)], ['shop-exact', ['shop.default.svc.cluster.local']]);
    const rules = shop.route.rules.map((r) => [r.rule.name, r.matched, r.matched ? r.because : r.failed?.join('; ')]);
    assert.equal(rules.length, 3);
    assert.match(String(rules[0][2]), /more specific/);
    assert.match(String(rules[2][2]), /duplicate SNI host names/);
    const www = explainGatewayConnection(mesh.snapshot, { from: 'ingress', protocol: 'tls', target: `www.example.com:${port}` });
    assert.equal(www.route.chosen?.name, 'wildcard');
  });
});

const API = 'gateway.networking.k8s.io';

describe('Gateway API TLS listeners on one port: the most specific hostname, then the oldest route', () => {
  let mesh: TestMesh;
  let port: number;
  const tlsRoute = (name: string, created: string, section: string, hostnames: string[], backend: string): Resource<'TLSRoute'> => ({
    apiVersion: `${API}/v1alpha2`, kind: 'TLSRoute', metadata: { name, namespace: 'default', creationTimestamp: created },
    spec: { parentRefs: [{ name: 'edge', sectionName: section }], hostnames, rules: [{ backendRefs: [{ name: backend, port: 443 }] }] },
  });

  before(async () => {
    port = await freePort();
    const edge: Resource<'KubernetesGateway'> = {
      apiVersion: `${API}/v1`, kind: 'Gateway' as never, metadata: { name: 'edge', namespace: 'default' },
      spec: {
        gatewayClassName: 'istio',
        listeners: [
          // Written first: the wildcard listener, its route the oldest.
          { name: 'wild', port, protocol: 'TLS', hostname: '*.example.com', tls: { mode: 'Passthrough' } },
          { name: 'shop', port, protocol: 'TLS', hostname: 'shop.example.com', tls: { mode: 'Passthrough' } },
        ],
      },
    };
    mesh = await startMeshFromSpec(SPEC, {
      gatewayApi: [
        edge,
        tlsRoute('everything', '2026-01-01T00:00:00Z', 'wild', [], 'blog'),
        tlsRoute('shop', '2026-02-01T00:00:00Z', 'shop', [], 'shop'),
      ],
    }, { app: apps } as Parameters<typeof startMeshFromSpec>[2]);
  });
  after(() => mesh?.close());

  test('the newer route of the exact listener takes its name; the older wildcard one takes the rest', async () => {
    assert.equal(await hello(port, 'shop.example.com'), 'shop-v1 shop.example.com');
    assert.equal(await hello(port, 'www.example.com'), 'blog-v1 www.example.com');
    const shop = explainGatewayConnection(mesh.snapshot, { from: 'ingress', protocol: 'tls', target: `shop.example.com:${port}` });
    assert.deepEqual([shop.route.chosen?.kind, shop.route.chosen?.name], ['TLSRoute', 'shop']);
  });
});

describe('a ClientHello without a server name at a passthrough port', () => {
  let mesh: TestMesh;
  const ports = { api: 0, named: 0, istio: 0 };
  const tlsRoute = (name: string, section: string, backend: string): Resource<'TLSRoute'> => ({
    apiVersion: `${API}/v1alpha2`, kind: 'TLSRoute', metadata: { name, namespace: 'default' },
    spec: { parentRefs: [{ name: 'edge', sectionName: section }], rules: [{ backendRefs: [{ name: backend, port: 443 }] }] },
  });

  before(async () => {
    [ports.api, ports.named, ports.istio] = [await freePort(), await freePort(), await freePort()];
    const edge: Resource<'KubernetesGateway'> = {
      apiVersion: `${API}/v1`, kind: 'Gateway' as never, metadata: { name: 'edge', namespace: 'default' },
      spec: {
        gatewayClassName: 'istio',
        listeners: [
          { name: 'any', port: ports.api, protocol: 'TLS', tls: { mode: 'Passthrough' } },
          { name: 'named', port: ports.named, protocol: 'TLS', hostname: 'shop.example.com', tls: { mode: 'Passthrough' } },
        ],
      },
    };
    const istioGw = gw('istio-edge', { selector: { istio: 'ingressgateway' }, servers: [{ port: { number: ports.istio, name: 'tls', protocol: 'TLS' }, tls: { mode: 'PASSTHROUGH' }, hosts: ['*'] }] });
    mesh = await startMeshFromSpec(SPEC, {
      gatewayApi: [edge, tlsRoute('any', 'any', 'blog'), tlsRoute('named', 'named', 'shop')],
      gateways: [istioGw],
      virtualServices: [vs('catch-all', { hosts: ['*'], gateways: ['istio-edge'], tls: [{ match: [{ sniHosts: ['*'] }], route: [{ destination: { host: 'news', port: { number: 443 } } }] }] })],
    }, { app: apps } as Parameters<typeof startMeshFromSpec>[2]);
  });
  after(() => mesh?.close());

  test('a TLSRoute without hostnames on a listener without one (sniHosts "*": a chain without server_names) takes it', async () => {
    assert.equal(await hello(ports.api, undefined), 'blog-v1 false', 'the app saw no server name (Node says false)');
    assert.equal(await hello(ports.api, 'anything.example.org'), 'blog-v1 anything.example.org');
    const walk = explainGatewayConnection(mesh.snapshot, { from: 'ingress', protocol: 'tls', target: `127.0.0.1:${ports.api}` });
    assert.deepEqual([walk.route.action, walk.route.chosen?.name], ['forward', 'any']);
    assert.match(walk.route.rules[0].because ?? '', /any server name, or none/);
  });

  test('a VirtualService tls[] match with sniHosts ["*"] takes it too', async () => {
    assert.equal(await hello(ports.istio, undefined), 'news-v1 false');
  });

  test('on a listener with a hostname the route serves that name only: no server name is closed (NR)', async () => {
    assert.equal(await hello(ports.named, 'shop.example.com'), 'shop-v1 shop.example.com');
    assert.equal(await hello(ports.named, undefined), '');
    const entry = await eventually(() => mesh.ingress!.accessLog.tail().find((e) => e.protocol === '-' && e.response_flags === 'NR'), 'the closed connection\'s entry');
    assert.deepEqual([entry.requested_server_name ?? '-', entry.proxy_error], ['-', 'no-sni-match']);
  });
});
