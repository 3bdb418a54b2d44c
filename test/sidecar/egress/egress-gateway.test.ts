/**
 * Istio's "Egress Gateways" task through real sidecars and devmesh's egress
 * gateway (istio-egressgateway in istio-system), with a local server standing
 * in for edition.cnn.com: a Gateway selecting `istio: egressgateway`, a
 * DestinationRule with subset cnn for the gateway, and one VirtualService
 * with two legs — from the mesh to the gateway, from the gateway to the
 * external host. Then "Egress Gateways with TLS Origination": the gateway
 * speaks HTTPS to the external host by a DestinationRule with tls SIMPLE.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { withEgressGateway } from '../../../simulator/policy/egress-gateway';
import type { MeshSpec, Resource } from '../../../simulator/policy/model';
import type { Certificates } from '../../../simulator/protocol';
import type { TlsSecret } from '../../../simulator/policy/gateway-api/secrets';
import { originationCredentials } from '../../../simulator/control/origination-credentials';
import { ap, dr, gw, se, startMeshFromSpec, vs, type Policies, type TestMesh } from '../fixtures';
import { externalHttp, externalHttps, testCa, type ExternalServer, type TestCa } from './fixtures';
import { eventually, httpsViaConnect } from '../l4/fixtures';

const GATEWAY_HOST = 'istio-egressgateway.istio-system.svc.cluster.local';
const spec: MeshSpec = { services: [{ name: 'sleep', port: 80, workloads: [{ name: 'sleep-v1', port: 1 }] }] };

/** The task's Gateway: port 80 (HTTP) for edition.cnn.com on the egress gateway's pods. */
const egressGateway = (server: Record<string, unknown> = {}) => gw('istio-egressgateway', {
  selector: { istio: 'egressgateway' },
  servers: [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['edition.cnn.com'], ...server }],
});
const gatewaySubset = (trafficPolicy?: Record<string, unknown>) => dr('egressgateway-for-cnn', { host: GATEWAY_HOST, subsets: [{ name: 'cnn' }], ...(trafficPolicy ? { trafficPolicy } : {}) });
/** The two legs: the mesh's sidecars send edition.cnn.com:80 to the gateway; the gateway sends it to the external host on `externalPort`. */
const twoLegs = (externalPort = 80) => vs('direct-cnn-through-egress-gateway', {
  hosts: ['edition.cnn.com'],
  gateways: ['istio-egressgateway', 'mesh'],
  http: [
    { match: [{ gateways: ['mesh'], port: 80 }], route: [{ destination: { host: GATEWAY_HOST, subset: 'cnn', port: { number: 80 } }, weight: 100 }] },
    { match: [{ gateways: ['istio-egressgateway'], port: 80 }], route: [{ destination: { host: 'edition.cnn.com', port: { number: externalPort } }, weight: 100 }] },
  ],
});

async function meshWith(policies: Policies, credentials?: Certificates['credentials']): Promise<TestMesh> {
  const resources = [...(policies.gateways ?? [])] as Resource[];
  return startMeshFromSpec(withEgressGateway(spec, resources), policies, { ingress: false, ...(credentials ? { credentials } : {}) });
}

