import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { offsetToPosition, parseSource, rangeOf, Workspace } from '../../simulator/policy';

const LIST = `apiVersion: v1
kind: List
items:
  - apiVersion: networking.istio.io/v1
    kind: VirtualService
    metadata: { name: reviews }
    spec:
      hosts: [reviews]
      http:
        - timeot: 1s
          route:
            - destination: { host: reviews }
  - apiVersion: v1
    kind: Secret
    metadata: { name: cert, namespace: istio-system }
    type: kubernetes.io/tls
  - apiVersion: extensions.istio.io/v1alpha1
    kind: WasmPlugin
    metadata: { name: default }
    spec: {}
`;

describe('documents of a source file', () => {
  it('reads the Istio resources inside a kind: List as documents of their own', () => {
    const source = parseSource('/list.yaml', LIST);
    assert.deepEqual(source.documents.map((d) => [d.kind, d.name, d.index, d.item]), [['VirtualService', 'reviews', 0, 0]]);
    const name = rangeOf(source.documents[0], ['metadata', 'name']);
    assert.equal(LIST.slice(name.start, name.end), 'reviews');
  });

  it('validates a List item and reports its defects at their line inside the List', () => {
    const ws = new Workspace();
    ws.setFile('/list.yaml', LIST);
    const typo = ws.diagnostics().find((d) => d.code === 'unknown-field');
    assert.ok(typo, JSON.stringify(ws.diagnostics()));
    assert.equal(offsetToPosition(ws.getSource('/list.yaml')!.lineStarts, typo.range.start).line + 1, 10);
    assert.match(typo.message, /did you mean "timeout"/);
  });

  it('keeps Kubernetes objects and Istio kinds it does not simulate as reference documents', () => {
    const source = parseSource('/list.yaml', LIST);
    assert.deepEqual(source.references.map((d) => [d.kind, d.name, d.namespace]), [['Secret', 'cert', 'istio-system'], ['WasmPlugin', 'default', undefined]]);
    assert.ok(source.diagnostics.some((d) => d.code === 'not-simulated' && /WasmPlugin/.test(d.message)), 'the WasmPlugin is still said to be not simulated');
  });

  it('reads a file of Kubernetes objects that names no Istio group', () => {
    const text = 'apiVersion: v1\nkind: Namespace\nmetadata: { name: shop }\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: { name: web }\n';
    assert.deepEqual(parseSource('/k8s.yaml', text).references.map((d) => d.kind), ['Namespace', 'Deployment']);
    assert.deepEqual(parseSource('/ci.yaml', 'jobs:\n  build: { runs-on: ubuntu }\n').references, []);
  });
});
