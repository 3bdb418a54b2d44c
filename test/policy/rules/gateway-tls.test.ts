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

  it('an HTTPS server that terminates TLS (SIMPLE, MUTUAL, OPTIONAL_MUTUAL, ISTIO_MUTUAL) is simulated: no warning', () => {
    for (const mode of ['SIMPLE', 'MUTUAL', 'OPTIONAL_MUTUAL']) {
      assert.deepEqual(findings({ '/mesh.yaml': MESH, '/gw.yaml': gateway('HTTPS', `{ mode: ${mode}, credentialName: nginx-cert }`) }, 'not-simulated'), [], mode);
    }
    assert.deepEqual(findings({ '/mesh.yaml': MESH, '/gw.yaml': gateway('HTTPS', '{ mode: ISTIO_MUTUAL }') }, 'not-simulated'), []);
  });

  it('a TLS server that terminates is warned about on tls, saying what the ingress does instead', () => {
    const f = findings({ '/mesh.yaml': MESH, '/gw.yaml': gateway('TLS', '{ mode: SIMPLE, credentialName: nginx-cert }') }, 'not-simulated');
    assert.equal(f.length, 1, JSON.stringify(f));
    assert.deepEqual([f[0].line, f[0].text, f[0].severity], [9, 'tls', 'warning']);
    assert.match(f[0].message, /mode SIMPLE on a TLS server.*terminates TLS for HTTPS servers with mode SIMPLE, MUTUAL.*passes it through for protocol TLS with mode PASSTHROUGH/);
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
});
