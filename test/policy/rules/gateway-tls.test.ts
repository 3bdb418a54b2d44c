import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { findings, mesh } from './helpers';

const MESH = mesh({ ratings: [{ app: 'ratings' }] });

const gateway = (protocol: string, tls: string) => `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: gw }
spec:
  selector: { istio: ingressgateway }
  servers:
    - port: { number: 443, name: tls, protocol: ${protocol} }
      hosts: [nginx.example.com]
${tls ? `      tls: ${tls}\n` : ''}`;

describe('Gateway server tls', () => {
  it('PASSTHROUGH on a TLS server is simulated (the ingress routes it by tls[] sniHosts): no warning, written or by default', () => {
    assert.deepEqual(findings({ '/mesh.yaml': MESH, '/gw.yaml': gateway('TLS', '{ mode: PASSTHROUGH }') }, 'not-simulated'), []);
    assert.deepEqual(findings({ '/mesh.yaml': MESH, '/gw.yaml': gateway('TLS', '{}') }, 'not-simulated'), []);
    assert.deepEqual(findings({ '/mesh.yaml': MESH, '/gw.yaml': gateway('HTTPS', '{ mode: PASSTHROUGH }') }, 'not-simulated'), []);
  });

  it('an HTTPS server with tls but no mode is PASSTHROUGH, as the enum\'s zero value is in Istio: simulated, no warning', () => {
    assert.deepEqual(findings({ '/mesh.yaml': MESH, '/gw.yaml': gateway('HTTPS', '{ credentialName: nginx-cert }') }, 'not-simulated'), []);
  });

  it('an HTTPS server that terminates TLS (SIMPLE, MUTUAL, OPTIONAL_MUTUAL, ISTIO_MUTUAL) is simulated: no warning', () => {
    for (const mode of ['SIMPLE', 'MUTUAL', 'OPTIONAL_MUTUAL']) {
      assert.deepEqual(findings({ '/mesh.yaml': MESH, '/gw.yaml': gateway('HTTPS', `{ mode: ${mode}, credentialName: nginx-cert }`) }, 'not-simulated'), [], mode);
    }
    assert.deepEqual(findings({ '/mesh.yaml': MESH, '/gw.yaml': gateway('HTTPS', '{ mode: ISTIO_MUTUAL }') }, 'not-simulated'), []);
  });

  it('a TLS server that terminates is simulated (the ingress terminates, then routes tcp[]): no warning', () => {
    for (const mode of ['SIMPLE', 'MUTUAL', 'ISTIO_MUTUAL']) {
      assert.deepEqual(findings({ '/mesh.yaml': MESH, '/gw.yaml': gateway('TLS', `{ mode: ${mode}${mode === 'ISTIO_MUTUAL' ? '' : ', credentialName: nginx-cert'} }`) }, 'not-simulated'), [], mode);
    }
  });

  it('AUTO_PASSTHROUGH is warned about on tls, saying what the ingress does instead', () => {
    const f = findings({ '/mesh.yaml': MESH, '/gw.yaml': gateway('TLS', '{ mode: AUTO_PASSTHROUGH }') }, 'not-simulated');
    assert.equal(f.length, 1, JSON.stringify(f));
    assert.deepEqual([f[0].line, f[0].text, f[0].severity], [9, 'tls', 'warning']);
    assert.match(f[0].message, /mode AUTO_PASSTHROUGH on a TLS server.*terminates TLS for HTTPS and TLS servers with mode SIMPLE, MUTUAL.*SNI-encoded cluster names/);
  });

  it('a field of a terminating server the ingress does not honour is warned about on that field', () => {
    const f = findings({ '/mesh.yaml': MESH, '/gw.yaml': gateway('HTTPS', '{ mode: MUTUAL, credentialName: nginx-cert, subjectAltNames: [client.example.com] }') }, 'not-simulated');
    assert.deepEqual(f.map((x) => x.text), ['subjectAltNames']);
    assert.match(f[0].message, /tls\.subjectAltNames.*not simulated locally/);
  });

  it('httpsRedirect on an HTTP server is simulated: no warning', () => {
    assert.deepEqual(findings({ '/mesh.yaml': MESH, '/gw.yaml': gateway('HTTP', '{ httpsRedirect: true }') }, 'not-simulated'), []);
  });

  it('an unknown mode is a bad enum value', () => {
    assert.deepEqual(findings({ '/mesh.yaml': MESH, '/gw.yaml': gateway('TLS', '{ mode: PASSTRUGH }') }, 'bad-enum').map((x) => x.text), ['PASSTRUGH']);
  });

  it('MUTUAL or OPTIONAL_MUTUAL with certificate files and no caCertificates is Istio\'s validation error, on mode, saying what to set', () => {
    for (const mode of ['MUTUAL', 'OPTIONAL_MUTUAL']) {
      const f = findings({ '/mesh.yaml': MESH, '/gw.yaml': gateway('HTTPS', `{ mode: ${mode}, serverCertificate: a.crt, privateKey: a.key }`) }, 'mutual-tls-no-ca');
      assert.deepEqual(f.map((x) => [x.line, x.text, x.severity]), [[9, mode, 'error']], mode);
      assert.match(f[0].message, /MUTUAL TLS requires a client CA bundle \(Istio rejects this Gateway, IST0106\).*set caCertificates/);
    }
  });

  it('no mutual-tls-no-ca with caCertificates, with a credentialName (its Secret holds the CA), or for SIMPLE', () => {
    for (const tls of ['{ mode: MUTUAL, serverCertificate: a.crt, privateKey: a.key, caCertificates: ca.crt }', '{ mode: MUTUAL, credentialName: nginx-cert }', '{ mode: SIMPLE, serverCertificate: a.crt, privateKey: a.key }']) {
      assert.deepEqual(findings({ '/mesh.yaml': MESH, '/gw.yaml': gateway('HTTPS', tls) }, 'mutual-tls-no-ca'), [], tls);
    }
  });
});
