/** Local ports, banner lines and certificates for Gateway API Gateway ports and Istio Gateway TLS server ports, as units. */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { createCa } from '../../simulator/control/ca';
import { describeGatewayListeners, gatewayPorts, ListenerCertificates } from '../../simulator/control/gateway-ingress';
import type { TlsSecret } from '../../simulator/policy/gateway-api/secrets';
import type { TerminatedServer } from '../../simulator/policy/gateway-tls';

describe('Gateway ports on 127.0.0.1', () => {
  it('keep a port from 1024 up when it is free, map one below 1024 or in use, and keep what a reload already assigned', async () => {
    const busy = new Set([8081]);
    const ports = await gatewayPorts(
      [{ gateway: 'ns/gw', port: 80 }, { gateway: 'ns/gw', port: 8080 }, { gateway: 'ns/gw', port: 8081 }, { gateway: 'ns/gw', port: 9000 }, { gateway: 'ns/other', port: 8080 }],
      { 'ns/gw:9000': 41234 }, new Set([15000]), async (p) => !busy.has(p));
    assert.equal(ports['ns/gw:8080'], 8080);
    assert.equal(ports['ns/gw:9000'], 41234);
    for (const key of ['ns/gw:80', 'ns/gw:8081', 'ns/other:8080']) assert.ok(ports[key] >= 20000 && ![8080, 8081, 41234].includes(ports[key]), `${key} mapped to a free port (${ports[key]})`);
    assert.notEqual(ports['ns/gw:80'], ports['ns/other:8080']);
  });

  it('say where each port listens, why it moved, and where an HTTPS certificate comes from', () => {
    const lines = describeGatewayListeners(
      [{ gateway: 'ns/gw', port: 443, protocol: 'HTTPS', localPort: 20443 }, { gateway: 'ns/gw', port: 8081, protocol: 'HTTP', localPort: 20081 }],
      { 'ns/gw:443': [{ hostname: 'a.example.com', certPem: '', keyPem: '', source: 'minted by devmesh for a.example.com' }] });
    assert.deepEqual(lines, [
      'Gateway ns/gw: https://127.0.0.1:20443 (port 443 of the Gateway, mapped: 443 needs privileges); TLS: minted by devmesh for a.example.com (trust .devmesh/ca.pem)',
      'Gateway ns/gw: http://127.0.0.1:20081 (port 8081 of the Gateway, mapped: 8081 was in use)',
    ]);
  });
});

