import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { findings } from './helpers';

describe('deprecated Sidecar fields', () => {
  it('warn about outboundTrafficPolicy.egressProxy, which Istio ignores (IST0002)', () => {
    const sidecar = `apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: default, namespace: default }
spec:
  outboundTrafficPolicy:
    mode: ALLOW_ANY
    egressProxy: { host: example, port: { number: 9080 } }
`;
    const found = findings({ '/sidecar.yaml': sidecar }, 'deprecated');
    assert.deepEqual(found.map((f) => [f.line, f.text]), [[7, 'egressProxy']]);
    assert.match(found[0].message, /ignored by Istio \(IST0002\)/);
    assert.deepEqual(findings({ '/sidecar.yaml': sidecar.replace(/    egressProxy.*\n/, '') }, 'deprecated'), []);
  });
});
