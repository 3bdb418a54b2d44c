/**
 * Istio's "Secure Gateways" task under `devmesh up` (a real process, real
 * TLS on 127.0.0.1): Gateway HTTPS servers that terminate TLS at the ingress
 * on their own port with the certificate of the credentialName Secret, the
 * certificate picked by SNI among the servers of one port, a name no server
 * covers refused as Envoy closes it, MUTUAL refusing a client without a
 * certificate its CA signed, httpsRedirect answering 301 on the plain port,
 * and Secret edits applied live (a new certificate on the next handshake;
 * an invalid one refused, the last good one serving on).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as https from 'node:https';
import * as tls from 'node:tls';
import type { TLSSocket } from 'node:tls';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createCa } from '../../simulator/control/ca';
import type { Certificates } from '../../simulator/protocol';
import { cli, freePorts, removeDir, secretYaml, startUp, tlsSecretYaml, waitFor, waitReady, withOutput, type UpProcess } from './helpers';

const serverCa = createCa({ trustDomain: 'example.com' });
const clientCa = createCa({ trustDomain: 'client.example.com' });
const otherCa = createCa({ trustDomain: 'other.example.com' });
const secret = secretYaml;
const tlsSecret = tlsSecretYaml;

const APP = 'require("http").createServer((q, s) => s.end(JSON.stringify({ path: q.url, proto: q.headers["x-forwarded-proto"], xfcc: q.headers["x-forwarded-client-cert"] }))).listen(process.env.PORT, "127.0.0.1")';

const mesh = (controlPort: number, ingressPort: number, appPort: number, gatewayXfcc?: string) => `apiVersion: devmesh.dev/v1alpha1
kind: Mesh
metadata: { name: secure-gateways }
spec:
  controlPort: ${controlPort}
${gatewayXfcc ? `  meshConfig: { defaultConfig: { gatewayTopology: { forwardClientCertDetails: ${gatewayXfcc} } } }\n` : ''}
  ingress: { port: ${ingressPort} }
  services:
    - name: httpbin
      port: 8000
      workloads:
        - name: httpbin-v1
          port: ${appPort}
          command: ["node", "-e", ${JSON.stringify(APP)}]
`;

const gateway = (simplePort: number, mutualPort: number) => `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: secure }
spec:
  selector: { istio: ingressgateway }
  servers:
    - port: { number: ${simplePort}, name: https, protocol: HTTPS }
      tls: { mode: SIMPLE, credentialName: httpbin-credential }
      hosts: [httpbin.example.com]
    - port: { number: ${simplePort}, name: https-helloworld, protocol: HTTPS }
      tls: { mode: SIMPLE, credentialName: helloworld-credential }
      hosts: [helloworld.example.com]
    - port: { number: ${simplePort}, name: https-pending, protocol: HTTPS }
      tls: { mode: SIMPLE, credentialName: pending-credential }
      hosts: [pending.example.com]
    - port: { number: ${mutualPort}, name: https-mtls, protocol: HTTPS }
      tls: { mode: MUTUAL, credentialName: mtls-credential }
      hosts: [mtls.example.com]
    - port: { number: 80, name: http, protocol: HTTP }
      tls: { httpsRedirect: true }
      hosts: [httpbin.example.com]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: httpbin }
spec:
  hosts: [httpbin.example.com, helloworld.example.com, mtls.example.com, pending.example.com]
  gateways: [secure]
  http:
    - match: [{ uri: { prefix: /status } }]
      route: [{ destination: { host: httpbin, port: { number: 8000 } } }]
`;

interface Answer { status: number; body: string; san?: string }

/** `curl --resolve host:port:127.0.0.1 --cacert ca https://host:port/path` (and `--cert`/`--key`). */
function httpsGet(port: number, host: string, ca: string, client?: Certificates, urlPath = '/status/200', headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = https.get({
      host: '127.0.0.1', port, path: urlPath, servername: host, headers: { host, ...headers }, ca, agent: false, timeout: 10_000,
      ...(client ? { cert: client.certPem, key: client.keyPem } : {}),
    }, (res) => {
      const san = (res.socket as TLSSocket).getPeerCertificate().subjectaltname;
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, san }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timed out')));
  });
}

