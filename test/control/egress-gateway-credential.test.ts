/**
 * Istio's "Egress Gateways with TLS Origination" task, its mutual TLS part,
 * under `devmesh up` (real processes, real TLS on 127.0.0.1): the egress
 * gateway presents the client certificate of the DestinationRule's
 * credentialName Secret to an external server that requires one. The
 * Secret missing, the gateway's call fails and `up` says which Secret; the
 * Secret written, the control plane pushes it to the gateway and the next
 * call goes through.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as https from 'node:https';
import type { TLSSocket } from 'node:tls';
import { mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createCa } from '../../simulator/control/ca';
import { freePorts, removeDir, secretYaml, startUp, tlsSecretYaml, viaProxy, waitFor, waitReady, withOutput, type UpProcess } from './helpers';

const bankCa = createCa({ trustDomain: 'bank.example' });
const otherCa = createCa({ trustDomain: 'other.example' });

/** The app calls the bank through its sidecar (HTTP_PROXY), in plain HTTP, and answers what it got. */
const APP = `const http = require("http"); const p = new URL(process.env.HTTP_PROXY);
http.createServer((q, s) => http.get({ host: p.hostname, port: p.port, path: "http://api.bank.example/balance", headers: { host: "api.bank.example" } }, (r) => {
  let b = ""; r.on("data", (d) => (b += d)); r.on("end", () => { s.writeHead(r.statusCode); s.end(b); });
}).on("error", (e) => { s.writeHead(502); s.end(String(e)); })).listen(process.env.PORT, "127.0.0.1");`;

const mesh = (controlPort: number, ingressPort: number, appPort: number) => `apiVersion: devmesh.dev/v1alpha1
kind: Mesh
metadata: { name: egress-credential }
spec:
  controlPort: ${controlPort}
  ingress: { port: ${ingressPort} }
  services:
    - name: shop
      port: 8000
      workloads:
        - name: shop-v1
          port: ${appPort}
          command: ["node", "-e", ${JSON.stringify(APP)}]
`;

/** The task's resources: the app's HTTP call goes to the egress gateway, which originates mutual TLS to port 443 with the Secret. */
const policies = (bankPort: number) => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: bank }
spec:
  hosts: [api.bank.example]
  location: MESH_EXTERNAL
  resolution: STATIC
  ports:
    - { number: 80, name: http, protocol: HTTP }
    - { number: 443, name: https, protocol: HTTPS }
  endpoints:
    - address: 127.0.0.1
      ports: { https: ${bankPort} }
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: istio-egressgateway }
spec:
  selector: { istio: egressgateway }
  servers:
    - port: { number: 80, name: http, protocol: HTTP }
      hosts: [api.bank.example]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: egressgateway-for-bank }
spec:
  host: istio-egressgateway.istio-system.svc.cluster.local
  subsets: [{ name: bank }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: bank-through-egress-gateway }
spec:
  hosts: [api.bank.example]
  gateways: [istio-egressgateway, mesh]
  http:
    - match: [{ gateways: [mesh], port: 80 }]
      route: [{ destination: { host: istio-egressgateway.istio-system.svc.cluster.local, subset: bank, port: { number: 80 } } }]
    - match: [{ gateways: [istio-egressgateway], port: 80 }]
      route: [{ destination: { host: api.bank.example, port: { number: 443 } } }]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: originate-mtls-for-bank }
spec:
  host: api.bank.example
  trafficPolicy:
    portLevelSettings:
      - port: { number: 443 }
        tls: { mode: MUTUAL, credentialName: client-credential, sni: api.bank.example }
