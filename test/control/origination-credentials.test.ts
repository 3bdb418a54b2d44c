/**
 * The Secrets a gateway originates TLS with (DestinationRule
 * tls.credentialName), resolved as istiod's SDS resolves them for a proxy of
 * istio-system: the client certificate of `kubernetes://<name>`, the CA of
 * `kubernetes://<name>-cacert` (a `-cacert` Secret when there is one, else
 * the Secret's own ca.crt).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { credentialNames, originationCredentials } from '../../simulator/control/origination-credentials';
import type { TlsSecret } from '../../simulator/policy/gateway-api/secrets';
import type { DestinationRuleSpec } from '../../simulator/policy/model';

const tlsSecret = (cert: string, caPem?: string): TlsSecret => ({ certPem: cert, keyPem: `${cert}-KEY`, notAfter: '', dnsNames: [], ...(caPem ? { caPem } : {}) });
const rule = (credentialName: string, mode: 'SIMPLE' | 'MUTUAL' = 'MUTUAL') => ({ spec: { host: 'api.example.com', trafficPolicy: { tls: { mode, credentialName } } } as DestinationRuleSpec });

describe('origination credentials of the gateways', () => {
  it('collect every credentialName of a rule: top level, port level, subsets and their ports', () => {
    const spec: DestinationRuleSpec = {
      host: 'api.example.com',
      trafficPolicy: { tls: { credentialName: 'a' }, portLevelSettings: [{ port: { number: 443 }, tls: { credentialName: 'b' } }] },
      subsets: [{ name: 'v1', trafficPolicy: { tls: { credentialName: 'c' }, portLevelSettings: [{ port: { number: 8443 }, tls: { credentialName: 'd' } }] } }, { name: 'v2' }],
    };
    assert.deepEqual(credentialNames(spec), ['a', 'b', 'c', 'd']);
  });

  it('take the certificate and its ca.crt from the Secret of the gateway\'s namespace, not another namespace\'s', () => {
    const secrets = new Map([['istio-system/client', tlsSecret('CERT', 'CA')], ['default/other', tlsSecret('OTHER', 'CA')]]);
    const c = originationCredentials([rule('client'), rule('other')], secrets, 'istio-system');
    assert.deepEqual(c.client, { certPem: 'CERT', keyPem: 'CERT-KEY', caPem: 'CA', problems: [] });
    assert.deepEqual([c.other.certPem, c.other.caPem], [undefined, undefined]);
    assert.match(c.other.problems.join('\n'), /no Secret istio-system\/other \(istiod sends no kubernetes:\/\/other\)/);
  });

  it('prefer a <name>-cacert Secret for the CA, even one without a CA (istiod does not fall back then)', () => {
    const withCacert = originationCredentials([rule('client')], new Map([['istio-system/client', tlsSecret('CERT', 'OWN-CA')], ['istio-system/client-cacert', { problem: 'no certificate', caPem: 'SEPARATE-CA' }]]), 'istio-system');
    assert.equal(withCacert.client.caPem, 'SEPARATE-CA');
    const emptyCacert = originationCredentials([rule('client')], new Map([['istio-system/client', tlsSecret('CERT', 'OWN-CA')], ['istio-system/client-cacert', { problem: 'no certificate' }]]), 'istio-system');
    assert.equal(emptyCacert.client.caPem, undefined);
    assert.match(emptyCacert.client.problems[0], /Secret istio-system\/client-cacert has no "ca\.crt" \(or "cacert"\) key, and istiod reads the CA from it alone/);
  });

  it('say what a Secret without a certificate or without a CA lacks', () => {
    const c = originationCredentials([rule('bad'), rule('no-ca', 'SIMPLE')], new Map<string, TlsSecret>([['istio-system/bad', { problem: 'tls.key missing' }], ['istio-system/no-ca', tlsSecret('CERT')]]), 'istio-system');
    assert.match(c.bad.problems.join('\n'), /Secret istio-system\/bad holds no client certificate: tls\.key missing/);
    assert.equal(c['no-ca'].certPem, 'CERT');
    assert.match(c['no-ca'].problems.join('\n'), /no CA to verify the server: Secret istio-system\/no-ca has no "ca\.crt" \(or "cacert"\) key and there is no istio-system\/no-ca-cacert Secret/);
  });
});
