/**
 * Stand-ins for hosts outside the mesh: local HTTP and HTTPS servers on
 * 127.0.0.1 that a ServiceEntry names (resolution STATIC), a CA of their own
 * (not the mesh's) with server and client certificates for TLS origination.
 * Nothing here reaches the network.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import type * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import forge from 'node-forge';

export interface ExternalServer {
  port: number;
  /** Every request it received: method, url, host and headers. */
  seen: Array<{ method: string; url: string; host: string; headers: http.IncomingHttpHeaders; clientCert?: string }>;
  /** What it answers: a status per request (by default 200). */
  answer: (i: number, req: http.IncomingMessage) => number;
  close(): Promise<void>;
}

function handler(name: string, s: Pick<ExternalServer, 'seen' | 'answer'>): http.RequestListener {
  return (req, res) => {
    const peer = (req.socket as { getPeerCertificate?: () => { subject?: { CN?: string } } }).getPeerCertificate?.();
    const i = s.seen.length;
    s.seen.push({ method: req.method ?? '', url: req.url ?? '', host: req.headers.host ?? '', headers: req.headers, clientCert: peer?.subject?.CN });
    req.resume();
    req.on('end', () => {
      res.statusCode = s.answer(i, req);
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ server: name, url: req.url, host: req.headers.host, tls: 'encrypted' in req.socket }));
    });
  };
}

async function listen(server: http.Server | https.Server, name: string, s: Pick<ExternalServer, 'seen' | 'answer'>): Promise<ExternalServer> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return Object.assign(s, {
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  }) as ExternalServer & { name?: string };
}

/** A plain HTTP server standing in for an external API. */
export function externalHttp(name: string): Promise<ExternalServer> {
  const s = { seen: [] as ExternalServer['seen'], answer: () => 200 };
  return listen(http.createServer(handler(name, s)), name, s);
}

/** An HTTPS server with a certificate for `names` from `ca`; with `requireClient`, it wants a client certificate from the same CA. */
export function externalHttps(name: string, ca: TestCa, names: string[], requireClient = false): Promise<ExternalServer> {
  const s = { seen: [] as ExternalServer['seen'], answer: () => 200 };
  const leaf = ca.issue(names[0], names);
  const server = https.createServer({ key: leaf.keyPem, cert: leaf.certPem, ca: ca.certPem, requestCert: requireClient, rejectUnauthorized: requireClient }, handler(name, s));
  return listen(server, name, s);
}

export interface TestCa {
  certPem: string;
  issue(cn: string, dnsNames: string[]): { certPem: string; keyPem: string };
  /** Writes the CA and one client certificate into a fresh directory: ca.pem, client.pem, client-key.pem. */
  writeFiles(clientCn: string): string;
}

/** A CA of the "external" world, unrelated to the mesh CA. */
export function testCa(cn = 'external test CA'): TestCa {
  const caKeys = keyPair();
  const caCert = forge.pki.createCertificate();
  caCert.publicKey = caKeys.publicKey;
  caCert.serialNumber = '01';
  caCert.validity.notBefore = new Date(Date.now() - 60_000);
  caCert.validity.notAfter = new Date(Date.now() + 86_400_000);
  caCert.setSubject([{ name: 'commonName', value: cn }]);
  caCert.setIssuer([{ name: 'commonName', value: cn }]);
  caCert.setExtensions([{ name: 'basicConstraints', cA: true }, { name: 'keyUsage', keyCertSign: true, cRLSign: true }]);
  caCert.sign(caKeys.privateKey, forge.md.sha256.create());
  const certPem = forge.pki.certificateToPem(caCert);
  let serial = 2;
  const issue = (leafCn: string, dnsNames: string[]) => {
    const keys = keyPair();
    const cert = forge.pki.createCertificate();
    cert.publicKey = keys.publicKey;
    cert.serialNumber = (serial++).toString(16).padStart(2, '0');
    cert.validity.notBefore = new Date(Date.now() - 60_000);
    cert.validity.notAfter = new Date(Date.now() + 86_400_000);
    cert.setSubject([{ name: 'commonName', value: leafCn }]);
    cert.setIssuer(caCert.subject.attributes);
    cert.setExtensions([
      { name: 'basicConstraints', cA: false },
      { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
      ...(dnsNames.length ? [{ name: 'subjectAltName', altNames: dnsNames.map((value) => ({ type: 2, value })) }] : []),
    ]);
    cert.sign(caKeys.privateKey, forge.md.sha256.create());
    return { certPem: forge.pki.certificateToPem(cert), keyPem: forge.pki.privateKeyToPem(keys.privateKey) };
  };
  return {
    certPem,
    issue,
    writeFiles(clientCn) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'devmesh-egress-'));
      const client = issue(clientCn, []);
      fs.writeFileSync(path.join(dir, 'ca.pem'), certPem);
      fs.writeFileSync(path.join(dir, 'client.pem'), client.certPem);
      fs.writeFileSync(path.join(dir, 'client-key.pem'), client.keyPem, { mode: 0o600 });
      return dir;
    },
  };
}

/** RSA keys made by node:crypto (fast), handed to node-forge to sign with. */
function keyPair(): { publicKey: forge.pki.rsa.PublicKey; privateKey: forge.pki.rsa.PrivateKey } {
  const { publicKey, privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    publicKey: forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString()) as forge.pki.rsa.PublicKey,
    privateKey: forge.pki.privateKeyFromPem(privateKey.export({ type: 'pkcs1', format: 'pem' }).toString()) as forge.pki.rsa.PrivateKey,
  };
}
