import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { findings } from './helpers';

const gateway = (name: string, selector: string, credential: string) => `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: ${name}, namespace: istio-system }
spec:
  selector: ${selector}
  servers:
    - port: { number: 443, name: https, protocol: HTTPS }
      tls: { mode: SIMPLE, credentialName: ${credential} }
      hosts: [${name}.example.com]
`;

describe('one certificate on two Gateways (IST0138)', () => {
  it('is reported on a Gateway whose selector the other one\'s includes', () => {
    const found = findings({ '/gw.yaml': `${gateway('one', '{ istio: ingressgateway }', 'wildcard')}---\n${gateway('two', '{ istio: ingressgateway, type: internal }', 'wildcard')}` }, 'duplicate-certificate');
    assert.deepEqual(found.map((f) => [f.line, f.text]), [[8, 'tls']]);
    assert.match(found[0].message, /Gateway istio-system\/two serves the same certificate \(credentialName "wildcard"\).*IST0138/);
  });

  it('is not reported for different certificates', () => {
    assert.deepEqual(findings({ '/gw.yaml': `${gateway('one', '{ istio: ingressgateway }', 'a')}---\n${gateway('two', '{ istio: ingressgateway }', 'b')}` }, 'duplicate-certificate'), []);
  });
});
