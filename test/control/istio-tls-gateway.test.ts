/**
 * Istio Gateway TLS beyond HTTPS termination, under `devmesh up` (a real
 * process, real TLS sockets on 127.0.0.1), each outcome as Istio's pilot
 * builds it:
 *
 * - a server of protocol TLS with mode SIMPLE or MUTUAL terminates TLS with
 *   its credential and the decrypted stream is routed by the tcp[] rules of
 *   the VirtualServices bound to the Gateway (createGatewayTCPFilterChainOpts);
 * - an HTTPS server whose tls names no mode is PASSTHROUGH (the enum's zero
 *   value, IsPassThroughServer): the client's TLS reaches the destination a
 *   tls[] rule picks by SNI, and the server's credential is not served;
 * - an OPTIONAL_MUTUAL (or MUTUAL) server with no CA (no ca.crt in the
 *   Secret, no -cacert Secret) admits nobody, not even a client without a
 *   certificate: istiod sends Envoy no validation context for it;
 * - serverCertificate/privateKey files are watched: a rotated pair serves on
 *   the next handshake, an invalid rewrite is said and the last good pair
 *   serves on.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tls from 'node:tls';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createCa } from '../../simulator/control/ca';
import type { Certificates } from '../../simulator/protocol';
import { cli, freePorts, removeDir, startUp, tlsSecretYaml, waitFor, waitReady, withOutput, type UpProcess } from './helpers';

const serverCa = createCa({ trustDomain: 'example.com' });
const clientCa = createCa({ trustDomain: 'client.example.com' });
/** my-nginx's own CA: a client that trusts only it verifies my-nginx, never the gateway's credential. */
const nginxCa = createCa({ trustDomain: 'nginx.example.com' });
const secret = tlsSecretYaml;

/** tcp-echo answers every chunk with "echo <chunk>". */
const ECHO = 'require("net").createServer((s) => s.on("data", (d) => s.write("echo " + d))).listen(process.env.PORT, "127.0.0.1")';
/** my-nginx serves TLS with its own certificate (files beside the Mesh) and says who it is. */
const NGINX = 'const fs = require("fs"); require("tls").createServer({ cert: fs.readFileSync("nginx.crt"), key: fs.readFileSync("nginx.key") }, (s) => s.end("my-nginx " + s.servername)).listen(process.env.PORT, "127.0.0.1")';

const mesh = (controlPort: number, ingressPort: number, echoPort: number, nginxPort: number) => `apiVersion: devmesh.dev/v1alpha1
kind: Mesh
metadata: { name: tls-gateways }
spec:
  controlPort: ${controlPort}
  ingress: { port: ${ingressPort} }
  services:
    - name: tcp-echo
      ports: [{ name: tcp, port: 9000 }]
      workloads:
        - name: tcp-echo-v1
          port: ${echoPort}
          command: ["node", "-e", ${JSON.stringify(ECHO)}]
    - name: my-nginx
      ports: [{ name: https, port: 443 }]
      workloads:
        - name: my-nginx-v1
          port: ${nginxPort}
          command: ["node", "-e", ${JSON.stringify(NGINX)}]
`;

const gateway = (p: Record<'simple' | 'mutual' | 'noCa' | 'noMode' | 'files', number>) => `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: tls }
spec:
  selector: { istio: ingressgateway }
  servers:
    - port: { number: ${p.simple}, name: tls-simple, protocol: TLS }
      tls: { mode: SIMPLE, credentialName: tcp-credential }
      hosts: [tcp.example.com]
    - port: { number: ${p.mutual}, name: tls-mutual, protocol: TLS }
      tls: { mode: MUTUAL, credentialName: tcpm-credential }
      hosts: [tcpm.example.com]
    - port: { number: ${p.noCa}, name: https-no-ca, protocol: HTTPS }
      tls: { mode: OPTIONAL_MUTUAL, credentialName: noca-credential }
      hosts: [noca.example.com]
    - port: { number: ${p.files}, name: tls-files, protocol: TLS }
      tls: { mode: SIMPLE, serverCertificate: certs/files.crt, privateKey: certs/files.key }
      hosts: [files.example.com]
    - port: { number: ${p.noMode}, name: https-no-mode, protocol: HTTPS }
      tls: { credentialName: tcp-credential }
      hosts: [nginx.example.com]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: tcp-echo }
spec:
  hosts: ["*"]
  gateways: [tls]
  tcp:
    - match: [{ port: ${p.simple} }, { port: ${p.mutual} }, { port: ${p.files} }]
      route: [{ destination: { host: tcp-echo, port: { number: 9000 } } }]
  tls:
    - match: [{ port: ${p.noMode}, sniHosts: [nginx.example.com] }]
      route: [{ destination: { host: my-nginx, port: { number: 443 } } }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: noca }
spec:
  hosts: [noca.example.com]
  gateways: [tls]
  http:
    - route: [{ destination: { host: tcp-echo, port: { number: 9000 } } }]
`;