describe('Egress Gateways (HTTP)', () => {
  let cnn: ExternalServer;
  let mesh: TestMesh;
  const entry = () => se('cnn', {
    hosts: ['edition.cnn.com'], location: 'MESH_EXTERNAL', resolution: 'STATIC',
    ports: [{ number: 80, name: 'http-port', protocol: 'HTTP' }, { number: 443, name: 'https', protocol: 'HTTPS' }],
    endpoints: [{ address: '127.0.0.1', ports: { 'http-port': cnn.port } }],
  });
  const policies = (): Policies => ({ serviceEntries: [entry()], gateways: [egressGateway()], destinationRules: [gatewaySubset()], virtualServices: [twoLegs()] });

  before(async () => {
    cnn = await externalHttp('cnn');
    mesh = await meshWith(policies());
  });
  after(async () => {
    await mesh?.close();
    await cnn?.close();
  });

  it('runs the egress gateway as a workload of istio-system with its own identity', () => {
    const gateway = mesh.sidecars.get('istio-egressgateway');
    assert.ok(gateway, 'a sidecar runs for istio-egressgateway');
    const self = gateway.tables().self!;
    assert.equal(self.namespace, 'istio-system');
    assert.equal(self.spiffeId, 'spiffe://cluster.local/ns/istio-system/sa/istio-egressgateway-service-account');
    assert.deepEqual([...gateway.tables().gateways.keys()], ['default/istio-egressgateway']);
  });

  it('sends the app\'s call through the egress gateway to the external host, each hop in its access log', async () => {
    const before = cnn.seen.length;
    const r = await mesh.request('sleep-v1', { url: 'http://edition.cnn.com/politics' });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json(), { server: 'cnn', url: '/politics', host: 'edition.cnn.com', tls: false });
    assert.equal(cnn.seen.length, before + 1);
    assert.equal(cnn.seen.at(-1)!.headers['x-devmesh-gateway-port'], undefined, 'no mesh-internal header leaves the mesh');
    // The sidecar's hop: to the gateway's subset cnn, on the first leg.
    const sleepLog = mesh.sidecars.get('sleep-v1')!.accessLog.tail().at(-1)!;
    assert.equal(sleepLog.upstream_cluster, `outbound|80|cnn|${GATEWAY_HOST}`);
    assert.equal(sleepLog.route_name, 'direct-cnn-through-egress-gateway.0');
    // The gateway's hops: the call it received from sleep (mTLS), and its own call to the external host on the second leg.
    const gatewayLog = mesh.sidecars.get('istio-egressgateway')!.accessLog.tail();
    const received = gatewayLog.find((e) => e.listener === 'inbound' && e.path === '/politics')!;
    assert.ok(received, 'the gateway logged the call it received');
    assert.equal(received.downstream_peer, 'spiffe://cluster.local/ns/default/sa/sleep');
    assert.equal(received.peer_workload, 'sleep-v1');
    const sent = gatewayLog.find((e) => e.listener === 'outbound' && e.path === '/politics')!;
    assert.equal(sent.upstream_cluster, 'outbound|80||edition.cnn.com');
    assert.equal(sent.upstream_host, `127.0.0.1:${cnn.port}`);
    assert.equal(sent.route_name, 'direct-cnn-through-egress-gateway.1');
  });

  it('counts the gateway\'s request to the external host in istio_requests_total with the gateway as source', async () => {
    await mesh.request('sleep-v1', { url: 'http://edition.cnn.com/politics' });
    const text = await mesh.sidecars.get('istio-egressgateway')!.telemetry.metrics.text();
    const line = text.split('\n').find((l) => l.startsWith('istio_requests_total{') && l.includes('reporter="source"') && l.includes('destination_service="edition.cnn.com"'));
    assert.ok(line, text);
    assert.match(line, /source_workload="istio-egressgateway"/);
    assert.match(line, /source_workload_namespace="istio-system"/);
  });

  it('applies an AuthorizationPolicy on the egress gateway to the calling sidecar\'s principal', async () => {
    await mesh.push({ ...policies(), authorizationPolicies: [ap('egress-only-from-nowhere', {
      selector: { matchLabels: { istio: 'egressgateway' } }, action: 'ALLOW',
      rules: [{ from: [{ source: { principals: ['cluster.local/ns/default/sa/someone-else'] } }] }],
    }, 'istio-system')] });
    const denied = await mesh.request('sleep-v1', { url: 'http://edition.cnn.com/politics' });
    assert.equal(denied.status, 403);
    await mesh.push({ ...policies(), authorizationPolicies: [ap('egress-from-sleep', {
      selector: { matchLabels: { istio: 'egressgateway' } }, action: 'ALLOW',
      rules: [{ from: [{ source: { principals: ['cluster.local/ns/default/sa/sleep'] } }] }],
    }, 'istio-system')] });
    assert.equal((await mesh.request('sleep-v1', { url: 'http://edition.cnn.com/politics' })).status, 200);
    await mesh.push(policies());
  });

  it('answers 404 NR at the gateway for a host no Gateway server of that port covers', async () => {
    await mesh.push({ ...policies(), gateways: [egressGateway({ hosts: ['other.example.com'] })] });
    const r = await mesh.request('sleep-v1', { url: 'http://edition.cnn.com/politics' });
    assert.equal(r.status, 404);
    assert.match(r.text, /egress gateway \(server port 80\)/);
    await mesh.push(policies());
  });
});