describe('Istio Gateway server certificates (forIstio)', () => {
  const ca = createCa({ trustDomain: 'cluster.local' });
  const own = ca.issueServer({ dns: ['a.example.com'] });
  const clientRoot = createCa({ trustDomain: 'clients' }).certPem;
  const server = (tls: TerminatedServer['tls'], mode: TerminatedServer['mode'] = 'SIMPLE', hosts = ['a.example.com']): TerminatedServer => ({ gateway: 'default/gw', index: 0, hosts, mode, protocol: 'HTTPS', tls, dir: '/policies' });
  const secrets = new Map<string, TlsSecret>([
    ['istio-system/a-cred', { certPem: own.certPem, keyPem: own.keyPem, notAfter: '', dnsNames: ['a.example.com'], caPem: 'SAME-SECRET-CA' }],
    ['istio-system/b-cred-cacert', { problem: 'needs both tls.crt and tls.key', caPem: clientRoot }],
    ['istio-system/b-cred', { certPem: own.certPem, keyPem: own.keyPem, notAfter: '', dnsNames: [] }],
    ['default/c-cred', { certPem: own.certPem, keyPem: own.keyPem, notAfter: '', dnsNames: [] }],
  ]);
  const certsOf = (s: TerminatedServer, read?: (f: string) => string) => new ListenerCertificates(() => ca).forIstio([{ port: 443, protocol: 'HTTPS', servers: [s] }], secrets, read);

  it('serve the credentialName Secret of istio-system, one chain per host, keyed under the ingress gateway', () => {
    const { certs, problems } = certsOf(server({ credentialName: 'a-cred' }, 'SIMPLE', ['a.example.com', 'www.a.example.com']));
    assert.deepEqual(problems, []);
    const chains = certs['istio-system/istio-ingressgateway:443'];
    assert.deepEqual(chains.map((c) => [c.hostname, c.source, c.mode, c.clientCaPem]), [['a.example.com', 'Secret istio-system/a-cred', 'SIMPLE', undefined], ['www.a.example.com', 'Secret istio-system/a-cred', 'SIMPLE', undefined]]);
    assert.equal(chains[0].certPem, own.certPem);
  });

  it('look in the Gateway\'s namespace after istio-system', () => {
    assert.equal(certsOf(server({ credentialName: 'c-cred' })).certs['istio-system/istio-ingressgateway:443'][0].source, 'Secret default/c-cred');
  });

  it('MUTUAL verifies clients with <name>-cacert before the Secret\'s own ca.crt, as istiod does', () => {
    assert.deepEqual(certsOf(server({ credentialName: 'b-cred' }, 'MUTUAL')).certs['istio-system/istio-ingressgateway:443'].map((c) => [c.clientCaPem, c.clientCaSource]), [[clientRoot, 'Secret istio-system/b-cred-cacert']]);
    assert.deepEqual(certsOf(server({ credentialName: 'a-cred' }, 'MUTUAL')).certs['istio-system/istio-ingressgateway:443'].map((c) => c.clientCaPem), ['SAME-SECRET-CA']);
  });

  it('MUTUAL with a <name>-cacert Secret that holds no CA: no CA, not the credential\'s own ca.crt (GetCaCert does not fall back once the -cacert Secret exists)', () => {
    const withEmpty = new Map(secrets).set('istio-system/a-cred-cacert', { problem: 'needs both tls.crt and tls.key' });
    const { certs, problems } = new ListenerCertificates(() => ca).forIstio([{ port: 443, protocol: 'HTTPS', servers: [server({ credentialName: 'a-cred' }, 'MUTUAL')] }], withEmpty);
    const [chain] = certs['istio-system/istio-ingressgateway:443'];
    assert.equal(chain.clientCaPem, undefined);
    assert.match(chain.clientCaMissing!, /Secret istio-system\/a-cred-cacert has no "ca\.crt" \(or "cacert"\) key, and istiod reads the CA from it alone/);
    assert.equal(problems.length, 1);
  });

  it('caCertCredentialName names the CA resource outright: a -cacert Secret is read as GetCaCert reads it; a name without the suffix is served as a key pair, never a CA', () => {
    assert.deepEqual(certsOf(server({ credentialName: 'a-cred', caCertCredentialName: 'b-cred-cacert' }, 'MUTUAL')).certs['istio-system/istio-ingressgateway:443'].map((c) => c.clientCaSource), ['Secret istio-system/b-cred-cacert']);
    const [bare] = certsOf(server({ credentialName: 'a-cred', caCertCredentialName: 'a-cred' }, 'MUTUAL')).certs['istio-system/istio-ingressgateway:443'];
    assert.equal(bare.clientCaPem, undefined);
    assert.match(bare.clientCaMissing!, /caCertCredentialName "a-cred" does not end in "-cacert"/);
  });

  it('MUTUAL with no CA anywhere (no ca.crt in the Secret, no -cacert Secret; or files without caCertificates): no CA, the chain refuses every connection, and a problem saying how to fix it', () => {
    const viaSecret = certsOf(server({ credentialName: 'c-cred' }, 'MUTUAL'));
    const [chain] = viaSecret.certs['istio-system/istio-ingressgateway:443'];
    assert.equal(chain.clientCaPem, undefined, 'not the mesh CA: istiod sends no validation context');
    assert.match(chain.clientCaMissing!, /Secret default\/c-cred has no "ca\.crt" \(or "cacert"\) key and there is no default\/c-cred-cacert Secret/);
    assert.match(viaSecret.problems[0], /port 443, MUTUAL\): MUTUAL has no CA .*; every connection to this server is refused until one resolves/);
    const viaFiles = certsOf(server({ serverCertificate: 'a.crt', privateKey: 'a.key' }, 'OPTIONAL_MUTUAL'), (f) => (f.endsWith('.crt') ? own.certPem : own.keyPem));
    assert.match(viaFiles.certs['istio-system/istio-ingressgateway:443'][0].clientCaMissing!, /set tls\.caCertificates \(Istio rejects this Gateway: MUTUAL TLS requires a client CA bundle\)/);
  });

  it('a credentialName naming no Secret: no certificate at all (its SDS secret warming, the chain refuses handshakes), and a problem naming the Secret', () => {
    const { certs, problems } = certsOf(server({ credentialName: 'missing' }));
    const [chain] = certs['istio-system/istio-ingressgateway:443'];
    assert.deepEqual([chain.hostname, chain.certPem, chain.keyPem, chain.warming?.sds], ['a.example.com', '', '', 'kubernetes://missing'], 'not one the mesh CA mints');
    assert.equal(problems.length, 1);
    assert.match(problems[0], /Gateway default\/gw spec\.servers\[0\] \(port 443, SIMPLE\): credentialName "missing" names no Secret .*istio-system\/missing, default\/missing; IST0101\); .* completes no TLS handshake/);
    assert.equal(chain.warming?.why, problems[0].replace(/^[^:]*\): /, ''));
  });

  it('a credentialName in a workspace that keeps no Secrets (a cluster\'s made elsewhere, e.g. by cert-manager): a certificate the mesh CA mints, and a problem saying what a cluster would do', () => {
    const { certs, problems } = new ListenerCertificates(() => ca).forIstio([{ port: 443, protocol: 'HTTPS', servers: [server({ credentialName: 'made-by-cert-manager' })] }], new Map());
    const [chain] = certs['istio-system/istio-ingressgateway:443'];
    assert.equal(chain.warming, undefined);
    assert.match(chain.source, /^minted by devmesh for a\.example\.com/);
    assert.match(problems[0], /credentialName "made-by-cert-manager": the workspace holds no Secrets, .* on a cluster this server completes no TLS handshake until the Secret exists/);
  });

  it('certificate files that cannot be read, and never could: no certificate (file-cert warming), not a minted one', () => {
    const { certs, problems } = certsOf(server({ serverCertificate: 'gone.crt', privateKey: 'gone.key' }), () => { throw new Error('ENOENT: no such file'); });
    const [chain] = certs['istio-system/istio-ingressgateway:443'];
    assert.deepEqual([chain.certPem, chain.warming?.sds], ['', 'file-cert:gone.crt~gone.key']);
    assert.match(problems[0], /ENOENT: no such file; istio-agent has no certificate to send/);
  });

  it('serverCertificate and privateKey files are read relative to the Gateway\'s file', () => {
    const read: string[] = [];
    const { certs } = certsOf(server({ serverCertificate: 'certs/a.crt', privateKey: 'certs/a.key' }), (f) => { read.push(f); return f.endsWith('.crt') ? own.certPem : own.keyPem; });
    assert.deepEqual(read, ['/policies/certs/a.crt', '/policies/certs/a.key']);
    assert.equal(certs['istio-system/istio-ingressgateway:443'][0].source, 'files certs/a.crt, certs/a.key');
  });

  it('ISTIO_MUTUAL: a certificate of the mesh CA, and clients verified against the mesh CA; versions and ciphers as Node names them', () => {
    const [chain] = certsOf(server({ minProtocolVersion: 'TLSV1_3', cipherSuites: ['ECDHE-RSA-AES128-GCM-SHA256'] } as TerminatedServer['tls'], 'ISTIO_MUTUAL', ['*'])).certs['istio-system/istio-ingressgateway:443'];
    assert.equal(chain.hostname, undefined, 'a * host is the port\'s catch-all chain');
    assert.deepEqual([chain.clientCaPem, chain.clientCaSource, chain.minVersion, chain.ciphers], [ca.trustBundlePem, 'the mesh CA (ISTIO_MUTUAL)', 'TLSv1.3', 'ECDHE-RSA-AES128-GCM-SHA256']);
  });
});

