/**
 * A VirtualService bound to a Gateway adds filter chains to a TLS
 * passthrough or TCP server only when one of its hosts overlaps one of the
 * server's hosts, from a namespace the server host admits (`ns/host`):
 * pilot's gateway.go buildGatewayNetworkFiltersFromTLSRoutes and
 * ...FromTCPRoutes skip it otherwise (pickMatchingGatewayHosts), whatever
 * its sniHosts say. The filter chains, not the server hosts, are what
 * Envoy matches the server name against: at the egress gateway a server of
 * hosts "*" with a tls[] match of sniHosts "*" takes a ClientHello without a
 * server name, as at the ingress.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tls from 'node:tls';
import { createCa } from '../../../simulator/control/ca';
import { withEgressGateway } from '../../../simulator/policy/egress-gateway';
import type { MeshSpec, Resource } from '../../../simulator/policy/model';
import { explainGatewayConnection } from '../../../simulator/explain/walkGatewayL4';
import { dr, freePort, gw, se, startMeshFromSpec, vs, type TestMesh } from '../fixtures';
import { connectVia, eventually, tlsGreeter, tlsHello } from './fixtures';
import { externalHttps, testCa, type ExternalServer, type TestCa } from '../egress/fixtures';

const SPEC: MeshSpec = {
  services: ['shop', 'blog', 'news'].map((name) => ({ name, ports: [{ name: 'tls', port: 443 }], workloads: [{ name: `${name}-v1`, port: 1 }] })),
};
const appCa = createCa({ trustDomain: 'example.com' });
const apps = (n: string) => (['shop-v1', 'blog-v1', 'news-v1'].includes(n) ? tlsGreeter(n, appCa.issueServer({ dns: ['*.example.com'] })) : undefined);

/** A TLS client of a gateway port asking for `servername`: what the app behind it said, '' when closed. */
const hello = (port: number, servername: string) => tlsHello(port, servername, appCa.certPem);
const to = (host: string) => [{ destination: { host, port: { number: 443 } } }];

describe('ingress: a VirtualService whose hosts the Gateway server does not serve adds no route there', () => {
  let mesh: TestMesh;
  const ports = { tls: 0, scoped: 0, tcp: 0 };

  before(async () => {
    [ports.tls, ports.scoped, ports.tcp] = [await freePort(), await freePort(), await freePort()];
    const edge = gw('edge', {
      selector: { istio: 'ingressgateway' },
      servers: [
        { port: { number: ports.tls, name: 'tls', protocol: 'TLS' }, tls: { mode: 'PASSTHROUGH' }, hosts: ['shop.example.com'] },
        { port: { number: ports.scoped, name: 'tls-prod', protocol: 'TLS' }, tls: { mode: 'PASSTHROUGH' }, hosts: ['prod/*.example.com'] },
        { port: { number: ports.tcp, name: 'tcp', protocol: 'TCP' }, hosts: ['tcp.example.com'] },
      ],
    });
    mesh = await startMeshFromSpec(SPEC, {
      gateways: [edge],
      virtualServices: [
        // blog.example.com is no host of the servers: pilot skips this VirtualService on every port of them.
        vs('blog', { hosts: ['blog.example.com'], gateways: ['edge'], tls: [{ match: [{ sniHosts: ['blog.example.com'] }], route: to('blog') }], tcp: [{ route: to('blog') }] }),
        vs('shop', { hosts: ['shop.example.com'], gateways: ['edge'], tls: [{ match: [{ sniHosts: ['shop.example.com'] }], route: to('shop') }] }),
        // In namespace default: the prod-only server skips it; the one in prod takes its names.
        vs('wildcard', { hosts: ['*.example.com'], gateways: ['edge'], tls: [{ match: [{ port: ports.scoped, sniHosts: ['*.example.com'] }], route: to('blog') }] }),
        vs('wildcard', { hosts: ['*.example.com'], gateways: ['default/edge'], tls: [{ match: [{ port: ports.scoped, sniHosts: ['*.example.com'] }], route: to('news.default.svc.cluster.local') }] }, 'prod'),
        vs('tcp', { hosts: ['tcp.example.com'], gateways: ['edge'], tcp: [{ route: to('shop') }] }),
      ],
    }, { app: apps } as Parameters<typeof startMeshFromSpec>[2]);
  });
  after(() => mesh?.close());

  test('a passthrough server closes a server name only a VirtualService for other hosts claims (NR), and serves its own', async () => {
    assert.equal(await hello(ports.tls, 'shop.example.com'), 'shop-v1 shop.example.com');
    assert.equal(await hello(ports.tls, 'blog.example.com'), '');
    const entry = await eventually(() => mesh.ingress!.accessLog.tail().find((e) => e.requested_server_name === 'blog.example.com'), 'the closed connection\'s entry');
    assert.deepEqual([entry.response_flags, entry.proxy_error], ['NR', 'no-sni-match']);
  });

  test('a server host `prod/*.example.com` takes the VirtualServices of namespace prod only', async () => {
    assert.equal(await hello(ports.scoped, 'any.example.com'), 'news-v1 any.example.com');
  });

  test('a TCP server takes the first tcp[] rule of a VirtualService for its hosts, not of an earlier one for others', async () => {
    assert.equal(await hello(ports.tcp, 'tcp.example.com'), 'shop-v1 tcp.example.com');
  });

  test('devmesh explain says why the other VirtualService\'s rule does not take the connection', () => {
    const walk = explainGatewayConnection(mesh.snapshot, { from: 'ingress', protocol: 'tls', target: `blog.example.com:${ports.tls}` });
    assert.equal(walk.route.action, 'refused');
    const blog = walk.route.rules.find((r) => r.rule.name === 'blog');
    assert.match(blog?.failed?.join("; ") ?? "", /hosts \["blog\.example\.com"\] overlap no host of the server/);
    const tcp = explainGatewayConnection(mesh.snapshot, { from: 'ingress', protocol: 'tcp', target: `tcp.example.com:${ports.tcp}` });
    assert.deepEqual([tcp.route.chosen?.name, tcp.route.destinations?.map((d) => d.host)], ['tcp', ['shop.default.svc.cluster.local']]);
  });
});

