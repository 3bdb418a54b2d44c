/**
 * Istio's "Egress TLS Origination" task, with a local HTTPS server standing
 * in for edition.cnn.com: the app calls http://edition.cnn.com/politics, the
 * ServiceEntry sends port 80 to the endpoint's 443, and a DestinationRule
 * with tls SIMPLE on port 80 makes the sidecar speak HTTPS to it. Then
 * MUTUAL (a client certificate from files of the workspace), and what
 * happens when the server is not the one the settings trust.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { dr, se, startMeshRetrying, type TestMesh } from '../fixtures';
import { externalHttps, testCa, type ExternalServer, type TestCa } from './fixtures';

const services = [{ name: 'sleep', workloads: [{ name: 'sleep-v1' }] }];

describe('Egress TLS Origination', () => {
  let mesh: TestMesh;
  let ca: TestCa;
  let files: string;
  let cnn: ExternalServer;
  let bank: ExternalServer;
  const dirs: string[] = [];

  // The task's ServiceEntry, with the endpoint on 127.0.0.1 instead of DNS.
  const cnnEntry = () => se('edition-cnn-com', {
    hosts: ['edition.cnn.com'], location: 'MESH_EXTERNAL', resolution: 'STATIC',
    ports: [{ number: 80, name: 'http-port', protocol: 'HTTP', targetPort: 443 }, { number: 443, name: 'https-port', protocol: 'HTTPS' }],
    endpoints: [{ address: '127.0.0.1', ports: { 'http-port': cnn.port, 'https-port': cnn.port } }],
  });
  const bankEntry = () => se('bank', {
    hosts: ['api.bank.example'], resolution: 'STATIC', ports: [{ number: 80, name: 'http' }],
    endpoints: [{ address: '127.0.0.1', ports: { http: bank.port } }],
  });

  before(async () => {
    ca = testCa();
    files = ca.writeFiles('sleep.client');
    dirs.push(files);
    [cnn, bank] = await Promise.all([externalHttps('cnn', ca, ['edition.cnn.com']), externalHttps('bank', ca, ['api.bank.example'], true)]);
    mesh = await startMeshRetrying(services, {
      serviceEntries: [cnnEntry()],
      destinationRules: [dr('edition-cnn-com', { host: 'edition.cnn.com', trafficPolicy: { portLevelSettings: [{ port: { number: 80 }, tls: { mode: 'SIMPLE', caCertificates: path.join(files, 'ca.pem') } }] } })],
    });
  });
  after(async () => {
    await mesh?.close();
    await Promise.all([cnn?.close(), bank?.close()]);
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('turns the app\'s plain HTTP into HTTPS to the external host (tls SIMPLE, SNI from the Host)', async () => {
    const r = await mesh.request('sleep-v1', { url: 'http://edition.cnn.com/politics' });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json(), { server: 'cnn', url: '/politics', host: 'edition.cnn.com', tls: true });
    const log = mesh.sidecars.get('sleep-v1')!.accessLog.tail().at(-1)!;
    assert.equal(log.upstream_cluster, 'outbound|80||edition.cnn.com');
    assert.equal(mesh.sidecars.get('sleep-v1')!.stats.get('upstream_rq_tls_origination'), 1);
  });

  it('refuses a server whose certificate does not carry the subjectAltNames asked for (503 UF)', async () => {
    await mesh.push({
      serviceEntries: [cnnEntry()],
      destinationRules: [dr('edition-cnn-com', { host: 'edition.cnn.com', trafficPolicy: { tls: { mode: 'SIMPLE', caCertificates: path.join(files, 'ca.pem'), subjectAltNames: ['www.cnn.com'] }, portLevelSettings: [{ port: { number: 80 }, tls: { mode: 'SIMPLE', caCertificates: path.join(files, 'ca.pem'), subjectAltNames: ['www.cnn.com'] } }] } })],
    });
    const before = cnn.seen.length;
    const r = await mesh.request('sleep-v1', { url: 'http://edition.cnn.com/politics' });
    assert.equal(r.status, 503);
    assert.equal(r.headers['x-devmesh-proxy-error'], 'upstream-tls-failure');
    assert.match(r.text, /www\.cnn\.com/);
    assert.equal(cnn.seen.length, before, 'no request went over the refused connection');
    assert.match(mesh.sidecars.get('sleep-v1')!.accessLog.tail().at(-1)!.response_flags, /UF/);
  });

  it('refuses a server the CA file does not vouch for, and says which file is missing', async () => {
    const other = testCa('another CA');
    const otherFiles = other.writeFiles('nobody');
    dirs.push(otherFiles);
    await mesh.push({
      serviceEntries: [cnnEntry()],
      destinationRules: [dr('edition-cnn-com', { host: 'edition.cnn.com', trafficPolicy: { portLevelSettings: [{ port: { number: 80 }, tls: { mode: 'SIMPLE', caCertificates: path.join(otherFiles, 'ca.pem') } }] } })],
    });
    const r = await mesh.request('sleep-v1', { url: 'http://edition.cnn.com/' });
    assert.equal(`${r.status} ${r.headers['x-devmesh-proxy-error']}`, '503 upstream-tls-failure');
    await mesh.push({
      serviceEntries: [cnnEntry()],
      destinationRules: [dr('edition-cnn-com', { host: 'edition.cnn.com', trafficPolicy: { portLevelSettings: [{ port: { number: 80 }, tls: { mode: 'SIMPLE', caCertificates: path.join(files, 'missing.pem') } }] } })],
    });
    const missing = await mesh.request('sleep-v1', { url: 'http://edition.cnn.com/' });
    assert.equal(`${missing.status} ${missing.headers['x-devmesh-proxy-error']}`, '503 upstream-tls-config');
    assert.match(missing.text, /missing\.pem/);
  });

  it('presents the client certificate of tls MUTUAL to a server that requires one, with the sni written', async () => {
    await mesh.push({
      serviceEntries: [cnnEntry(), bankEntry()],
      destinationRules: [dr('bank', { host: 'api.bank.example', trafficPolicy: { tls: {
        mode: 'MUTUAL', caCertificates: path.join(files, 'ca.pem'), clientCertificate: path.join(files, 'client.pem'), privateKey: path.join(files, 'client-key.pem'), sni: 'api.bank.example',
      } } })],
    });
    const r = await mesh.request('sleep-v1', { url: 'http://api.bank.example/accounts' });
    assert.equal(r.status, 200);
    assert.equal(bank.seen.at(-1)!.clientCert, 'sleep.client');
    // SIMPLE (no client certificate) to the same server: the handshake fails.
    await mesh.push({
      serviceEntries: [cnnEntry(), bankEntry()],
      destinationRules: [dr('bank', { host: 'api.bank.example', trafficPolicy: { tls: { mode: 'SIMPLE', caCertificates: path.join(files, 'ca.pem') } } })],
    });
    const refused = await mesh.request('sleep-v1', { url: 'http://api.bank.example/accounts' });
    assert.equal(refused.status, 503);
  });
});
