/**
 * The egress gateway's servers that terminate the sidecar's TLS, through real
 * sidecars and a real egress gateway, against pilot's gateway.go:
 *
 * - a `TLS` server with `tls.mode: ISTIO_MUTUAL` (the mutual-TLS variant of
 *   Istio's "Egress Gateways for HTTPS traffic": the sidecar's tls[] leg to
 *   the gateway with a DestinationRule `ISTIO_MUTUAL`, `sni`): pilot's
 *   createGatewayTCPFilterChainOpts terminates it and routes the stream by
 *   tcp[] (buildGatewayNetworkFiltersFromTCPRoutes: the VirtualServices bound
 *   to the Gateway oldest first, skipping one whose hosts overlap none of the
 *   server's, the first tcp[] rule that matches); the app's own TLS inside
 *   reaches the external host untouched;
 * - an `HTTPS` server with `ISTIO_MUTUAL` (the TLS-origination task's):
 *   the VirtualServices of the virtual host are taken oldest first.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { withEgressGateway } from '../../../simulator/policy/egress-gateway';
import type { MeshSpec, Resource } from '../../../simulator/policy/model';
import { dr, gw, se, startMeshFromSpec, vs, type Policies, type TestMesh } from '../fixtures';
import { externalHttp, externalHttps, testCa, type ExternalServer, type TestCa } from './fixtures';
import { connectVia, eventually, httpsViaConnect } from '../l4/fixtures';

const GATEWAY_HOST = 'istio-egressgateway.istio-system.svc.cluster.local';
const GATEWAY = 'istio-egressgateway';
const spec: MeshSpec = { services: [{ name: 'sleep', port: 80, workloads: [{ name: 'sleep-v1', port: 1 }] }] };
const created = (v: Resource<'VirtualService'>, at: string): Resource<'VirtualService'> => ({ ...v, metadata: { ...v.metadata, creationTimestamp: at } });
const OLDER = '2026-01-01T00:00:00Z';
const NEWER = '2026-06-01T00:00:00Z';

async function meshWith(policies: Policies): Promise<TestMesh> {
  return startMeshFromSpec(withEgressGateway(spec, (policies.gateways ?? []) as Resource[]), policies, { ingress: false });
}

describe('an egress gateway TLS server with ISTIO_MUTUAL: terminated, routed by tcp[]', { timeout: 90_000 }, () => {
  let ca: TestCa;
  let cnn: ExternalServer;
  let other: ExternalServer;
  let mesh: TestMesh;
  const entries = () => [
    se('cnn', { hosts: ['edition.cnn.com'], location: 'MESH_EXTERNAL', resolution: 'STATIC', ports: [{ number: 443, name: 'tls', protocol: 'TLS' }], endpoints: [{ address: '127.0.0.1', ports: { tls: cnn.port } }] }),
    se('other', { hosts: ['other.example.com'], location: 'MESH_EXTERNAL', resolution: 'STATIC', ports: [{ number: 443, name: 'tls', protocol: 'TLS' }], endpoints: [{ address: '127.0.0.1', ports: { tls: other.port } }] }),
  ];
  /** The task's legs: tls[] from the mesh to the gateway (by SNI), tcp[] from the gateway to the external host. */
  const legs = (at = OLDER) => created(vs('direct-cnn-through-egress-gateway', {
    hosts: ['edition.cnn.com'],
    gateways: ['mesh', GATEWAY],
    tls: [{ match: [{ gateways: ['mesh'], port: 443, sniHosts: ['edition.cnn.com'] }], route: [{ destination: { host: GATEWAY_HOST, subset: 'cnn', port: { number: 443 } } }] }],
    tcp: [{ match: [{ gateways: [GATEWAY], port: 443 }], route: [{ destination: { host: 'edition.cnn.com', port: { number: 443 } }, weight: 100 }] }],
  }), at);
  /** Another VirtualService bound to the gateway, its tcp[] leg to other.example.com. */
  const toOther = (name: string, hosts: string[], at: string) => created(vs(name, { hosts, gateways: [GATEWAY], tcp: [{ match: [{ gateways: [GATEWAY], port: 443 }], route: [{ destination: { host: 'other.example.com', port: { number: 443 } } }] }] }), at);
  const policies = (virtualServices: Resource<'VirtualService'>[] = [legs()]): Policies => ({
    serviceEntries: entries(),
    gateways: [gw(GATEWAY, { selector: { istio: 'egressgateway' }, servers: [{ port: { number: 443, name: 'tls', protocol: 'TLS' }, hosts: ['edition.cnn.com'], tls: { mode: 'ISTIO_MUTUAL' } }] })],
    destinationRules: [dr('egressgateway-for-cnn', { host: GATEWAY_HOST, subsets: [{ name: 'cnn', trafficPolicy: { portLevelSettings: [{ port: { number: 443 }, tls: { mode: 'ISTIO_MUTUAL', sni: 'edition.cnn.com' } }] } }] })],
    virtualServices,
  });


  const httpsVia = () => httpsViaConnect(mesh.sidecars.get('sleep-v1')!.ports.outbound!, 'edition.cnn.com:443', 'edition.cnn.com', ca.certPem, '/politics');

  before(async () => {
    ca = testCa();
    // Both answer for edition.cnn.com (the app's TLS names it): which one answered says where the gateway sent it.
    [cnn, other] = await Promise.all([externalHttps('cnn', ca, ['edition.cnn.com']), externalHttps('other', ca, ['edition.cnn.com'])]);
    mesh = await meshWith(policies());
  });
  after(async () => {
    await mesh?.close();
    await cnn?.close();
    await other?.close();
  });

  it('routes the decrypted stream by the tcp[] leg: the app\'s own TLS reaches the external host', async () => {
    const r = await httpsVia();
    assert.deepEqual([r.status, r.body.server, r.body.tls], [200, 'cnn', true]);
    const entry = await eventually(() => mesh.sidecars.get(GATEWAY)!.accessLog.tail().find((e) => e.protocol === '-' && e.upstream_cluster === 'outbound|443||edition.cnn.com'), 'the gateway\'s entry');
    const route = entry.decisions?.find((d) => d.step === 'route');
    assert.equal(route?.step === 'route' ? route.route : undefined, 'direct-cnn-through-egress-gateway.tcp.0');
  });

  it('the oldest VirtualService bound to the gateway routes it, whatever order they are written in', async () => {
    await mesh.push(policies([toOther('newer-to-other', ['edition.cnn.com'], NEWER), legs(OLDER)]));
    assert.equal((await httpsVia()).body.server, 'cnn');
    await mesh.push(policies([legs(NEWER), toOther('older-to-other', ['edition.cnn.com'], OLDER)]));
    assert.equal((await httpsVia()).body.server, 'other');
    await mesh.push(policies());
  });

  it('an older VirtualService whose hosts overlap none of the server\'s takes no part (pickMatchingGatewayHosts)', async () => {
    await mesh.push(policies([toOther('older-for-other-hosts', ['www.example.com'], OLDER), legs(NEWER)]));
    assert.equal((await httpsVia()).body.server, 'cnn');
    // A wildcard that covers the server's host does.
    await mesh.push(policies([toOther('older-for-cnn-wildcard', ['*.cnn.com'], OLDER), legs(NEWER)]));
    assert.equal((await httpsVia()).body.server, 'other');
    await mesh.push(policies());
  });
});

