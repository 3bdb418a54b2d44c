import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { findings, mesh } from './helpers';

const MESH = mesh({ reviews: [{ app: 'reviews', version: 'v1' }], ratings: [{ app: 'ratings' }] });

const ROOT = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: root }
spec:
  hosts: [reviews]
  http:
    - match: [{ uri: { prefix: /ratings } }]
      delegate: { name: ratings-routes }
    - route: [{ destination: { host: reviews } }]
`;

const DELEGATE = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: ratings-routes }
spec:
  http:
    - match: [{ uri: { prefix: /ratings/v2 } }]
      route: [{ destination: { host: ratings } }]
`;

describe('delegate VirtualServices', () => {
  it('accepts a VirtualService without hosts that another one delegates to, with no finding at all', () => {
    assert.deepEqual(findings({ '/mesh.yaml': MESH, '/root.yaml': ROOT, '/delegate.yaml': DELEGATE },
      'missing-field', 'unknown-delegate', 'unused-delegate', 'unknown-host', 'not-simulated', 'bad-value'), []);
  });

  it('says that a delegate no VirtualService names applies nowhere', () => {
    const [f] = findings({ '/mesh.yaml': MESH, '/delegate.yaml': DELEGATE }, 'unused-delegate');
    assert.equal(f.severity, 'info');
    assert.match(f.message, /no hosts.*none does/);
  });

  it('reports a delegate that does not exist, has hosts or is not exported to the root', () => {
    const missing = findings({ '/mesh.yaml': MESH, '/root.yaml': ROOT }, 'unknown-delegate');
    assert.deepEqual(missing.map((f) => [f.line, f.text]), [[8, 'ratings-routes']]);
    assert.match(missing[0].message, /not found \(IST0101\): "default\/ratings-routes"/);
    const withHosts = DELEGATE.replace('spec:\n', 'spec:\n  hosts: [ratings]\n');
    assert.match(findings({ '/mesh.yaml': MESH, '/root.yaml': ROOT, '/delegate.yaml': withHosts }, 'unknown-delegate')[0].message, /has hosts, so it is not a delegate/);
    const hidden = DELEGATE.replace('metadata: { name: ratings-routes }', 'metadata: { name: ratings-routes, namespace: team }').replace('spec:\n', 'spec:\n  exportTo: ["."]\n');
    const root = ROOT.replace('{ name: ratings-routes }', '{ name: ratings-routes, namespace: team }');
    assert.match(findings({ '/mesh.yaml': MESH, '/root.yaml': root, '/delegate.yaml': hidden }, 'unknown-delegate')[0].message, /not exported to namespace "default"/);
  });

  it('refuses gateways and tcp rules in a delegate, and a delegate that delegates again', () => {
    const bad = DELEGATE.replace('spec:\n', 'spec:\n  gateways: [mesh]\n') + '    - delegate: { name: other }\n';
    const found = findings({ '/mesh.yaml': MESH, '/root.yaml': ROOT, '/delegate.yaml': bad }, 'bad-value');
    assert.deepEqual(found.map((f) => f.text), ['gateways', 'delegate']);
  });

  it('reports an http rule that neither routes, redirects, answers nor delegates (IST0106)', () => {
    const vs = ROOT.replace('    - route: [{ destination: { host: reviews } }]\n', '    - fault: { abort: { httpStatus: 500, percentage: { value: 1 } } }\n');
    const [f] = findings({ '/mesh.yaml': MESH, '/root.yaml': vs, '/delegate.yaml': DELEGATE }, 'bad-value');
    assert.match(f.message, /http rule 1 does nothing.*IST0106/);
  });
});