describe('Egress Gateways with TLS Origination', () => {
  let ca: TestCa;
  let files: string;
  let cnn: ExternalServer;
  let mesh: TestMesh;

  before(async () => {
    ca = testCa();
    files = ca.writeFiles('gateway.client');
    cnn = await externalHttps('cnn', ca, ['edition.cnn.com']);
    // The task's resources: HTTP on 80 to the gateway (ISTIO_MUTUAL, sni), the gateway to 443 with tls SIMPLE.
    mesh = await meshWith({
      serviceEntries: [se('cnn', {
        hosts: ['edition.cnn.com'], location: 'MESH_EXTERNAL', resolution: 'STATIC',
        ports: [{ number: 80, name: 'http-port', protocol: 'HTTP' }, { number: 443, name: 'https-port', protocol: 'HTTPS' }],
        endpoints: [{ address: '127.0.0.1', ports: { 'https-port': cnn.port } }],
      })],
      gateways: [egressGateway({ port: { number: 80, name: 'https-port-for-tls-origination', protocol: 'HTTPS' }, tls: { mode: 'ISTIO_MUTUAL' } })],
      destinationRules: [
        gatewaySubset({ loadBalancer: { simple: 'ROUND_ROBIN' }, portLevelSettings: [{ port: { number: 80 }, tls: { mode: 'ISTIO_MUTUAL', sni: 'edition.cnn.com' } }] }),
        dr('originate-tls-for-edition-cnn-com', { host: 'edition.cnn.com', trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' }, portLevelSettings: [{ port: { number: 443 }, tls: { mode: 'SIMPLE', caCertificates: path.join(files, 'ca.pem') } }] } }),
      ],
      virtualServices: [twoLegs(443)],
    });
  });
  after(async () => {
    await mesh?.close();
    await cnn?.close();
    fs.rmSync(files, { recursive: true, force: true });
  });

  it('originates TLS at the gateway: the app speaks HTTP, the external host is reached over HTTPS', async () => {
    const r = await mesh.request('sleep-v1', { url: 'http://edition.cnn.com/politics' });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json(), { server: 'cnn', url: '/politics', host: 'edition.cnn.com', tls: true });
    const gateway = mesh.sidecars.get('istio-egressgateway')!;
    assert.equal(gateway.stats.get('upstream_rq_tls_origination'), 1);
    assert.equal(mesh.sidecars.get('sleep-v1')!.stats.get('upstream_rq_tls_origination') ?? 0, 0, 'the sidecar did not originate it');
    const sent = gateway.accessLog.tail().find((e) => e.listener === 'outbound' && e.path === '/politics')!;
    assert.equal(sent.upstream_cluster, 'outbound|443||edition.cnn.com');
  });

  it('originates mutual TLS at the gateway: its DestinationRule\'s client certificate reaches a server that requires one', async () => {
    const bank = await externalHttps('bank', ca, ['edition.cnn.com'], true);
    try {
      const withMutual = (tls: Record<string, unknown>) => mesh.push({
        serviceEntries: [se('cnn', {
          hosts: ['edition.cnn.com'], location: 'MESH_EXTERNAL', resolution: 'STATIC',
          ports: [{ number: 80, name: 'http-port', protocol: 'HTTP' }, { number: 443, name: 'https-port', protocol: 'HTTPS' }],
          endpoints: [{ address: '127.0.0.1', ports: { 'https-port': bank.port } }],
        })],
        gateways: [egressGateway()],
        destinationRules: [gatewaySubset(), dr('originate-mtls-for-edition-cnn-com', { host: 'edition.cnn.com', trafficPolicy: { portLevelSettings: [{ port: { number: 443 }, tls }] } })],
        virtualServices: [twoLegs(443)],
      });
      await withMutual({ mode: 'MUTUAL', caCertificates: path.join(files, 'ca.pem'), clientCertificate: path.join(files, 'client.pem'), privateKey: path.join(files, 'client-key.pem'), sni: 'edition.cnn.com' });
      const r = await mesh.request('sleep-v1', { url: 'http://edition.cnn.com/politics' });
      assert.equal(r.status, 200, r.text);
      assert.equal(bank.seen.at(-1)!.clientCert, 'gateway.client');
      // SIMPLE to the same server: no client certificate, the handshake fails at the gateway.
      await withMutual({ mode: 'SIMPLE', caCertificates: path.join(files, 'ca.pem') });
      const refused = await mesh.request('sleep-v1', { url: 'http://edition.cnn.com/politics' });
      assert.equal(refused.status, 503);
    } finally {
      await bank.close();
    }
  });
});

describe('Egress Gateways with mutual TLS origination by a DestinationRule credentialName (Istio\'s task, its client-credential Secret)', () => {
  let ca: TestCa;
  let bank: ExternalServer;
  let plain: ExternalServer;
  let mesh: TestMesh;
  const entry = (port: number) => se('cnn', {
    hosts: ['edition.cnn.com'], location: 'MESH_EXTERNAL', resolution: 'STATIC',
    ports: [{ number: 80, name: 'http-port', protocol: 'HTTP' }, { number: 443, name: 'https-port', protocol: 'HTTPS' }],
    endpoints: [{ address: '127.0.0.1', ports: { 'https-port': port } }],
  });
  // Files that do not exist: with a credentialName the rule's files are not read.
  const originate = (tls: Record<string, unknown>) => dr('originate-mtls-for-edition-cnn-com', { host: 'edition.cnn.com', trafficPolicy: { portLevelSettings: [{ port: { number: 443 }, tls: { clientCertificate: '/nowhere/client.pem', privateKey: '/nowhere/key.pem', caCertificates: '/nowhere/ca.pem', sni: 'edition.cnn.com', ...tls } }] } });
  const throughGateway = (tls: Record<string, unknown>): Policies => ({ serviceEntries: [entry(bank.port)], gateways: [egressGateway()], destinationRules: [gatewaySubset(), originate(tls)], virtualServices: [twoLegs(443)] });

  before(async () => {
    ca = testCa();
    bank = await externalHttps('bank', ca, ['edition.cnn.com'], true);
    plain = await externalHttp('plain');
    // What `kubectl create secret generic client-credential -n istio-system --from-file=tls.key --from-file=tls.crt --from-file=ca.crt` holds,
    // resolved as the control plane resolves it for the gateway's namespace.
    const client = ca.issue('gateway.credential', []);
    const secrets = new Map<string, TlsSecret>([
      ['istio-system/client-credential', { certPem: client.certPem, keyPem: client.keyPem, notAfter: '', dnsNames: [], caPem: ca.certPem }],
      ['istio-system/no-ca-credential', { certPem: client.certPem, keyPem: client.keyPem, notAfter: '', dnsNames: [] }],
    ]);
    const names = ['client-credential', 'no-ca-credential', 'missing-credential'].map((credentialName) => ({ spec: { host: 'edition.cnn.com', trafficPolicy: { tls: { mode: 'MUTUAL' as const, credentialName } } } }));
    const policies = throughGateway({ mode: 'MUTUAL', credentialName: 'client-credential' });
    mesh = await meshWith(policies, originationCredentials(names, secrets, 'istio-system'));
  });
  after(async () => {
    await mesh?.close();
    await bank?.close();
    await plain?.close();
  });

  it('the gateway presents the Secret\'s client certificate and verifies the server with its ca.crt', async () => {
    const r = await mesh.request('sleep-v1', { url: 'http://edition.cnn.com/politics' });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json(), { server: 'bank', url: '/politics', host: 'edition.cnn.com', tls: true });
    assert.equal(bank.seen.at(-1)!.clientCert, 'gateway.credential');
    assert.equal(mesh.sidecars.get('istio-egressgateway')!.stats.get('upstream_rq_tls_origination'), 1);
  });

  it('a credentialName whose Secret is missing, or holds no CA, fails the call at the gateway (503 UF), the Secret named', async () => {
    await mesh.push(throughGateway({ mode: 'MUTUAL', credentialName: 'missing-credential' }));
    const missing = await mesh.request('sleep-v1', { url: 'http://edition.cnn.com/politics' });
    assert.equal(missing.status, 503);
    assert.match(missing.text, /credentialName "missing-credential": no Secret istio-system\/missing-credential/);
    await mesh.push(throughGateway({ mode: 'SIMPLE', credentialName: 'no-ca-credential' }));
    const noCa = await mesh.request('sleep-v1', { url: 'http://edition.cnn.com/politics' });
    assert.equal(noCa.status, 503);
    assert.match(noCa.text, /no CA to verify the server: Secret istio-system\/no-ca-credential has no "ca\.crt" \(or "cacert"\) key/);
  });

  it('a sidecar ignores a credentialName of a DestinationRule without workloadSelector: no TLS context, the call leaves in plaintext', async () => {
    // No gateway legs: sleep's own sidecar calls the external host, here a plain HTTP server on the "https" port.
    await mesh.push({ serviceEntries: [entry(plain.port)], gateways: [egressGateway()], destinationRules: [originate({ mode: 'MUTUAL', credentialName: 'client-credential' })] });
    const r = await mesh.request('sleep-v1', { url: 'http://edition.cnn.com:443/politics' });
    assert.equal(r.status, 200, r.text);
    assert.equal((r.json() as { tls: boolean }).tls, false);
    assert.equal(mesh.sidecars.get('sleep-v1')!.stats.get('upstream_rq_tls_origination') ?? 0, 0);
  });
});

