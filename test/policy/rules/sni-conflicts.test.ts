import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { findings } from './helpers';

const gateway = (name: string, servers: string) => `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: ${name} }
spec:
  selector: { istio: ingressgateway }
  servers:
${servers}`;

const HTTPS_WEB = `    - port: { number: 443, name: https, protocol: HTTPS }
      hosts: [web.example.com]
      tls: { mode: SIMPLE, credentialName: web-cred }
`;
const PASS = (hosts = '[pass.example.com]') => `    - port: { number: 443, name: tls-pass, protocol: TLS }
      hosts: ${hosts}
      tls: { mode: PASSTHROUGH }
`;
const passRoute = (name: string, sni: string, gw = 'edge', port = '443') => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: ${name} }
spec:
  hosts: ["*"]
  gateways: [${gw}]
  tls:
    - match: [{ port: ${port}, sniHosts: [${sni}] }]
      route: [{ destination: { host: backend } }]
`;

describe('one server name claimed twice on one gateway port (sni-conflict, no istioctl analyze code)', () => {
  it('two servers with TLS of one Gateway on one port naming a host: the later server, which istiod skips, is told', () => {
    const found = findings({ '/gw.yaml': gateway('edge', HTTPS_WEB + PASS('[pass.example.com, web.example.com]')) }, 'sni-conflict', 'conflicting-gateways');
    assert.deepEqual(found.map((f) => [f.code, f.severity, f.line, f.text]), [['sni-conflict', 'warning', 11, 'web.example.com']]);
    assert.match(found[0].message, /host "web.example.com" is also a host of spec.servers\[0\] on port 443, both with TLS: istiod skips this whole server \("skipping server on gateway default\/edge, duplicate host names"\)/);
  });

  it('the same host in two Gateways is IST0145 (conflicting-gateways) only, as istioctl analyze reports it', () => {
    const found = findings({ '/gw.yaml': `${gateway('edge', HTTPS_WEB)}---\n${gateway('other', PASS('[web.example.com]'))}` }, 'sni-conflict', 'conflicting-gateways');
    assert.deepEqual(found.map((f) => f.code), ['conflicting-gateways', 'conflicting-gateways']);
  });

  it('a tls[] sniHosts entry equal to a host of a server that terminates TLS on the port: Envoy rejects the listener', () => {
    const found = findings({ '/gw.yaml': gateway('edge', HTTPS_WEB + PASS()), '/vs.yaml': passRoute('pass', 'web.example.com') }, 'sni-conflict');
    assert.deepEqual(found.map((f) => [f.line, f.text]), [[8, 'web.example.com']]);
    assert.match(found[0].message, /sniHosts "web.example.com" is also a host of Gateway default\/edge spec.servers\[0\] on port 443, which terminates TLS: Envoy gets two filter chains with server name "web.example.com" and rejects the port's listener/);
  });

  it('a TLS server that terminates (routed by tcp[]) counts as one too; a host on another port does not', () => {
    const tlsTerminated = `    - port: { number: 443, name: tls-db, protocol: TLS }
      hosts: [db.example.com]
      tls: { mode: SIMPLE, credentialName: db-cred }
`;
    assert.equal(findings({ '/gw.yaml': gateway('edge', tlsTerminated + PASS()), '/vs.yaml': passRoute('pass', 'db.example.com') }, 'sni-conflict').length, 1);
    const elsewhere = HTTPS_WEB.replace('443', '8443');
    assert.deepEqual(findings({ '/gw.yaml': gateway('edge', elsewhere + PASS()), '/vs.yaml': passRoute('pass', 'web.example.com') }, 'sni-conflict'), []);
  });

  it('the same sniHosts in two VirtualServices on one gateway port: the later match, which istiod skips, is told', () => {
    const found = findings({ '/gw.yaml': gateway('edge', PASS('["*"]')), '/vs.yaml': `${passRoute('first', 'pass.example.com')}---\n${passRoute('second', '"other.example.com", "pass.example.com"')}` }, 'sni-conflict');
    assert.deepEqual(found.map((f) => [f.line, f.text]), [[18, '"pass.example.com"']]);
    assert.match(found[0].message, /sniHosts "pass.example.com" on port 443 is already claimed by VirtualService default\/first tls\[0\] \(the older one, by creationTimestamp then name\): istiod skips this match \("duplicate SNI host names"\)/);
  });

  it('the older VirtualService (creationTimestamp) keeps the name, whichever is written first', () => {
    const stamped = (route: string, at: string) => route.replace(/metadata: \{ name: (\S+) \}/, `metadata: { name: $1, creationTimestamp: "${at}" }`);
    const found = findings({ '/gw.yaml': gateway('edge', PASS('["*"]')), '/vs.yaml': `${stamped(passRoute('newer', 'pass.example.com'), '2026-02-01T00:00:00Z')}---\n${stamped(passRoute('older', 'pass.example.com'), '2026-01-01T00:00:00Z')}` }, 'sni-conflict');
    assert.equal(found.length, 1);
    assert.match(found[0].message, /already claimed by VirtualService default\/older tls\[0\]/);
  });

  it('is not a match of a VirtualService whose hosts the server does not serve (istiod builds no chain from it there)', () => {
    const scoped = (route: string, hosts: string) => route.replace('hosts: ["*"]', `hosts: [${hosts}]`);
    assert.deepEqual(findings({ '/gw.yaml': gateway('edge', PASS('[pass.example.com]')), '/vs.yaml': `${scoped(passRoute('first', 'pass.example.com'), 'pass.example.com')}---\n${scoped(passRoute('second', 'pass.example.com'), 'other.example.com')}` }, 'sni-conflict'), []);
    assert.deepEqual(findings({ '/gw.yaml': gateway('edge', PASS('["prod/*"]')), '/vs.yaml': `${passRoute('first', 'pass.example.com')}---\n${passRoute('second', 'pass.example.com')}` }, 'sni-conflict'), [], 'a server for namespace prod takes neither');
  });

  it('is not two matches on other ports, on Gateways of other workloads, or without a route', () => {
    const two = (a: string, b: string, gw: string) => findings({ '/gw.yaml': gw, '/vs.yaml': `${a}---\n${b}` }, 'sni-conflict');
    const ports = gateway('edge', PASS('["*"]') + PASS('["*"]').replace('443', '8443').replace('tls-pass', 'tls-pass-2'));
    assert.deepEqual(two(passRoute('first', 'pass.example.com', 'edge', '443'), passRoute('second', 'pass.example.com', 'edge', '8443'), ports), []);
    const internal = gateway('internal', PASS('["*"]')).replace('istio: ingressgateway', 'istio: internalgateway');
    assert.deepEqual(two(passRoute('first', 'pass.example.com'), passRoute('second', 'pass.example.com', 'internal'), `${gateway('edge', PASS('["*"]'))}---\n${internal}`), []);
    assert.deepEqual(two(passRoute('first', 'pass.example.com').replace(/      route: .*\n/, ''), passRoute('second', 'pass.example.com'), gateway('edge', PASS('["*"]'))), []);
  });
});