describe('Gateway API listener certificates (forGateways)', () => {
  it('mint one certificate per listener hostname on a shared port (none: localhost), and keep each across updates', async () => {
    const { gatewayStatuses } = await import('../../simulator/policy/gateway-api/status');
    const { X509Certificate } = await import('node:crypto');
    const ca = createCa({ trustDomain: 'cluster.local' });
    const gateway = {
      apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', metadata: { name: 'edge', namespace: 'default' },
      spec: { gatewayClassName: 'istio', listeners: [
        { name: 'a', port: 443, protocol: 'HTTPS', hostname: 'a.example.com' },
        { name: 'b', port: 443, protocol: 'HTTPS', hostname: '*.b.example.com' },
        { name: 'rest', port: 443, protocol: 'HTTPS' },
      ] },
    } as unknown as Parameters<typeof gatewayStatuses>[0]['gateways'][number];
    const statuses = gatewayStatuses({ services: new Map(), gateways: [gateway], referenceGrants: [] });
    const certs = new ListenerCertificates(() => ca);
    const first = certs.forGateways(statuses, new Map());
    certs.sweep(first);
    const again = certs.forGateways(statuses, new Map());
    const names = first['default/edge:443'].map((c) => `${c.hostname ?? '-'} ${new X509Certificate(c.certPem).subjectAltName}`);
    assert.deepEqual(names, ['a.example.com DNS:a.example.com', '*.b.example.com DNS:*.b.example.com', '- DNS:localhost, IP Address:127.0.0.1']);
    assert.deepEqual(again, first);
  });

  it('serve a TLS Terminate listener\'s certificate as the ingress\'s TLS server of that port (SIMPLE), and none for Passthrough or TCP', async () => {
    const { gatewayStatuses } = await import('../../simulator/policy/gateway-api/status');
    const { X509Certificate } = await import('node:crypto');
    const ca = createCa({ trustDomain: 'cluster.local' });
    const gateway = {
      apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', metadata: { name: 'edge', namespace: 'default' },
      spec: { gatewayClassName: 'istio', listeners: [
        { name: 'db-tls', port: 5433, protocol: 'TLS', hostname: 'db.example.com', tls: { mode: 'Terminate' } },
        { name: 'pass', port: 8443, protocol: 'TLS', tls: { mode: 'Passthrough' } },
        { name: 'db', port: 5432, protocol: 'TCP' },
      ] },
    } as unknown as Parameters<typeof gatewayStatuses>[0]['gateways'][number];
    const statuses = gatewayStatuses({ services: new Map(), gateways: [gateway], referenceGrants: [] });
    const out = new ListenerCertificates(() => ca).forGateways(statuses, new Map());
    assert.deepEqual(Object.keys(out), ['istio-system/istio-ingressgateway:5433']);
    const [chain] = out['istio-system/istio-ingressgateway:5433'];
    assert.deepEqual([chain.hostname, chain.mode, chain.source, new X509Certificate(chain.certPem).subjectAltName], ['db.example.com', 'SIMPLE', 'minted by devmesh for db.example.com', 'DNS:db.example.com']);
  });
});
