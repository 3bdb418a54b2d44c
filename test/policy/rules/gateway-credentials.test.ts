import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { createCa } from '../../../simulator/control/ca';
import { findings } from './helpers';

const CODES = ['unknown-credential', 'invalid-credential'];
const YEAR = 365 * 24 * 3600 * 1000;
const b64 = (s: string) => Buffer.from(s).toString('base64');

const gateway = (credentialName: string, selector = '{ istio: ingressgateway }') => `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: shop }
spec:
  selector: ${selector}
  servers:
    - port: { number: 443, name: https, protocol: HTTPS }
      tls: { mode: SIMPLE, credentialName: ${credentialName} }
      hosts: [shop.example.com]
`;

const secret = (name: string, type: string, data: Record<string, string>, namespace = 'istio-system') => `apiVersion: v1
kind: Secret
metadata: { name: ${name}, namespace: ${namespace} }
type: ${type}
data:
${Object.entries(data).map(([k, v]) => `  ${k}: ${v}`).join('\n')}
`;

describe('gateway credentials', () => {
  const valid = createCa({ trustDomain: 'shop.example.com' });
  const expired = createCa({ trustDomain: 'old.example.com', now: () => Date.now() - 3 * YEAR, rootLifetimeMs: YEAR });
  const tls = (ca: { certPem: string; keyPem: string }) => ({ 'tls.crt': b64(ca.certPem), 'tls.key': b64(ca.keyPem) });

  it('accept a kubernetes.io/tls Secret with a valid certificate in the gateway workload\'s namespace', () => {
    assert.deepEqual(findings({ '/gw.yaml': gateway('shop-cert'), '/s.yaml': secret('shop-cert', 'kubernetes.io/tls', tls(valid)) }, ...CODES), []);
    assert.deepEqual(findings({ '/gw.yaml': gateway('shop-cert'), '/s.yaml': secret('shop-cert', 'Opaque', { cert: b64(valid.certPem), key: b64(valid.keyPem) }) }, ...CODES), []);
  });

  it('report a Secret that is missing, or in another namespace than the gateway\'s (IST0101)', () => {
    const [f] = findings({ '/gw.yaml': gateway('shop-cert'), '/s.yaml': secret('shop-cert', 'kubernetes.io/tls', tls(valid), 'default') }, ...CODES);
    assert.equal(f.code, 'unknown-credential');
    assert.match(f.message, /not found \(IST0101\): no Secret "shop-cert" in namespace "istio-system"/);
  });

  it('report missing keys, a certificate that does not parse and one that expired (IST0161)', () => {
    const problems = [
      secret('shop-cert', 'kubernetes.io/tls', { 'tls.cert': b64('x'), 'tls.key': b64('y') }),
      secret('shop-cert', 'Opaque', { cert: b64('hush hush'), key: b64('secret') }),
      secret('shop-cert', 'kubernetes.io/tls', tls(expired)),
    ].map((s) => findings({ '/gw.yaml': gateway('shop-cert'), '/s.yaml': s }, ...CODES)[0].message);
    assert.match(problems[0], /IST0161.*keys "tls.cert", "tls.key", not a certificate and key/);
    assert.match(problems[1], /IST0161.*"cert" is not a PEM certificate/);
    assert.match(problems[2], /IST0161.*certificate expired on/);
  });

  it('are not checked when the workspace holds no Secrets at all', () => {
    assert.deepEqual(findings({ '/gw.yaml': gateway('shop-cert') }, ...CODES), []);
  });
});