describe('egress gateway: a passthrough server of hosts "*" and a tls[] match of sniHosts "*" take a ClientHello without a server name', () => {
  const GATEWAY_HOST = 'istio-egressgateway.istio-system.svc.cluster.local';
  let ca: TestCa;
  let external: ExternalServer;
  let mesh: TestMesh;

  before(async () => {
    ca = testCa();
    external = await externalHttps('api', ca, ['api.example.org']);
    const gateways = [gw('istio-egressgateway', { selector: { istio: 'egressgateway' }, servers: [{ port: { number: 443, name: 'tls', protocol: 'TLS' }, hosts: ['*'], tls: { mode: 'PASSTHROUGH' } }] })];
    const spec: MeshSpec = { services: [{ name: 'sleep', port: 80, workloads: [{ name: 'sleep-v1', port: 1 }] }] };
    mesh = await startMeshFromSpec(withEgressGateway(spec, gateways as Resource[]), {
      gateways,
      serviceEntries: [se('api', { hosts: ['api.example.org'], location: 'MESH_EXTERNAL', resolution: 'STATIC', ports: [{ number: 443, name: 'tcp', protocol: 'TCP' }], endpoints: [{ address: '127.0.0.1', ports: { tcp: external.port } }] })],
      destinationRules: [dr('egressgateway', { host: GATEWAY_HOST, subsets: [{ name: 'api' }] })],
      virtualServices: [
        // The sidecars send the TCP port to the egress gateway; it routes by the ClientHello's server name, or its absence.
        vs('api-through-egress', { hosts: ['api.example.org'], tcp: [{ match: [{ port: 443 }], route: [{ destination: { host: GATEWAY_HOST, subset: 'api', port: { number: 443 } } }] }] }),
        vs('egress-any-name', { hosts: ['*'], gateways: ['istio-egressgateway'], tls: [{ match: [{ port: 443, sniHosts: ['*'] }], route: [{ destination: { host: 'api.example.org', port: { number: 443 } } }] }] }),
      ],
    }, { ingress: false });
  });
  after(async () => {
    await mesh?.close();
    await external?.close();
  });

  /** CONNECT through the sidecar, then the app's own TLS without a server name and one request: the status. */
  async function withoutSni(): Promise<number> {
    const c = await connectVia(mesh.sidecars.get('sleep-v1')!.ports.outbound!, 'api.example.org:443');
    assert.equal(c.status, 200, `CONNECT: ${c.status} ${c.body}`);
    const s = tls.connect({ socket: c.socket, host: '127.0.0.1', ca: ca.certPem, checkServerIdentity: () => undefined });
    return new Promise((resolve) => {
      let text = '';
      s.on('secureConnect', () => s.write('GET /no-sni HTTP/1.1\r\nhost: api.example.org\r\nconnection: close\r\n\r\n'));
      // The answer's head is enough; the app closes its side then, as a client done with the exchange does.
      s.on('data', (d) => { text += d; if (text.includes('\r\n\r\n')) s.end(); });
      s.on('error', () => undefined);
      s.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1] ?? 0)));
    });
  }

  test('the connection reaches the external host through the gateway', async () => {
    assert.equal(await withoutSni(), 200);
    assert.equal(external.seen.at(-1)?.url, '/no-sni');
    const entry = await eventually(() => mesh.sidecars.get('istio-egressgateway')!.accessLog.tail().find((e) => e.upstream_cluster === 'outbound|443||api.example.org'), 'the gateway\'s entry');
    assert.equal(entry.requested_server_name ?? '-', '-');
  });
});