describe('Egress Gateways for HTTPS traffic (TLS passthrough)', () => {
  let ca: TestCa;
  let cnn: ExternalServer;
  let mesh: TestMesh;
  // The task's resources: a TLS PASSTHROUGH server on 443, tls[] legs matched by SNI.
  const policies = (sniAtGateway = 'edition.cnn.com'): Policies => ({
    serviceEntries: [se('cnn', {
      hosts: ['edition.cnn.com'], location: 'MESH_EXTERNAL', resolution: 'STATIC',
      ports: [{ number: 443, name: 'tls', protocol: 'TLS' }],
      endpoints: [{ address: '127.0.0.1', ports: { tls: cnn.port } }],
    })],
    gateways: [gw('istio-egressgateway', {
      selector: { istio: 'egressgateway' },
      servers: [{ port: { number: 443, name: 'tls', protocol: 'TLS' }, hosts: [sniAtGateway], tls: { mode: 'PASSTHROUGH' } }],
    })],
    destinationRules: [gatewaySubset()],
    virtualServices: [vs('direct-cnn-through-egress-gateway', {
      hosts: ['edition.cnn.com'],
      gateways: ['mesh', 'istio-egressgateway'],
      tls: [
        { match: [{ gateways: ['mesh'], port: 443, sniHosts: ['edition.cnn.com'] }], route: [{ destination: { host: GATEWAY_HOST, subset: 'cnn', port: { number: 443 } } }] },
        { match: [{ gateways: ['istio-egressgateway'], port: 443, sniHosts: ['edition.cnn.com'] }], route: [{ destination: { host: 'edition.cnn.com', port: { number: 443 } }, weight: 100 }] },
      ],
    })],
  });


  const httpsVia = (target: string, servername: string, urlPath = '/') => httpsViaConnect(mesh.sidecars.get('sleep-v1')!.ports.outbound!, target, servername, ca.certPem, urlPath);

  before(async () => {
    ca = testCa();
    cnn = await externalHttps('cnn', ca, ['edition.cnn.com']);
    mesh = await meshWith(policies());
  });
  after(async () => {
    await mesh?.close();
    await cnn?.close();
  });

  it('passes the app\'s TLS through the egress gateway to the external host, routed by SNI on both legs', async () => {
    const r = await httpsVia('edition.cnn.com:443', 'edition.cnn.com', '/politics');
    assert.deepEqual([r.status, r.body.server, r.body.host, r.body.tls], [200, 'cnn', 'edition.cnn.com', true]);
    assert.equal(cnn.seen.at(-1)!.url, '/politics', 'the external host saw the app\'s own request');
    // Each side logs the connection when it closes: the sidecar's hop to the gateway, the gateway's to the external host.
    const sleepLog = await eventually(() => mesh.sidecars.get('sleep-v1')!.accessLog.tail().find((e) => e.upstream_cluster.includes(GATEWAY_HOST)), 'the sidecar\'s log entry');
    assert.equal(sleepLog.upstream_cluster, `outbound|443|cnn|${GATEWAY_HOST}`);
    const gatewayLog = await eventually(() => mesh.sidecars.get('istio-egressgateway')!.accessLog.tail().find((e) => e.upstream_cluster === 'outbound|443||edition.cnn.com'), 'the gateway\'s log entry');
    assert.equal(gatewayLog.upstream_host, `127.0.0.1:${cnn.port}`);
    assert.equal(gatewayLog.requested_server_name, 'edition.cnn.com');
  });

  it('closes a connection whose server name the gateway\'s TLS server does not serve (NR)', async () => {
    await mesh.push(policies('www.cnn.com'));
    const before = cnn.seen.length;
    await assert.rejects(httpsVia('edition.cnn.com:443', 'edition.cnn.com'));
    assert.equal(cnn.seen.length, before);
    const refused = await eventually(() => mesh.sidecars.get('istio-egressgateway')!.accessLog.tail().find((e) => e.response_flags.includes('NR')), 'the gateway\'s NR entry');
    assert.equal(refused.proxy_error, 'no-sni-match');
    await mesh.push(policies());
  });

  it('an AuthorizationPolicy on the egress gateway closes the connection on the ClientHello, after the gateway routed and connected to the external host: its records say so', async () => {
    await mesh.push({ ...policies(), authorizationPolicies: [ap('egress-only-from-nowhere', {
      selector: { matchLabels: { istio: 'egressgateway' } }, action: 'ALLOW',
      rules: [{ from: [{ source: { principals: ['cluster.local/ns/default/sa/someone-else'] } }] }],
    }, 'istio-system')] });
    const before = cnn.seen.length;
    await assert.rejects(httpsVia('edition.cnn.com:443', 'edition.cnn.com'));
    assert.equal(cnn.seen.length, before, 'no request reached the external host');
    const entry = await eventually(() => mesh.sidecars.get('istio-egressgateway')!.accessLog.tail().find((e) => e.protocol === '-' && e.connection_termination_details.startsWith('rbac_access_denied')), 'the gateway\'s entry');
    assert.deepEqual(entry.decisions.map((d) => d.step === 'attempt' ? `attempt:${d.endpoint ?? '-'}:${d.result}` : d.step === 'authz' ? `authz:${d.allowed}` : d.step), ['mtls', 'authz:false', 'route', 'attempt:127.0.0.1:connected']);
    await mesh.push(policies());
  });
});
