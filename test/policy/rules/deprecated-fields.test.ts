import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { findings, mesh } from './helpers';

describe('deprecated VirtualService fields', () => {
  it('warn about fault.delay.percent and say what to write instead (IST0002), without calling it not simulated', () => {
    const vs = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: ratings }
spec:
  hosts: [ratings]
  http:
    - fault: { delay: { fixedDelay: 2s, percent: 50 } }
      route: [{ destination: { host: ratings } }]
`;
    const found = findings({ '/mesh.yaml': mesh({ ratings: [{ app: 'ratings' }] }), '/vs.yaml': vs }, 'deprecated', 'not-simulated');
    assert.deepEqual(found.map((f) => [f.code, f.text]), [['deprecated', 'percent']]);
    assert.match(found[0].message, /IST0002.*"percentage: \{ value: 50 \}"/);
  });
});
