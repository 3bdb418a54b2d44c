/**
 * One Istio Gateway server port with a TLS server that terminates (protocol
 * TLS, `tls.mode: SIMPLE`: the decrypted stream routed by the
 * VirtualService's tcp[] rules, Istio's "TCP with TLS termination") and a
 * TLS PASSTHROUGH server (tls[] by sniHosts), on real handshakes to real
 * backends: istiod merges both into one listener whose filter chains the
 * ClientHello's server name picks (routing/mixedTlsPort.ts). Once alone, once
 * beside an HTTPS server on the same port (then the HTTPS listener splits).
 *
 * - the terminated host gets the gateway's certificate, and the line the
 *   client writes inside TLS reaches the tcp-echo backend in the clear;
 * - the passthrough host reaches the TLS backend, whose own certificate the
 *   client sees;
 * - the HTTPS host gets the gateway's certificate and its http[] route;
 * - a name no server takes, and a ClientHello without one, are closed.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tls from 'node:tls';
import { createCa } from '../../../simulator/control/ca';
import { ListenerCertificates } from '../../../simulator/control/gateway-ingress';
import { ingressTerminatedPorts } from '../../../simulator/policy/gateway-tls';
import type { TlsSecret } from '../../../simulator/policy/gateway-api/secrets';
import type { MeshSpec, Resource } from '../../../simulator/policy/model';
import type { ListenerCertificate } from '../../../simulator/protocol';
import { explainConnection } from '../../../simulator/explain/walkL4';
import { freePort, gw, startMeshFromSpec, tlsClient, vs, type TestMesh } from '../fixtures';
import { tcpEcho, tlsGreeter } from './fixtures';

const gatewayCa = createCa({ trustDomain: 'example.com' });
const backendCa = createCa({ trustDomain: 'backend.example.com' });
const DB_CERT = gatewayCa.issueServer({ dns: ['db.example.com'] });
const WEB_CERT = gatewayCa.issueServer({ dns: ['web.example.com'] });
const BACKEND_CERT = backendCa.issueServer({ dns: ['pass.example.com'] });

const servers = (port: number, https: boolean) => [
  { port: { number: port, name: 'tls-db', protocol: 'TLS' }, hosts: ['db.example.com'], tls: { mode: 'SIMPLE', credentialName: 'db-cred' } },
  { port: { number: port, name: 'tls-pass', protocol: 'TLS' }, hosts: ['pass.example.com'], tls: { mode: 'PASSTHROUGH' } },
  ...(https ? [{ port: { number: port, name: 'https', protocol: 'HTTPS' }, hosts: ['web.example.com'], tls: { mode: 'SIMPLE', credentialName: 'web-cred' } }] : []),
];
const gateways = (tlsOnly: number, withHttps: number) => [
  gw('tls-only', { selector: { istio: 'ingressgateway' }, servers: servers(tlsOnly, false) } as Resource<'Gateway'>['spec']),
  gw('with-https', { selector: { istio: 'ingressgateway' }, servers: servers(withHttps, true) } as Resource<'Gateway'>['spec']),
];
const routes = () => [
  vs('db', { hosts: ['db.example.com'], gateways: ['tls-only', 'with-https'], tcp: [{ route: [{ destination: { host: 'echo', port: { number: 9000 } } }] }] }),
  vs('pass', { hosts: ['pass.example.com'], gateways: ['tls-only', 'with-https'], tls: [{ match: [{ sniHosts: ['pass.example.com'] }], route: [{ destination: { host: 'backend', port: { number: 9443 } } }] }] }),
  vs('web', { hosts: ['web.example.com'], gateways: ['with-https'], http: [{ route: [{ destination: { host: 'web', port: { number: 8000 } } }] }] }),
];

/** A TLS client asking for `servername` (none: no SNI) that writes `line` and half-closes (`nc`; an HTTP request is written only): the certificate it saw, and everything that came back. */
async function handshake(port: number, servername: string | undefined, line: string): Promise<{ san?: string; reply: string }> {
  const r = await tlsClient(port, servername, line, { halfClose: !line.startsWith('GET ') });
  return { ...r, reply: r.reply.trim() };
}

