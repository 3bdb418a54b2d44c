import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { createCa, renewalTime, writeKeyFile, writeCertificates } from '../../simulator/control/ca';

const SPIFFE = 'spiffe://cluster.local/ns/default/sa/reviews';

test('a workload certificate carries its SPIFFE id as the URI SAN and serverAuth + clientAuth', () => {
  const ca = createCa({ trustDomain: 'cluster.local' });
  const certs = ca.issue(SPIFFE);
  const cert = new X509Certificate(certs.certPem);
  assert.equal(cert.subjectAltName, `URI:${SPIFFE}`);
  assert.deepEqual(cert.keyUsage?.sort(), ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
  assert.equal(cert.ca, false);
  assert.equal(certs.serial, cert.serialNumber.toLowerCase());
  assert.equal(createPrivateKey(certs.keyPem).asymmetricKeyDetails?.namedCurve, 'prime256v1');
  assert.ok(cert.checkPrivateKey(createPrivateKey(certs.keyPem)));
});

test('the chain verifies against the root with OpenSSL', () => {
  const ca = createCa({ trustDomain: 'cluster.local' });
  const root = new X509Certificate(ca.certPem);
  const leaf = new X509Certificate(ca.issue(SPIFFE).certPem);
  assert.equal(root.ca, true);
  assert.ok(root.verify(root.publicKey), 'root is self-signed');
  assert.ok(leaf.checkIssued(root));
  assert.ok(leaf.verify(root.publicKey));
  const other = new X509Certificate(createCa({ trustDomain: 'cluster.local' }).certPem);
  assert.equal(leaf.verify(other.publicKey), false);
});

test('every certificate gets a distinct serial number', () => {
  const ca = createCa({ trustDomain: 'cluster.local' });
  const serials = new Set(Array.from({ length: 20 }, () => ca.issue(SPIFFE).serial));
  assert.equal(serials.size, 20);
});

test('the configured lifetime is honoured and renewal falls at 80 % of it', () => {
  const t = Date.UTC(2030, 0, 1);
  const ca = createCa({ trustDomain: 'cluster.local', workloadLifetimeMs: 30_000, now: () => t });
  const certs = ca.issue(SPIFFE);
  const cert = new X509Certificate(certs.certPem);
  assert.equal(new Date(cert.validTo).getTime(), t + 30_000);
  assert.equal(certs.notAfter, t + 30_000);
  assert.ok(new Date(cert.validFrom).getTime() <= t);
  assert.equal(renewalTime(certs), certs.notBefore! + (certs.notAfter - certs.notBefore!) * 0.8);
  const short = ca.issue(SPIFFE, { lifetimeMs: 5_000 });
  assert.equal(new Date(new X509Certificate(short.certPem).validTo).getTime(), t + 5_000);
});

test('a loaded root signs certificates that chain to the same root', () => {
  const first = createCa({ trustDomain: 'example.org' });
  const again = createCa({ trustDomain: 'example.org' }, { certPem: first.certPem, keyPem: first.keyPem });
  const leaf = new X509Certificate(again.issue('spiffe://example.org/ns/a/sa/b').certPem);
  assert.ok(leaf.checkIssued(new X509Certificate(first.certPem)));
  assert.ok(leaf.verify(new X509Certificate(first.certPem).publicKey));
});

test('a TLS client and server with workload certificates complete a mutual handshake', async () => {
  const ca = createCa({ trustDomain: 'cluster.local' });
  const server = ca.issue('spiffe://cluster.local/ns/default/sa/ratings');
  const client = ca.issue(SPIFFE);
  const srv = tls.createServer({ key: server.keyPem, cert: server.certPem, ca: server.caPem, requestCert: true, rejectUnauthorized: true }, (s) => {
    s.end(String(s.getPeerCertificate().subjectaltname));
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  try {
    const port = (srv.address() as { port: number }).port;
    const got = await new Promise<string>((resolve, reject) => {
      const sock = tls.connect({ host: '127.0.0.1', port, key: client.keyPem, cert: client.certPem, ca: client.caPem, checkServerIdentity: () => undefined });
      let data = '';
      sock.on('data', (d) => (data += d));
      sock.on('end', () => resolve(data));
      sock.on('error', reject);
    });
    assert.equal(got, `URI:${SPIFFE}`);
  } finally {
    srv.close();
  }
});

test('key files are written with mode 0600', { skip: process.platform === 'win32' }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'devmesh-ca-'));
  try {
    const ca = createCa({ trustDomain: 'cluster.local' });
    const file = path.join(dir, 'nested', 'root.key');
    await writeKeyFile(file, ca.keyPem);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.equal(fs.readFileSync(file, 'utf8'), ca.keyPem);
    const files = await writeCertificates(path.join(dir, 'certs'), 'reviews', ca.issue(SPIFFE));
    assert.equal(fs.statSync(files.key).mode & 0o777, 0o600);
    assert.equal(fs.readdirSync(path.join(dir, 'certs')).filter((f) => f.endsWith('.tmp')).length, 0);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
