/**
 * One Istio Gateway server port with an HTTPS server that terminates and a
 * TLS PASSTHROUGH server, on real handshakes: Istio merges them into one
 * listener whose filter chains the ClientHello's server name picks
 * (pilot/pkg/networking/core/gateway.go; routing/mixedTlsPort.ts) —
 *
 * - the HTTPS server's host is answered with the gateway's certificate and
 *   routed by the VirtualService's http[] rules;
 * - a name the passthrough server's tls[].match.sniHosts take reaches the
 *   backend, whose own certificate the client sees;
 * - a name no chain takes, and a ClientHello without a server name (no
 *   server of host `*`), are closed.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { createCa } from '../../../simulator/control/ca';
import { ListenerCertificates } from '../../../simulator/control/gateway-ingress';
import { ingressTerminatedPorts } from '../../../simulator/policy/gateway-tls';
import type { TlsSecret } from '../../../simulator/policy/gateway-api/secrets';
import type { MeshSpec, Resource } from '../../../simulator/policy/model';
import { explainRequest } from '../../../simulator/explain/walk';
import { ap, freePort, gw, startMeshFromSpec, tlsClient, vs, type TestMesh } from '../fixtures';
import { tlsGreeter } from './fixtures';

const gatewayCa = createCa({ trustDomain: 'example.com' });
const backendCa = createCa({ trustDomain: 'backend.example.com' });
const WEB_CERT = gatewayCa.issueServer({ dns: ['web.example.com'] });
const BACKEND_CERT = backendCa.issueServer({ dns: ['pass.example.com'] });

const gateway = (port: number) => gw('mixed', {
  selector: { istio: 'ingressgateway' },
  servers: [
    { port: { number: port, name: 'https', protocol: 'HTTPS' }, hosts: ['web.example.com'], tls: { mode: 'SIMPLE', credentialName: 'web-cred' } },
    { port: { number: port, name: 'tls-pass', protocol: 'TLS' }, hosts: ['pass.example.com'], tls: { mode: 'PASSTHROUGH' } },
  ],
} as Resource<'Gateway'>['spec']);

const routes = (port: number) => [
  vs('web', { hosts: ['web.example.com'], gateways: ['mixed'], http: [{ route: [{ destination: { host: 'web', port: { number: 8000 } } }] }] }),
  vs('pass', { hosts: ['pass.example.com'], gateways: ['mixed'], tls: [{ match: [{ port, sniHosts: ['pass.example.com'] }], route: [{ destination: { host: 'backend', port: { number: 9443 } } }] }] }),
];

/** A TLS handshake asking for `servername` (none: no SNI): the certificate the client saw, and what came back for `GET /` (or the greeter's line). */
async function handshake(port: number, servername: string | undefined): Promise<{ subjectAltName?: string; reply: string }> {
  const { san, reply } = await tlsClient(port, servername, `GET / HTTP/1.1\r\nhost: ${servername ?? 'none'}\r\nconnection: close\r\n\r\n`);
  return { subjectAltName: san, reply };
}

describe('a Gateway port with an HTTPS server and a TLS PASSTHROUGH server', () => {
  let mesh: TestMesh;
  let port: number;
  let listenerCertificates: Record<string, import('../../../simulator/protocol').ListenerCertificate[]>;

  before(async () => {
    port = await freePort();
    const secrets = new Map<string, TlsSecret>([['istio-system/web-cred', { certPem: WEB_CERT.certPem, keyPem: WEB_CERT.keyPem, notAfter: '', dnsNames: ['web.example.com'] }]]);
    listenerCertificates = new ListenerCertificates(() => gatewayCa).forIstio(ingressTerminatedPorts([gateway(port)], 'default'), secrets).certs;
    const spec: MeshSpec = {
      services: [
        { name: 'web', port: 8000, workloads: [{ name: 'web-v1', port: 1 }] },
        { name: 'backend', ports: [{ name: 'tls', port: 9443 }], workloads: [{ name: 'backend-v1', ports: { '9443': 1 } }] },
      ],
    };
    mesh = await startMeshFromSpec(spec, { gateways: [gateway(port)], virtualServices: routes(port) }, {
      ingress: true, listenerCertificates,
      app: (w: string) => (w === 'backend-v1' ? tlsGreeter(w, BACKEND_CERT) : undefined),
    } as Parameters<typeof startMeshFromSpec>[2]);
  });
  after(() => mesh?.close());

  test('the HTTPS host is terminated with the gateway\'s certificate and routed by http[]', async () => {
    const r = await handshake(port, 'web.example.com');
    assert.equal(r.subjectAltName, 'DNS:web.example.com');
    assert.match(r.reply, /^HTTP\/1\.1 200/);
    assert.match(r.reply, /web-v1/);
  });

  test('the passthrough host reaches the backend, which answers with its own certificate', async () => {
    const r = await handshake(port, 'pass.example.com');
    assert.equal(r.subjectAltName, 'DNS:pass.example.com');
    assert.equal(new X509Certificate(BACKEND_CERT.certPem).subjectAltName, r.subjectAltName);
    assert.equal(r.reply.trim(), 'backend-v1 pass.example.com');
  });

  test('a server name no server takes, and a ClientHello without one, are closed before any handshake', async () => {
    assert.deepEqual(await handshake(port, 'other.example.com'), { subjectAltName: undefined, reply: '' });
    assert.deepEqual(await handshake(port, undefined), { subjectAltName: undefined, reply: '' });
  });

  test('connection.sni in the ingress\'s AuthorizationPolicy is the server name of the HTTPS connection that carried the request', async () => {
    const policy = (sni: string) => ap('no-web-sni', { selector: { matchLabels: { istio: 'ingressgateway' } }, action: 'DENY', rules: [{ when: [{ key: 'connection.sni', values: [sni] }] }] }, 'istio-system');
    const explained = () => explainRequest(mesh.snapshot, { from: 'ingress', method: 'GET', url: `https://web.example.com:${port}/`, headers: {} }, { listenerCertificates });
    await mesh.push({ gateways: [gateway(port)], virtualServices: routes(port), authorizationPolicies: [policy('web.example.com')] });
    assert.match((await handshake(port, 'web.example.com')).reply, /^HTTP\/1\.1 403/);
    assert.equal(explained().outcomes[0].status, 403);
    await mesh.push({ gateways: [gateway(port)], virtualServices: routes(port), authorizationPolicies: [policy('*.other.example.com')] });
    assert.match((await handshake(port, 'web.example.com')).reply, /^HTTP\/1\.1 200/);
    assert.equal(explained().answered, true);
  });
});
