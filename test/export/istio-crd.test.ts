import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { VirtualService } from '@kubernetes-models/istio/networking.istio.io/v1beta1';
import { Workspace } from '../../simulator/policy';

/**
 * Why export checks Istio resources with devmesh's validator and not with the
 * schemas generated from Istio's CRDs: those accept all of these, and Istio
 * would then reject or misread them at run time.
 */
const MESH = `apiVersion: devmesh.dev/v1alpha1
kind: Mesh
metadata: { name: m }
spec:
  services:
    - name: reviews
      port: 9080
      workloads: [{ name: reviews-v1, port: 9182, labels: { app: reviews, version: v1 } }]
`;

const CASES: { what: string; http: Record<string, unknown>; code: string }[] = [
  { what: 'a misspelled field', http: { route: [{ destination: { host: 'reviews' } }], timout: '1s' }, code: 'unknown-field' },
  { what: 'timeout: 10 seconds', http: { route: [{ destination: { host: 'reviews' } }], timeout: '10 seconds' }, code: 'bad-duration' },
  { what: 'abort httpStatus: 99', http: { route: [{ destination: { host: 'reviews' } }], fault: { abort: { httpStatus: 99, percentage: { value: 10 } } } }, code: 'bad-value' },
  { what: 'percentage.value: 150', http: { route: [{ destination: { host: 'reviews' } }], fault: { abort: { httpStatus: 503, percentage: { value: 150 } } } }, code: 'bad-value' },
];

function virtualService(http: Record<string, unknown>) {
  return { apiVersion: 'networking.istio.io/v1beta1', kind: 'VirtualService', metadata: { name: 'reviews' }, spec: { hosts: ['reviews'], http: [http] } };
}

describe('Istio resources that the CRD schemas accept and devmesh rejects', () => {
  for (const c of CASES) {
    it(`the CRD schema accepts ${c.what}; devmesh reports ${c.code}`, () => {
      const vs = virtualService(c.http);
      assert.doesNotThrow(() => new VirtualService(vs as any).validate());
      const ws = new Workspace();
      ws.setFile('mesh.yaml', MESH);
      ws.setFile('vs.yaml', JSON.stringify(vs));
      const errors = ws.diagnostics().filter((d) => d.severity === 'error');
      assert.ok(errors.some((d) => d.code === c.code), `expected ${c.code}, got ${JSON.stringify(errors.map((d) => `${d.code}: ${d.message}`))}`);
    });
  }

  it('both accept the same VirtualService written correctly', () => {
    const vs = virtualService({ route: [{ destination: { host: 'reviews' } }], timeout: '10s', fault: { abort: { httpStatus: 503, percentage: { value: 50 } } } });
    assert.doesNotThrow(() => new VirtualService(vs as any).validate());
    const ws = new Workspace();
    ws.setFile('mesh.yaml', MESH);
    ws.setFile('vs.yaml', JSON.stringify(vs));
    assert.deepEqual(ws.diagnostics().filter((d) => d.severity === 'error'), []);
  });
});