describe('a Gateway port with a TLS server that terminates (tcp[]) and a TLS PASSTHROUGH server', () => {
  let mesh: TestMesh;
  let tlsOnly: number;
  let withHttps: number;
  let listenerCertificates: Record<string, ListenerCertificate[]>;

  before(async () => {
    tlsOnly = await freePort();
    withHttps = await freePort();
    const secrets = new Map<string, TlsSecret>([
      ['istio-system/db-cred', { certPem: DB_CERT.certPem, keyPem: DB_CERT.keyPem, notAfter: '', dnsNames: ['db.example.com'] }],
      ['istio-system/web-cred', { certPem: WEB_CERT.certPem, keyPem: WEB_CERT.keyPem, notAfter: '', dnsNames: ['web.example.com'] }],
    ]);
    listenerCertificates = new ListenerCertificates(() => gatewayCa).forIstio(ingressTerminatedPorts(gateways(tlsOnly, withHttps), 'default'), secrets).certs;
    const spec: MeshSpec = {
      services: [
        { name: 'web', port: 8000, workloads: [{ name: 'web-v1', port: 1 }] },
        { name: 'echo', ports: [{ name: 'tcp-echo', port: 9000 }], workloads: [{ name: 'echo-v1', ports: { '9000': 1 } }] },
        { name: 'backend', ports: [{ name: 'tls', port: 9443 }], workloads: [{ name: 'backend-v1', ports: { '9443': 1 } }] },
      ],
    };
    mesh = await startMeshFromSpec(spec, { gateways: gateways(tlsOnly, withHttps), virtualServices: routes() }, {
      ingress: true, listenerCertificates,
      app: (w: string) => (w === 'backend-v1' ? tlsGreeter(w, BACKEND_CERT) : w === 'echo-v1' ? tcpEcho('echo-v1') : undefined),
    } as Parameters<typeof startMeshFromSpec>[2]);
  });
  after(() => mesh?.close());

  for (const [name, port] of [['alone', () => tlsOnly], ['beside an HTTPS server', () => withHttps]] as const) {
    test(`${name}: the terminated host gets the gateway's certificate, and its stream reaches the tcp[] backend decrypted`, async () => {
      assert.deepEqual(await handshake(port(), 'db.example.com', 'hello\n'), { san: 'DNS:db.example.com', reply: 'echo-v1 hello' });
    });

    test(`${name}: the passthrough host reaches the backend, which answers with its own certificate`, async () => {
      assert.deepEqual(await handshake(port(), 'pass.example.com', ''), { san: 'DNS:pass.example.com', reply: 'backend-v1 pass.example.com' });
    });

    test(`${name}: a server name no server takes, and a ClientHello without one, are closed before any handshake`, async () => {
      assert.deepEqual(await handshake(port(), 'other.example.com', 'hello\n'), { reply: '' });
      assert.deepEqual(await handshake(port(), undefined, 'hello\n'), { reply: '' });
    });
  }

  test('beside an HTTPS server: its host is terminated with its certificate and routed by http[]', async () => {
    const r = await handshake(withHttps, 'web.example.com', 'GET / HTTP/1.1\r\nhost: web.example.com\r\nconnection: close\r\n\r\n');
    assert.equal(r.san, 'DNS:web.example.com');
    assert.match(r.reply, /^HTTP\/1\.1 200/);
    assert.match(r.reply, /web-v1/);
  });

  test('explain walks each server name to the chain the ingress picks', () => {
    const walk = (sni: string | undefined) => explainConnection(mesh.snapshot, { from: 'ingress', protocol: 'tls', target: `127.0.0.1:${tlsOnly}`, ...(sni ? { sni } : {}) }, { listenerCertificates });
    const db = walk('db.example.com');
    assert.equal(db.gateway?.kind, 'terminated');
    assert.equal(db.gateway?.handshake?.chain?.hostname, 'db.example.com');
    assert.deepEqual(db.route.destinations?.map((d) => d.host), ['echo.default.svc.cluster.local']);
    const pass = walk('pass.example.com');
    assert.equal(pass.gateway?.kind, 'passthrough');
    assert.deepEqual(pass.route.destinations?.map((d) => d.host), ['backend.default.svc.cluster.local']);
    assert.equal(walk('other.example.com').route.action, 'refused');
    assert.equal(walk(undefined).route.action, 'refused');
  });
});
