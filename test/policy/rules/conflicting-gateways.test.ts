import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { findings } from './helpers';

const gateway = (name: string, selector: string, port: number, host = 'foo.bar') => `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: ${name} }
spec:
  selector: ${selector}
  servers:
    - port: { number: ${port}, name: p${port}, protocol: HTTP }
      hosts: [${host}]
`;

describe('conflicting Gateways (IST0145)', () => {
  it('are two Gateways serving one host on one port of the same selector, and each is told', () => {
    const found = findings({ '/gw.yaml': `${gateway('alpha', '{ istio: ingressgateway }', 80)}---\n${gateway('beta', '{ istio: ingressgateway }', 80)}` }, 'conflicting-gateways');
    assert.deepEqual(found.map((f) => f.line), [7, 16]);
    assert.match(found[0].message, /Gateway default\/beta also serves "foo.bar" on port 80 .*IST0145/);
  });

  it('also when different selectors pick one gateway pod', () => {
    const pod = 'apiVersion: v1\nkind: Pod\nmetadata: { name: gw-1, labels: { istio: ingressgateway, tier: edge } }\n';
    const files = { '/gw.yaml': `${gateway('alpha', '{ istio: ingressgateway, tier: edge }', 80)}---\n${gateway('beta', '{ tier: edge }', 80)}`, '/pod.yaml': pod };
    assert.equal(findings(files, 'conflicting-gateways').length, 2);
  });

  it('are not Gateways on other ports, with other hosts, or on workloads they do not share', () => {
    const pair = (a: string, b: string) => findings({ '/gw.yaml': `${a}---\n${b}` }, 'conflicting-gateways');
    assert.deepEqual(pair(gateway('alpha', '{ istio: ingressgateway }', 80), gateway('beta', '{ istio: ingressgateway }', 443)), []);
    assert.deepEqual(pair(gateway('alpha', '{ istio: ingressgateway }', 80), gateway('beta', '{ istio: ingressgateway }', 80, 'bar.foo')), []);
    assert.deepEqual(pair(gateway('alpha', '{ istio: ingressgateway }', 80), gateway('beta', '{ istio: egressgateway }', 80)), []);
  });

  it('says istiod skips the newer Gateway\'s server with tls whole, and merges plain HTTP servers', () => {
    const tlsGateway = (name: string, created: string) => `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: ${name}, creationTimestamp: "${created}" }
spec:
  selector: { istio: ingressgateway }
  servers:
    - port: { number: 443, name: https, protocol: HTTPS }
      tls: { mode: SIMPLE, credentialName: cert }
      hosts: [foo.bar]
`;
    const found = findings({ '/gw.yaml': `${tlsGateway('alpha', '2026-02-01T00:00:00Z')}---\n${tlsGateway('beta', '2026-01-01T00:00:00Z')}` }, 'conflicting-gateways');
    assert.match(found[0].message, /keeps the older Gateway default\/beta's server and skips this one whole/);
    assert.match(found[1].message, /keeps this server .* skips Gateway default\/alpha's whole/);
    const plain = findings({ '/gw.yaml': `${gateway('alpha', '{ istio: ingressgateway }', 80)}---\n${gateway('beta', '{ istio: ingressgateway }', 80)}` }, 'conflicting-gateways');
    assert.match(plain[0].message, /merges plain HTTP servers of one port \(both serve/);
  });
});
