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
  it('report a MUTUAL server whose client CA resolves to none as the ingress resolves it (istiod\'s GetCaCert): a -cacert Secret without a CA is read alone; a caCertCredentialName not ending in -cacert is no CA', () => {
    const mutual = (extra = '') => gateway('shop-cert').replace('mode: SIMPLE, credentialName: shop-cert', `mode: MUTUAL, credentialName: shop-cert${extra}`);
    const own = { '/s.yaml': secret('shop-cert', 'kubernetes.io/tls', { ...tls(valid), 'ca.crt': b64(valid.certPem) }) };
    const noCa = ['mutual-credential-no-ca'];
    assert.deepEqual(findings({ '/gw.yaml': mutual(), ...own }, ...noCa), [], 'the credential\'s own ca.crt');
    const shadowed = findings({ '/gw.yaml': mutual(), ...own, '/c.yaml': secret('shop-cert-cacert', 'Opaque', { note: b64('no CA') }) }, ...noCa);
    assert.equal(shadowed.length, 1);
    assert.match(shadowed[0].message, /MUTUAL has no CA to verify client certificates: Secret istio-system\/shop-cert-cacert has no "ca\.crt" \(or "cacert"\) key, and istiod reads the CA from it alone/);
    assert.match(findings({ '/gw.yaml': mutual(), '/s.yaml': secret('shop-cert', 'kubernetes.io/tls', tls(valid)) }, ...noCa)[0].message, /no istio-system\/shop-cert-cacert Secret/);
    assert.match(findings({ '/gw.yaml': mutual(', caCertCredentialName: client-ca'), ...own }, ...noCa)[0].message, /caCertCredentialName "client-ca" does not end in "-cacert"/);
    assert.deepEqual(findings({ '/gw.yaml': mutual(', caCertCredentialName: client-ca-cacert'), ...own, '/c.yaml': secret('client-ca-cacert', 'Opaque', { 'ca.crt': b64(valid.certPem) }) }, ...noCa), []);
  });
});