interface Said { said: string; san?: string; error?: string }

/** `openssl s_client -connect 127.0.0.1:<port> -servername <name>`, sending one line: what came back, whose certificate, or why it ended. */
function tlsSay(port: number, servername: string, ca: string, client?: Certificates): Promise<Said> {
  return new Promise((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername, ca, ...(client ? { cert: client.certPem, key: client.keyPem } : {}) });
    let said = '';
    let san: string | undefined;
    let error: string | undefined;
    s.on('secureConnect', () => { san = s.getPeerCertificate().subjectaltname; s.write('hello\n'); });
    s.on('data', (d) => {
      said += d;
      if (said.includes('\n') || said.startsWith('my-nginx')) s.end();
    });
    s.on('error', (e) => { error = e.message; });
    s.on('close', () => resolve({ said: said.trim(), ...(san ? { san } : {}), ...(error ? { error } : {}) }));
    s.setTimeout(10_000, () => s.destroy(new Error('timed out')));
  });
}

describe('Istio Gateway TLS servers and TLS modes under devmesh up', () => {
  let dir: string;
  let up: UpProcess;
  let ports: Record<'simple' | 'mutual' | 'noCa' | 'noMode' | 'files', number>;
  const tcpCert = serverCa.issueServer({ dns: ['tcp.example.com', 'nginx.example.com'] });
  const tcpmCert = serverCa.issueServer({ dns: ['tcpm.example.com'] });
  const nocaCert = serverCa.issueServer({ dns: ['noca.example.com'] });
  const nginxCert = nginxCa.issueServer({ dns: ['nginx.example.com'] });
  const filesCert = serverCa.issueServer({ dns: ['files.example.com'] });
  const write = (name: string, text: string) => writeFileSync(path.join(dir, name), text);

  before(async () => {
    const [controlPort, ingressPort, echoPort, nginxPort, simple, mutual, noCa, noMode, files] = await freePorts(9);
    ports = { simple, mutual, noCa, noMode, files };
    dir = mkdtempSync(path.join(os.tmpdir(), 'devmesh-tls-gw-'));
    mkdirSync(path.join(dir, 'certs'));
    write('certs/files.crt', filesCert.certPem);
    write('certs/files.key', filesCert.keyPem);
    write('nginx.crt', nginxCert.certPem);
    write('nginx.key', nginxCert.keyPem);
    write('mesh.yaml', mesh(controlPort, ingressPort, echoPort, nginxPort));
    write('gateway.yaml', gateway(ports));
    write('credentials.yaml', [secret('tcp-credential', tcpCert), secret('tcpm-credential', tcpmCert, { 'ca.crt': clientCa.certPem }), secret('noca-credential', nocaCert)].join('---\n'));
    up = startUp(path.join(dir, 'mesh.yaml'));
    await waitReady(up, path.join(dir, 'mesh.yaml'), 20_000);
  });
  after(async () => { await up?.stop(); if (dir) removeDir(dir); });

  test('TLS with SIMPLE: the ingress terminates with the credential and the decrypted stream is routed by tcp[] to tcp-echo', async () => {
    const r = await waitFor('the TLS server port', () => tlsSay(ports.simple, 'tcp.example.com', serverCa.trustBundlePem).then((x) => (x.said ? x : undefined)), 15_000).catch(withOutput(up));
    assert.deepEqual(r, { said: 'echo hello', san: 'DNS:tcp.example.com, DNS:nginx.example.com' });
  });

  test('TLS with SIMPLE: a server name no server of the port covers is closed, as Envoy finds no filter chain', async () => {
    const r = await tlsSay(ports.simple, 'other.example.com', serverCa.trustBundlePem);
    assert.equal(r.said, '');
    assert.ok(r.error, 'the handshake fails');
  });

  test('TLS with MUTUAL: a client certificate the Secret\'s ca.crt signed is routed by tcp[]; none is refused', async () => {
    const ok = await tlsSay(ports.mutual, 'tcpm.example.com', serverCa.trustBundlePem, clientCa.issue('spiffe://client.example.com/ns/x/sa/curl'));
    assert.deepEqual(ok, { said: 'echo hello', san: 'DNS:tcpm.example.com' }, up.output().split('\n').filter((l) => /TLS server port|refused/.test(l)).join('\n'));
    const refused = await tlsSay(ports.mutual, 'tcpm.example.com', serverCa.trustBundlePem);
    assert.equal(refused.said, '');
  });

  test('HTTPS with tls and no mode is PASSTHROUGH: my-nginx\'s own certificate answers, routed by the tls[] rule on SNI', async () => {
    const r = await tlsSay(ports.noMode, 'nginx.example.com', nginxCa.trustBundlePem);
    assert.deepEqual(r, { said: 'my-nginx nginx.example.com', san: 'DNS:nginx.example.com' }, 'the destination\'s certificate, not the server\'s credentialName');
  });

  test('OPTIONAL_MUTUAL with no CA anywhere refuses every client, even one sending no certificate, and up says how to fix it', async () => {
    const r = await tlsSay(ports.noCa, 'noca.example.com', serverCa.trustBundlePem);
    assert.equal(r.said, '', 'no HTTP answer: the connection is closed after the handshake');
    assert.match(up.output(), /OPTIONAL_MUTUAL has no CA to verify client certificates: Secret istio-system\/noca-credential has no "ca\.crt" \(or "cacert"\) key and there is no istio-system\/noca-credential-cacert Secret/);
    // The ingress says it on its stderr, which reaches up's output after the client has seen the close.
    await waitFor('the refusal said', () => /OPTIONAL_MUTUAL refused the connection/.test(up.output()), 15_000).catch(withOutput(up));
  });

  test('serverCertificate/privateKey files: a rotated pair serves on the next handshake; an invalid rewrite is said and the last good pair serves on', async () => {
    const before = await tlsSay(ports.files, 'files.example.com', serverCa.trustBundlePem);
    assert.deepEqual(before, { said: 'echo hello', san: 'DNS:files.example.com' });
    const rotated = clientCa.issueServer({ dns: ['files.example.com'] });
    write('certs/files.crt', rotated.certPem);
    write('certs/files.key', rotated.keyPem);
    const after = await waitFor('the rotated certificate', () => tlsSay(ports.files, 'files.example.com', clientCa.trustBundlePem).then((r) => (r.said ? r : undefined)), 15_000).catch(withOutput(up));
    assert.deepEqual(after, { said: 'echo hello', san: 'DNS:files.example.com' });
    write('certs/files.crt', 'not a certificate');
    await waitFor('the invalid file said', () => /serverCertificate certs\/files\.crt \/ privateKey certs\/files\.key: .*still serving the certificate read from them before/.test(up.output()), 15_000).catch(withOutput(up));
    assert.deepEqual(await tlsSay(ports.files, 'files.example.com', clientCa.trustBundlePem), { said: 'echo hello', san: 'DNS:files.example.com' }, 'the rotated pair, not a minted one');
  });

  test('devmesh proxy-config listeners and secret show the TLS servers in istioctl\'s layout: a chain per SNI to its cluster, and the credentials by SDS name', async () => {
    const pc = async (what: string) => {
      const r = await cli(['proxy-config', what, 'istio-ingressgateway', '-f', path.join(dir, 'mesh.yaml')], dir);
      assert.equal(r.code, 0, r.err);
      return r.out.trimEnd().split('\n').map((l) => l.trim().split(/ {2,}/));
    };
    const listeners = await pc('listeners');
    // ADDRESSES PORT MATCH DESTINATION: the address and port cells may sit one space apart.
    const row = (port: number) => listeners.map((r) => r.join('  ')).filter((l) => new RegExp(`^127\\.0\\.0\\.1 +${port} `).test(l)).map((l) => l.replace(/^127\.0\.0\.1 +\d+ +/, '').split(/ {2,}/));
    assert.deepEqual(row(ports.simple), [['SNI: tcp.example.com', 'Cluster: outbound|9000||tcp-echo.default.svc.cluster.local']], listeners.join('\n'));
    assert.deepEqual(row(ports.noMode), [['SNI: nginx.example.com', 'Cluster: outbound|443||my-nginx.default.svc.cluster.local']]);
    assert.deepEqual(row(ports.noCa), [['SNI: noca.example.com', `Route: https.${ports.noCa}`]]);
    assert.ok(!listeners.some((r) => r.join('  ').includes(`Route: http.${ports.simple}`)), 'a TLS port is not an HTTP route of the ingress port');
    const secrets = (await pc('secret')).map((r) => r.slice(0, 2));
    for (const name of ['kubernetes://tcp-credential', 'kubernetes://tcpm-credential', 'file-cert:certs/files.crt~certs/files.key']) assert.ok(secrets.some((r) => r[0] === name && r[1] === 'Cert Chain'), `${name}\n${secrets.join('\n')}`);
    assert.ok(secrets.some((r) => r[0] === 'kubernetes://tcpm-credential-cacert' && r[1] === 'CA'), `the MUTUAL server's CA, named as istiod serves it\n${secrets.join('\n')}`);
  });
});
