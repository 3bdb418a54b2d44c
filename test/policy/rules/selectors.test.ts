import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { findings, mesh } from './helpers';

const MESH = mesh({ httpbin: [{ app: 'httpbin', version: 'v1' }] }, 'httpbin');
const policy = (name: string, namespace: string, selector?: string) => `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: ${name}, namespace: ${namespace} }
spec:
${selector ? `  selector: { matchLabels: ${selector} }\n` : ''}  rules: [{}]
`;

describe('policies that apply to no workload (IST0127)', () => {
  it('a selector in the root namespace is matched against the whole mesh', () => {
    assert.deepEqual(findings({ '/mesh.yaml': MESH, '/ap.yaml': policy('meshwide', 'istio-system', '{ app: httpbin }') }, 'no-matching-workloads'), []);
    const [f] = findings({ '/mesh.yaml': MESH, '/ap.yaml': policy('meshwide', 'istio-system', '{ version: bogus }') }, 'no-matching-workloads');
    assert.match(f.message, /version=bogus anywhere in the mesh \(it is in the root namespace "istio-system"\)/);
  });

  it('a selector in another namespace sees only that namespace\'s workloads; Istio\'s ingress gateway counts in istio-system', () => {
    assert.equal(findings({ '/mesh.yaml': MESH, '/ap.yaml': policy('other', 'default', '{ app: httpbin }') }, 'no-matching-workloads').length, 1);
    const mesh2 = MESH.replace('  namespace: httpbin', '  namespace: httpbin\n  rootNamespace: mesh-root');
    assert.deepEqual(findings({ '/mesh.yaml': mesh2, '/ap.yaml': policy('edge', 'istio-system', '{ istio: ingressgateway }') }, 'no-matching-workloads'), []);
  });

  it('an AuthorizationPolicy for a whole namespace without workloads applies to nothing', () => {
    const [f] = findings({ '/mesh.yaml': MESH, '/ap.yaml': policy('empty', 'httpbin-empty') }, 'no-matching-workloads');
    assert.match(f.message, /every workload of namespace "httpbin-empty", and it has none \(IST0127\)/);
    assert.deepEqual(findings({ '/mesh.yaml': MESH, '/ap.yaml': `${policy('ns', 'httpbin')}---\n${policy('root', 'istio-system')}` }, 'no-matching-workloads'), []);
  });
});
