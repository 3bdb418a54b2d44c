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

  it('a mode that terminates TLS at the gateway is warned about on tls, saying what the ingress does instead', () => {
    const f = findings({ '/mesh.yaml': MESH, '/gw.yaml': gateway('HTTPS', '{ mode: SIMPLE, credentialName: nginx-cert }') }, 'not-simulated');
    assert.equal(f.length, 1, JSON.stringify(f));
    assert.deepEqual([f[0].line, f[0].text, f[0].severity], [9, 'tls', 'warning']);
    assert.match(f[0].message, /mode SIMPLE on a HTTPS server.*terminates no TLS.*passes TLS through only for protocol TLS with mode PASSTHROUGH/);
  });

  it('an unknown mode is a bad enum value', () => {
    assert.deepEqual(findings({ '/mesh.yaml': MESH, '/gw.yaml': gateway('TLS', '{ mode: PASSTRUGH }') }, 'bad-enum').map((x) => x.text), ['PASSTRUGH']);
  });
});