describe('an egress gateway HTTPS server with ISTIO_MUTUAL (TLS origination task): the virtual host\'s VirtualServices oldest first', { timeout: 90_000 }, () => {
  let cnn: ExternalServer;
  let other: ExternalServer;
  let mesh: TestMesh;
  const mesh80 = (at: string) => created(vs('cnn-mesh-leg', {
    hosts: ['edition.cnn.com'], gateways: ['mesh'],
    http: [{ match: [{ gateways: ['mesh'], port: 80 }], route: [{ destination: { host: GATEWAY_HOST, subset: 'cnn', port: { number: 80 } } }] }],
  }), at);
  const gatewayLeg = (name: string, host: string, at: string) => created(vs(name, {
    hosts: ['edition.cnn.com'], gateways: [GATEWAY],
    http: [{ match: [{ gateways: [GATEWAY], port: 80, uri: { prefix: '/politics' } }], route: [{ destination: { host, port: { number: 80 } } }] }],
  }), at);
  const policies = (virtualServices: Resource<'VirtualService'>[]): Policies => ({
    serviceEntries: [
      se('cnn', { hosts: ['edition.cnn.com'], location: 'MESH_EXTERNAL', resolution: 'STATIC', ports: [{ number: 80, name: 'http', protocol: 'HTTP' }], endpoints: [{ address: '127.0.0.1', ports: { http: cnn.port } }] }),
      se('other', { hosts: ['other.example.com'], location: 'MESH_EXTERNAL', resolution: 'STATIC', ports: [{ number: 80, name: 'http', protocol: 'HTTP' }], endpoints: [{ address: '127.0.0.1', ports: { http: other.port } }] }),
    ],
    gateways: [gw(GATEWAY, { selector: { istio: 'egressgateway' }, servers: [{ port: { number: 80, name: 'https-port-for-tls-origination', protocol: 'HTTPS' }, hosts: ['edition.cnn.com'], tls: { mode: 'ISTIO_MUTUAL' } }] })],
    destinationRules: [dr('egressgateway-for-cnn', { host: GATEWAY_HOST, subsets: [{ name: 'cnn' }], trafficPolicy: { portLevelSettings: [{ port: { number: 80 }, tls: { mode: 'ISTIO_MUTUAL', sni: 'edition.cnn.com' } }] } })],
    virtualServices,
  });

  before(async () => {
    [cnn, other] = await Promise.all([externalHttp('cnn'), externalHttp('other')]);
    mesh = await meshWith(policies([mesh80(OLDER), gatewayLeg('newer-leg', 'other.example.com', NEWER), gatewayLeg('older-leg', 'edition.cnn.com', OLDER)]));
  });
  after(async () => {
    await mesh?.close();
    await cnn?.close();
    await other?.close();
  });

  it('two VirtualServices for the host at the gateway: the older one\'s route serves it, whatever order they are written in', async () => {
    const r = await mesh.request('sleep-v1', { url: 'http://edition.cnn.com/politics' });
    assert.equal(r.status, 200, r.text);
    assert.equal((r.json() as { server: string }).server, 'cnn');
    await mesh.push(policies([mesh80(OLDER), gatewayLeg('older-leg', 'other.example.com', OLDER), gatewayLeg('newer-leg', 'edition.cnn.com', NEWER)]));
    assert.equal(((await mesh.request('sleep-v1', { url: 'http://edition.cnn.com/politics' })).json() as { server: string }).server, 'other');
  });
});

