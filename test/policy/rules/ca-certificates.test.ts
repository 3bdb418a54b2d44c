import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { findings } from './helpers';

const dr = (trafficPolicy: string, extra = '') => `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: db }
spec:
  host: db.example.com
${extra}  trafficPolicy:
${trafficPolicy}`;

describe('TLS origination without caCertificates', () => {
  it('is reported at the destination level (IST0128) and per port (IST0129)', () => {
    const found = findings({ '/dr.yaml': dr(`    tls: { mode: MUTUAL, clientCertificate: /c.pem, privateKey: /k.pem }
    portLevelSettings:
      - port: { number: 443 }
        tls: { mode: SIMPLE }
`) }, 'no-ca-certificates');
    assert.deepEqual(found.map((f) => [f.line, f.text]), [[7, 'MUTUAL'], [10, 'SIMPLE']]);
    assert.match(found[0].message, /MUTUAL for db.example.com has no caCertificates.*IST0128/);
    assert.match(found[1].message, /SIMPLE on port 443.*IST0129/);
  });

  it('is not reported with caCertificates, for ISTIO_MUTUAL, or with a credentialName on a rule that selects workloads', () => {
    assert.deepEqual(findings({ '/dr.yaml': dr('    tls: { mode: SIMPLE, caCertificates: /ca.pem }\n') }, 'no-ca-certificates'), []);
    assert.deepEqual(findings({ '/dr.yaml': dr('    tls: { mode: ISTIO_MUTUAL }\n') }, 'no-ca-certificates'), []);
    assert.deepEqual(findings({ '/dr.yaml': dr('    tls: { mode: SIMPLE, credentialName: db-credential }\n', '  workloadSelector: { matchLabels: { app: db } }\n') }, 'no-ca-certificates'), []);
    assert.equal(findings({ '/dr.yaml': dr('    tls: { mode: SIMPLE, credentialName: db-credential }\n') }, 'no-ca-certificates').length, 1, 'a credentialName counts only with a workloadSelector');
  });
});
