import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as tls from 'node:tls';
import { createCa } from '../../simulator/control/ca';
import type { Certificates } from '../../simulator/protocol';
import { dr, pa, ap, startMesh, type TestMesh } from './fixtures';

/** Outcome of one raw request to an inbound port: the HTTP status, or how the connection failed. */
type Outcome = { status: number; body: string } | { refused: string };

function plaintextGet(port: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/direct', agent: false, timeout: 3000 }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ refused: e.code ?? e.message }));
  });
}

/** HTTP/1.1 over a real `tls.connect`, optionally presenting a client certificate. */
function tlsGet(port: number, ca: string, client?: Certificates): Promise<Outcome> {
  return new Promise((resolve) => {
    const sock = tls.connect({ host: '127.0.0.1', port, ca, key: client?.keyPem, cert: client?.certPem, ALPNProtocols: ['http/1.1'], checkServerIdentity: () => undefined });
    let data = '';
    const timer = setTimeout(() => sock.destroy(new Error('timeout')), 3000);
    sock.on('secureConnect', () => sock.write('GET /direct HTTP/1.1\r\nHost: reviews\r\nConnection: close\r\n\r\n'));
    sock.on('data', (d) => (data += d));
    sock.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve({ refused: e.code ?? e.message });
    });
    sock.on('close', () => {
      clearTimeout(timer);
      const m = /^HTTP\/1\.1 (\d+)/.exec(data);
      resolve(m ? { status: Number(m[1]), body: data.slice(data.indexOf('\r\n\r\n') + 4) } : { refused: 'closed without a response' });
    });
  });
}

describe('PeerAuthentication at the inbound listener', () => {
  let mesh: TestMesh;
  let inboundPort: number;
  before(async () => {
    mesh = await startMesh([
      { name: 'productpage', workloads: [{ name: 'productpage-v1' }] },
      { name: 'reviews', workloads: [{ name: 'reviews-v1', labels: { app: 'reviews', version: 'v1' } }] },
    ]);
    inboundPort = mesh.sidecars.get('reviews-v1')!.ports.inbound!;
  });
  after(() => mesh.close());

  test('the mesh default PERMISSIVE accepts plaintext, TLS without a certificate and mTLS', async () => {
    assert.equal(mesh.sidecars.get('reviews-v1')!.tables().mtls.mode, 'PERMISSIVE');
    const plain = await plaintextGet(inboundPort);
    assert.ok('status' in plain && plain.status === 200, JSON.stringify(plain));
    assert.equal(JSON.parse((plain as { body: string }).body).headers['x-forwarded-client-cert'], undefined);
    const anon = await tlsGet(inboundPort, mesh.ca.certPem);
    assert.ok('status' in anon && anon.status === 200, JSON.stringify(anon));
    const mtls = await tlsGet(inboundPort, mesh.ca.certPem, mesh.ca.issue('spiffe://cluster.local/ns/default/sa/tester'));
    assert.ok('status' in mtls && mtls.status === 200, JSON.stringify(mtls));
    assert.match(JSON.parse(mtls.body).headers['x-forwarded-client-cert'], /URI=spiffe:\/\/cluster\.local\/ns\/default\/sa\/tester$/);
  });

  test('STRICT refuses plaintext clients and clients whose certificate is from another CA, and still serves the mesh', async () => {
    await mesh.push({ peerAuthentications: [pa('default', { mtls: { mode: 'STRICT' } })] });
    assert.equal(mesh.sidecars.get('reviews-v1')!.tables().mtls.mode, 'STRICT');
    const plain = await plaintextGet(inboundPort);
    assert.ok('refused' in plain, JSON.stringify(plain));
    const foreign = createCa({ trustDomain: 'cluster.local' });
    const impostor = await tlsGet(inboundPort, mesh.ca.certPem, foreign.issue('spiffe://cluster.local/ns/default/sa/productpage'));
    assert.ok('refused' in impostor, JSON.stringify(impostor));
    const anon = await tlsGet(inboundPort, mesh.ca.certPem);
    assert.ok('refused' in anon, JSON.stringify(anon));
    const viaMesh = await mesh.request('productpage-v1', { url: 'http://reviews:9080/' });
    assert.equal(viaMesh.status, 200);
    assert.ok(mesh.sidecars.get('reviews-v1')!.stats.get('inbound.cx_plaintext_refused') >= 1);
  });

  test('a workload-selector policy beats the namespace policy, and portLevelMtls (keyed by the container port, as in Istio) beats both', async () => {
    // The service port 9080 targets container port 9080 (the targetPort default); the app listens on another local port.
    const containerPort = 9080;
    await mesh.push({ peerAuthentications: [pa('default', { mtls: { mode: 'STRICT' } }), pa('reviews', { selector: { matchLabels: { app: 'reviews' } }, mtls: { mode: 'PERMISSIVE' } })] });
    assert.ok('status' in (await plaintextGet(inboundPort)));
    await mesh.push({ peerAuthentications: [pa('reviews', { selector: { matchLabels: { app: 'reviews' } }, mtls: { mode: 'PERMISSIVE' }, portLevelMtls: { [containerPort]: { mode: 'STRICT' } } })] });
    assert.ok('refused' in (await plaintextGet(inboundPort)));
  });

  test('DISABLE serves plaintext only; auto mTLS reaches it in plaintext, a DestinationRule forcing ISTIO_MUTUAL does not (pilot mtls_checker.go:53-66)', async () => {
    const disable = pa('reviews', { selector: { matchLabels: { app: 'reviews' } }, mtls: { mode: 'DISABLE' } });
    await mesh.push({ peerAuthentications: [disable] });
    assert.ok('refused' in (await tlsGet(inboundPort, mesh.ca.certPem, mesh.ca.issue('spiffe://cluster.local/ns/default/sa/x'))));
    const ok = await mesh.request('productpage-v1', { url: 'http://reviews:9080/' });
    assert.equal(ok.status, 200);
    assert.equal(ok.json().headers['x-forwarded-client-cert'], undefined, 'plaintext: no peer certificate to vouch for');
    await mesh.push({ peerAuthentications: [disable], destinationRules: [dr('reviews', { host: 'reviews', trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL' } } })] });
    assert.equal((await mesh.request('productpage-v1', { url: 'http://reviews:9080/' })).status, 503);
    await mesh.push({ peerAuthentications: [disable], destinationRules: [dr('reviews', { host: 'reviews', trafficPolicy: { tls: { mode: 'DISABLE' } } })] });
    assert.equal((await mesh.request('productpage-v1', { url: 'http://reviews:9080/' })).status, 200);
  });

  test('an AuthorizationPolicy ALLOW for one principal denies other callers with 403', async () => {
    await mesh.push({ authorizationPolicies: [ap('reviews-viewer', { selector: { matchLabels: { app: 'reviews' } }, action: 'ALLOW', rules: [{ from: [{ source: { principals: ['cluster.local/ns/default/sa/productpage'] } }] }] })] });
    const allowed = await mesh.request('productpage-v1', { url: 'http://reviews:9080/' });
    assert.equal(allowed.status, 200);
    const denied = await tlsGet(inboundPort, mesh.ca.certPem, mesh.ca.issue('spiffe://cluster.local/ns/default/sa/ratings'));
    assert.ok('status' in denied && denied.status === 403, JSON.stringify(denied));
    assert.match(denied.body, /RBAC: access denied/);
  });
});
