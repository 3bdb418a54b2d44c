import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { namespaceMatches } from '../../../simulator/policy/rules/authz-namespaces';
import { findings, mesh } from './helpers';

const NAMESPACES = ['prod-httpbin', 'httpbin-test'].map((n) => `apiVersion: v1\nkind: Namespace\nmetadata: { name: ${n} }\n`).join('---\n');

describe('AuthorizationPolicy source namespaces', () => {
  it('must name a namespace that exists, exactly or by pattern (IST0101)', () => {
    const ap = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: from, namespace: httpbin }
spec:
  rules:
    - from:
        - source: { namespaces: ["prod-*", "*-test", "*-bogus", "*", httpbin] }
        - source: { notNamespaces: ["bogus-*"] }
`;
    const found = findings({ '/mesh.yaml': mesh({ httpbin: [{ app: 'httpbin' }] }, 'httpbin'), '/ns.yaml': NAMESPACES, '/ap.yaml': ap }, 'unknown-namespace');
    assert.deepEqual(found.map((f) => f.text), ['"*-bogus"', '"bogus-*"']);
    assert.match(found[0].message, /not found \(IST0101\): "\*-bogus" matches none of .*"prod-httpbin"/);
    assert.match(found[1].message, /excludes nothing/);
  });

  it('patterns are Istio\'s: exact, prefix*, *suffix and *', () => {
    assert.ok(namespaceMatches('prod-*', 'prod-a'));
    assert.ok(namespaceMatches('*-test', 'a-test'));
    assert.ok(namespaceMatches('*', 'x'));
    assert.ok(!namespaceMatches('prod', 'prod-a'));
  });
});