/** Whether a TLS handshake for this server name completes at all (any certificate accepted): `openssl s_client -servername host`. */
function handshake(port: number, servername: string): Promise<'completed' | 'refused'> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false, timeout: 10_000 });
    socket.once('secureConnect', () => { socket.destroy(); resolve('completed'); });
    socket.once('error', () => resolve('refused'));
    socket.once('close', () => resolve('refused'));
    socket.once('timeout', () => { socket.destroy(); resolve('refused'); });
  });
}

describe('Istio Gateway servers that terminate TLS under devmesh up', () => {
  let dir: string;
  let up: UpProcess;
  let ingressPort: number;
  let simplePort: number;
  let mutualPort: number;
  let controlPort: number;
  let appPort: number;
  const httpbinCert = serverCa.issueServer({ dns: ['httpbin.example.com'] });
  const helloCert = serverCa.issueServer({ dns: ['helloworld.example.com'] });
  const mtlsCert = serverCa.issueServer({ dns: ['mtls.example.com'] });
  const write = (name: string, text: string) => writeFileSync(path.join(dir, name), text);

  before(async () => {
    [controlPort, appPort] = await freePorts(2);
    [ingressPort, simplePort, mutualPort] = await freePorts(3);
    dir = mkdtempSync(path.join(os.tmpdir(), 'devmesh-secure-gw-'));
    write('mesh.yaml', mesh(controlPort, ingressPort, appPort));
    write('gateway.yaml', gateway(simplePort, mutualPort));
    write('httpbin-credential.yaml', tlsSecret('httpbin-credential', httpbinCert));
    write('helloworld-credential.yaml', tlsSecret('helloworld-credential', helloCert));
    write('mtls-credential.yaml', tlsSecret('mtls-credential', mtlsCert, { 'ca.crt': clientCa.certPem }));
    up = startUp(path.join(dir, 'mesh.yaml'));
    await waitReady(up, path.join(dir, 'mesh.yaml'), 20_000);
  });
  after(async () => { await up?.stop(); if (dir) removeDir(dir); });

  test('each TLS server port listens on 127.0.0.1 and up says with which certificates', async () => {
    await waitFor('the Istio server ports in the banner', () => up.output().includes(`(Istio server port ${mutualPort})`));
    const out = up.output();
    assert.match(out, new RegExp(`Gateway default/secure \\(Istio server port ${simplePort}\\): https://127\\.0\\.0\\.1:${simplePort}; TLS: Secret istio-system/httpbin-credential, Secret istio-system/helloworld-credential`));
    assert.match(out, new RegExp(`\\(Istio server port ${mutualPort}\\): https://127\\.0\\.0\\.1:${mutualPort}; TLS: Secret istio-system/mtls-credential; MUTUAL client certificates of Secret istio-system/mtls-credential`));
  });

  test('SIMPLE: the decrypted request is routed through the VirtualService bound to the Gateway, as https', async () => {
    const r = await httpsGet(simplePort, 'httpbin.example.com', serverCa.trustBundlePem);
    assert.equal(r.status, 200, r.body);
    const body = JSON.parse(r.body);
    assert.deepEqual([body.path, body.proto], ['/status/200', 'https']);
    assert.match(body.xfcc, /^By=spiffe:\/\/cluster\.local\/ns\/default\/sa\/httpbin;Hash=[0-9a-f]{64};Subject="";URI=spiffe:[^,]*$/, 'no client certificate: only the sidecar\'s element');
    assert.equal(r.san, 'DNS:httpbin.example.com');
    const unrouted = await httpsGet(simplePort, 'httpbin.example.com', serverCa.trustBundlePem, undefined, '/headers');
    assert.equal(unrouted.status, 404, 'no rule of the VirtualService matches /headers');
  });

  test('SNI picks the certificate of the server whose hosts name it; a name no server covers is refused', async () => {
    const hello = await httpsGet(simplePort, 'helloworld.example.com', serverCa.trustBundlePem);
    assert.equal(hello.san, 'DNS:helloworld.example.com');
    assert.equal(hello.status, 200);
    await assert.rejects(httpsGet(simplePort, 'other.example.com', serverCa.trustBundlePem), /alert|socket hang up|ECONNRESET|handshake|disconnected before secure TLS/i);
  });

  test('a credentialName naming no Secret: that server completes no handshake (its SDS secret never arrives), proxy-config lists the secret WARMING, the Secret appearing serves it', async () => {
    assert.equal(await handshake(simplePort, 'pending.example.com'), 'refused', 'no certificate at all, not one devmesh mints');
    assert.equal(await handshake(simplePort, 'httpbin.example.com'), 'completed', 'the other servers of the port are unaffected');
    assert.match(up.output(), /credentialName "pending-credential" names no Secret[^\n]*IST0101[^\n]*completes no TLS handshake/);
    const pc = await cli(['proxy-config', 'secret', 'istio-ingressgateway', '-f', path.join(dir, 'mesh.yaml')], dir);
    assert.equal(pc.code, 0, pc.err);
    const row = pc.out.split('\n').map((l) => l.trim().split(/ {2,}/)).find((r) => r[0] === 'kubernetes://pending-credential');
    assert.deepEqual(row, ['kubernetes://pending-credential', 'WARMING', 'false'], pc.out);
    const listeners = await cli(['proxy-config', 'listeners', 'istio-ingressgateway', '-f', path.join(dir, 'mesh.yaml')], dir);
    assert.match(listeners.out, /SNI: pending\.example\.com +Route: https\.\d+ \(secret kubernetes:\/\/pending-credential warming: handshakes refused\)/, listeners.out);
    write('pending-credential.yaml', tlsSecret('pending-credential', serverCa.issueServer({ dns: ['pending.example.com'] })));
    const r = await waitFor('the Secret served', () => httpsGet(simplePort, 'pending.example.com', serverCa.trustBundlePem).catch(() => undefined), 15_000);
    assert.equal(r.status, 200, r.body);
    assert.equal(r.san, 'DNS:pending.example.com');
  });

  test('MUTUAL: no client certificate, or one of another CA, is refused; one the Secret\'s ca.crt signed is answered', async () => {
    await assert.rejects(httpsGet(mutualPort, 'mtls.example.com', serverCa.trustBundlePem), /certificate|alert|socket hang up|ECONNRESET/i);
    await assert.rejects(httpsGet(mutualPort, 'mtls.example.com', serverCa.trustBundlePem, otherCa.issue('spiffe://other.example.com/ns/x/sa/y')), /certificate|alert|socket hang up|ECONNRESET/i);
    const client = clientCa.issue('spiffe://client.example.com/ns/x/sa/curl');
    const r = await httpsGet(mutualPort, 'mtls.example.com', serverCa.trustBundlePem, client, '/status/200');
    assert.equal(r.status, 200, r.body);
    // Istio's gateway SANITIZE_SET: the client's certificate (hash, URI, PEM), then httpbin's sidecar appends its own element (APPEND_FORWARD).
    const [atGateway, atSidecar] = (JSON.parse(r.body).xfcc as string).split(/,(?=By=|Hash=)/);
    assert.match(atGateway, new RegExp(`^Hash=${createHash('sha256').update(new X509Certificate(client.certPem).raw).digest('hex')};Subject="[^"]*";URI=spiffe://client\\.example\\.com/ns/x/sa/curl;Cert="-----BEGIN%20CERTIFICATE-----`));
    assert.match(atSidecar, /^By=spiffe:\/\/cluster\.local\/ns\/default\/sa\/httpbin;Hash=[0-9a-f]{64};Subject="";URI=spiffe:\/\/cluster\.local\/ns\/istio-system\/sa\/istio-ingressgateway/);
    assert.match(up.output(), /MUTUAL refused a client|refused a client in the handshake/);
  });

  test('MUTUAL: the client certificate\'s SPIFFE id is the source principal an AuthorizationPolicy at the ingress reads', async () => {
    // Only curl's identity may call mtls.example.com; the other hosts stay open (the later tests use them).
    write('ingress-authz.yaml', `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: mtls-curl-only, namespace: istio-system }
spec:
  selector: { matchLabels: { istio: ingressgateway } }
  rules:
    - from: [{ source: { principals: [client.example.com/ns/x/sa/curl] } }]
    - to: [{ operation: { hosts: [httpbin.example.com, helloworld.example.com] } }]
`);
    const curl = clientCa.issue('spiffe://client.example.com/ns/x/sa/curl');
    const other = clientCa.issue('spiffe://client.example.com/ns/x/sa/other');
    const denied = await waitFor('the policy in force', () => httpsGet(mutualPort, 'mtls.example.com', serverCa.trustBundlePem, other).then((r) => (r.status === 403 ? r : undefined)), 15_000);
    assert.equal(denied.body.trim(), 'RBAC: access denied');
    assert.equal((await httpsGet(mutualPort, 'mtls.example.com', serverCa.trustBundlePem, curl)).status, 200);
  });

  test('httpsRedirect: a plain request on the ingress port gets 301 to https', async () => {
    // fetch() will not send another Host: curl -H 'Host: httpbin.example.com' http://127.0.0.1:<ingress>/status/200?x=1
    const r = await new Promise<http.IncomingMessage>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: ingressPort, path: '/status/200?x=1', headers: { host: 'httpbin.example.com' }, agent: false, timeout: 5_000 }, (res) => { res.resume(); resolve(res); }).on('error', reject);
    });
    assert.equal(r.statusCode, 301);
    assert.equal(r.headers.location, 'https://httpbin.example.com/status/200?x=1');
  });

  test('an edited Secret is served on the next handshake, without a restart', async () => {
    const renewed = otherCa.issueServer({ dns: ['httpbin.example.com'] });
    write('httpbin-credential.yaml', tlsSecret('httpbin-credential', renewed));
    const r = await waitFor('the new certificate', () => httpsGet(simplePort, 'httpbin.example.com', otherCa.trustBundlePem).catch(() => undefined), 15_000);
    assert.equal(r.status, 200);
  });

  test('an invalid Secret is refused with its diagnostic (IST0161) and the certificate before it keeps serving', async () => {
    write('helloworld-credential.yaml', secret('helloworld-credential', { 'tls.crt': 'not a certificate', 'tls.key': 'nor a key' }));
    await waitFor('the refusal', () => /invalid-credential[\s\S]*IST0161[\s\S]*still serving/.test(up.output()), 15_000);
    const hello = await httpsGet(simplePort, 'helloworld.example.com', serverCa.trustBundlePem);
    assert.equal(hello.status, 200);
    assert.equal(hello.san, 'DNS:helloworld.example.com');
  });

  test('meshConfig.defaultConfig.gatewayTopology.forwardClientCertDetails replaces SANITIZE_SET at the gateway: APPEND_FORWARD keeps what an mTLS client sent, FORWARD_ONLY passes it alone, SANITIZE drops it', async () => {
    // The test before left an invalid Secret, which refuses every edit until it is fixed.
    write('helloworld-credential.yaml', tlsSecret('helloworld-credential', helloCert));
    const client = clientCa.issue('spiffe://client.example.com/ns/x/sa/curl');
    const sent = 'By=spiffe://client.example.com/ns/x/sa/front;Hash=00ff';
    // What reaches the app, without the callee sidecar's own element (APPEND_FORWARD at its inbound, after a comma).
    const atGateway = async () => {
      const r = await httpsGet(mutualPort, 'mtls.example.com', serverCa.trustBundlePem, client, '/status/200', { 'x-forwarded-client-cert': sent });
      assert.equal(r.status, 200, r.body);
      const xfcc = JSON.parse(r.body).xfcc as string;
      const own = xfcc.lastIndexOf('By=spiffe://cluster.local/ns/default/sa/httpbin');
      return xfcc.slice(0, Math.max(own - 1, 0));
    };
    const clientHash = createHash('sha256').update(new X509Certificate(client.certPem).raw).digest('hex');
    assert.match(await atGateway(), new RegExp(`^Hash=${clientHash};`), 'SANITIZE_SET by default: the client\'s header is replaced');
    const mode = async (m: string, want: (x: string) => boolean) => {
      write('mesh.yaml', mesh(controlPort, ingressPort, appPort, m));
      // waitFor wants a truthy answer: the empty header comes back wrapped.
      return (await waitFor(`${m} in force`, async () => { const x = await atGateway(); return want(x) ? { x } : undefined; }, 15_000).catch(withOutput(up))).x;
    };
    const appended = await mode('APPEND_FORWARD', (x) => x.startsWith(`${sent},`));
    assert.match(appended, new RegExp(`^${sent.replace(/[/.]/g, '\\$&')},Hash=${clientHash};Subject="[^"]*";URI=spiffe://client\\.example\\.com/ns/x/sa/curl;Cert=`));
    assert.equal(await mode('FORWARD_ONLY', (x) => x === sent), sent);
    const sanitized = await mode('SANITIZE', (x) => x === '');
    assert.equal(sanitized, '', 'nothing from the gateway: the app sees only its sidecar\'s element');
  });

  test('MUTUAL: a <credentialName>-cacert Secret is the only CA once it exists (istiod\'s GetCaCert): without a CA key it admits nobody, not even a client the credential\'s own ca.crt signed; given one, that CA decides', async () => {
    const curl = clientCa.issue('spiffe://client.example.com/ns/x/sa/curl');
    const curlOfOtherCa = otherCa.issue('spiffe://client.example.com/ns/x/sa/curl');
    assert.equal((await httpsGet(mutualPort, 'mtls.example.com', serverCa.trustBundlePem, curl)).status, 200, 'the credential\'s own ca.crt before');
    write('mtls-credential-cacert.yaml', secret('mtls-credential-cacert', { note: 'no CA here yet' }));
    const refused = await waitFor('the empty -cacert Secret in force', () => httpsGet(mutualPort, 'mtls.example.com', serverCa.trustBundlePem, curl).then(() => undefined, (err: Error) => err), 15_000).catch(withOutput(up));
    assert.match(refused.message, /certificate|alert|socket hang up|ECONNRESET/i);
    assert.match(up.output(), /Secret istio-system\/mtls-credential-cacert has no "ca\.crt" \(or "cacert"\) key, and istiod reads the CA from it alone[^\n]*every connection to this server is refused/);
    write('mtls-credential-cacert.yaml', secret('mtls-credential-cacert', { 'ca.crt': otherCa.certPem }));
    const answered = await waitFor('the -cacert Secret\'s CA in force', () => httpsGet(mutualPort, 'mtls.example.com', serverCa.trustBundlePem, curlOfOtherCa).catch(() => undefined), 15_000).catch(withOutput(up));
    assert.equal(answered.status, 200, answered.body);
    await assert.rejects(httpsGet(mutualPort, 'mtls.example.com', serverCa.trustBundlePem, curl), /certificate|alert|socket hang up|ECONNRESET/i, 'the credential\'s ca.crt no longer verifies');
    rmSync(path.join(dir, 'mtls-credential-cacert.yaml'));
    await waitFor('the credential\'s own ca.crt again', () => httpsGet(mutualPort, 'mtls.example.com', serverCa.trustBundlePem, curl).catch(() => undefined), 15_000).catch(withOutput(up));
  });
});