describe('TLS origination on the TCP path (a DestinationRule tls SIMPLE on a ServiceEntry TCP port): the app speaks plaintext, the proxy speaks TLS', { timeout: 90_000 }, () => {
  let ca: TestCa;
  let files: string;
  let cnn: ExternalServer;
  let mesh: TestMesh;
  const entry = () => se('cnn', { hosts: ['edition.cnn.com'], location: 'MESH_EXTERNAL', resolution: 'STATIC', ports: [{ number: 443, name: 'tcp-port', protocol: 'TCP' }], endpoints: [{ address: '127.0.0.1', ports: { 'tcp-port': cnn.port } }] });
  const originate = () => dr('originate-tls-for-edition-cnn-com', { host: 'edition.cnn.com', trafficPolicy: { portLevelSettings: [{ port: { number: 443 }, tls: { mode: 'SIMPLE', caCertificates: path.join(files, 'ca.pem') } }] } });
  /** The gateway variant: the sidecar's tcp[] leg to the gateway's ISTIO_MUTUAL TLS server, the gateway's tcp[] leg on; the gateway originates. */
  const throughGateway = (): Policies => ({
    serviceEntries: [entry()],
    gateways: [gw(GATEWAY, { selector: { istio: 'egressgateway' }, servers: [{ port: { number: 443, name: 'tls', protocol: 'TLS' }, hosts: ['edition.cnn.com'], tls: { mode: 'ISTIO_MUTUAL' } }] })],
    destinationRules: [dr('egressgateway-for-cnn', { host: GATEWAY_HOST, subsets: [{ name: 'cnn' }] }), originate()],
    virtualServices: [vs('direct-cnn-through-egress-gateway', {
      hosts: ['edition.cnn.com'], gateways: ['mesh', GATEWAY],
      tcp: [
        { match: [{ gateways: ['mesh'], port: 443 }], route: [{ destination: { host: GATEWAY_HOST, subset: 'cnn', port: { number: 443 } } }] },
        { match: [{ gateways: [GATEWAY], port: 443 }], route: [{ destination: { host: 'edition.cnn.com', port: { number: 443 } } }] },
      ],
    })],
  });

  /** A plaintext HTTP request through a CONNECT tunnel of sleep's sidecar: what the external HTTPS server answered, or the error. */
  async function plainVia(): Promise<{ server: string; tls: boolean } | { error: string }> {
    const c = await connectVia(mesh.sidecars.get('sleep-v1')!.ports.outbound!, 'edition.cnn.com:443');
    assert.equal(c.status, 200, `CONNECT: ${c.status} ${c.body}`);
    return new Promise((resolve) => {
      let text = '';
      c.socket.on('data', (d: Buffer) => (text += d.toString()));
      // The tunnel is half-open: the answer ends with the server's close.
      c.socket.on('end', () => {
        c.socket.end();
        const body = text.slice(text.indexOf('\r\n\r\n') + 4);
        try { resolve(JSON.parse(body)); } catch { resolve({ error: text || '(closed)' }); }
      });
      c.socket.on('error', () => undefined);
      c.socket.resume();
      c.socket.write('GET /politics HTTP/1.1\r\nHost: edition.cnn.com\r\nConnection: close\r\n\r\n');
    });
  }

  before(async () => {
    ca = testCa();
    files = ca.writeFiles('gateway.client');
    cnn = await externalHttps('cnn', ca, ['edition.cnn.com']);
    mesh = await meshWith(throughGateway());
  });
  after(async () => {
    await mesh?.close();
    await cnn?.close();
    fs.rmSync(files, { recursive: true, force: true });
  });

  it('the egress gateway originates TLS to the external host on its tcp[] leg', async () => {
    assert.deepEqual(await plainVia(), { server: 'cnn', url: '/politics', host: 'edition.cnn.com', tls: true });
  });

  it('a sidecar originates it on its own hop (no gateway legs)', async () => {
    await mesh.push({ serviceEntries: [entry()], gateways: throughGateway().gateways, destinationRules: [originate()] });
    assert.deepEqual(await plainVia(), { server: 'cnn', url: '/politics', host: 'edition.cnn.com', tls: true });
    await mesh.push(throughGateway());
  });
});