`;

describe('mutual TLS origination at the egress gateway with a credentialName Secret, under devmesh up', () => {
  let dir: string;
  let up: UpProcess;
  let ingressPort: number;
  let bank: https.Server;
  const write = (name: string, text: string) => writeFileSync(path.join(dir, name), text);
  const client = bankCa.issue('spiffe://bank.example/ns/istio-system/sa/egress-client');

  before(async () => {
    const [controlPort, appPort] = await freePorts(2);
    [ingressPort] = await freePorts(1);
    // The "internet": a server that requires a client certificate of its own CA and answers with who it was.
    const own = bankCa.issueServer({ dns: ['api.bank.example'] });
    bank = https.createServer({ cert: own.certPem, key: own.keyPem, ca: bankCa.trustBundlePem, requestCert: true, rejectUnauthorized: true }, (q, s) => {
      s.end(`client ${(q.socket as TLSSocket).getPeerCertificate().subjectaltname}`);
    });
    await new Promise<void>((r) => bank.listen(0, '127.0.0.1', r));
    dir = mkdtempSync(path.join(os.tmpdir(), 'devmesh-egress-credential-'));
    writeFileSync(path.join(dir, 'mesh.yaml'), mesh(controlPort, ingressPort, appPort));
    writeFileSync(path.join(dir, 'bank.yaml'), policies((bank.address() as { port: number }).port));
    up = startUp(path.join(dir, 'mesh.yaml'));
    await waitReady(up, path.join(dir, 'mesh.yaml'), 30_000);
  });
  after(async () => {
    await up?.stop();
    bank?.closeAllConnections();
    bank?.close();
    if (dir) removeDir(dir);
  });

  test('no Secret yet: the gateway\'s call fails naming the credential, and up says which Secret is missing', async () => {
    const r = await viaProxy(ingressPort, 'http://shop:8000/');
    assert.equal(r.status, 503, r.body);
    assert.match(r.body, /credentialName "client-credential": no Secret istio-system\/client-credential/);
    assert.match(up.output(), /DestinationRule credentialName "client-credential" \(TLS origination at the gateways\): no Secret istio-system\/client-credential/);
  });

  test('the Secret written: the gateway presents its certificate and verifies the bank with its ca.crt', async () => {
    write('client-credential.yaml', tlsSecretYaml('client-credential', client, { 'ca.crt': bankCa.trustBundlePem }));
    const r = await waitFor('the credential at the gateway', () => viaProxy(ingressPort, 'http://shop:8000/').then((x) => (x.status === 200 ? x : undefined)), 15_000).catch(withOutput(up));
    assert.equal(r.body, 'client URI:spiffe://bank.example/ns/istio-system/sa/egress-client');
  });

  test('a client-credential-cacert Secret is the only CA once it exists (istiod\'s GetCaCert): without a CA key the call fails naming it, though the credential\'s own ca.crt would verify the bank; given another CA, the bank\'s certificate is refused; given the bank\'s, it goes through', async () => {
    const call = () => viaProxy(ingressPort, 'http://shop:8000/');
    write('client-credential-cacert.yaml', secretYaml('client-credential-cacert', { note: 'no CA here yet' }));
    const noCa = await waitFor('the empty -cacert Secret in force', () => call().then((x) => (x.status === 503 ? x : undefined)), 15_000).catch(withOutput(up));
    assert.match(noCa.body, /credentialName "client-credential": no CA to verify the server: Secret istio-system\/client-credential-cacert has no "ca\.crt" \(or "cacert"\) key, and istiod reads the CA from it alone/);
    assert.match(up.output(), /DestinationRule credentialName "client-credential" \(TLS origination at the gateways\): no CA to verify the server: Secret istio-system\/client-credential-cacert/);
    write('client-credential-cacert.yaml', secretYaml('client-credential-cacert', { 'ca.crt': otherCa.trustBundlePem }));
    const refused = await waitFor('the other CA in force', () => call().then((x) => (x.status === 503 && !/no CA/.test(x.body) ? x : undefined)), 15_000).catch(withOutput(up));
    assert.match(refused.body, /TLS to 127\.0\.0\.1:\d+ failed: self-signed certificate in certificate chain/, 'the bank\'s certificate checked against the -cacert Secret\'s CA, not the credential\'s own ca.crt');
    write('client-credential-cacert.yaml', secretYaml('client-credential-cacert', { 'ca.crt': bankCa.trustBundlePem }));
    const ok = await waitFor('the bank\'s CA in force', () => call().then((x) => (x.status === 200 ? x : undefined)), 15_000).catch(withOutput(up));
    assert.equal(ok.body, 'client URI:spiffe://bank.example/ns/istio-system/sa/egress-client');
  });
});
