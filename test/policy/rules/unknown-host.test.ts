import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { findings, mesh } from './helpers';

const MESH = mesh({ reviews: [{ app: 'reviews' }] });

const serviceEntry = (name: string, namespace: string, hosts: string[], extra = '') => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: ${name}, namespace: ${namespace} }
spec:
  hosts: ${JSON.stringify(hosts)}
${extra}`;

const routeTo = (name: string, destination: string) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: ${name} }
spec:
  hosts: [reviews]
  http:
    - route: [{ destination: ${destination} }]
`;

describe('destination hosts', () => {
  it('count a ServiceEntry host (exact or under its wildcard) as defined', () => {
    const files = {
      '/mesh.yaml': MESH,
      '/se.yaml': `${serviceEntry('payments', 'default', ['api.payments.example'])}---\n${serviceEntry('eu', 'default', ['*.eu.example.com'])}`,
      '/a.yaml': routeTo('a', '{ host: api.payments.example }'),
      '/b.yaml': routeTo('b', '{ host: shop.eu.example.com }').replace('hosts: [reviews]', 'hosts: [reviews.default.svc.cluster.local]'),
    };
    assert.deepEqual(findings(files, 'unknown-host').filter((f) => f.severity !== 'info'), []);
  });

  it('do not see a ServiceEntry of another namespace that is not exported to them', () => {
    const files = {
      '/mesh.yaml': MESH,
      '/se.yaml': serviceEntry('other', 'other', ['other.example.com'], '  exportTo: ["."]\n'),
      '/vs.yaml': routeTo('a', '{ host: other.example.com }'),
    };
    const [f] = findings(files, 'unknown-host');
    assert.match(f.message, /referenced host not found \(IST0101\): "other.example.com"/);
  });

  it('do not see a Kubernetes Service exported (networking.istio.io/exportTo) to none of the namespaces the VirtualService applies in', () => {
    const service = (exportTo: string) => `apiVersion: v1
kind: Service
metadata:
  name: reviews
  namespace: default
  annotations: { networking.istio.io/exportTo: "${exportTo}" }
spec:
  selector: { app: reviews }
  ports: [{ name: http, port: 8080 }]
`;
    const vs = routeTo('a', '{ host: reviews }');
    const [f, ...more] = findings({ '/mesh.yaml': MESH, '/svc.yaml': service('banana'), '/vs.yaml': vs }, 'unknown-host');
    assert.deepEqual(more, []);
    assert.equal(f.text, 'reviews');
    assert.match(f.message, /referenced host not found \(IST0101\): Service default\/reviews is exported .* only to banana, and this VirtualService applies in default/);
    const exported = vs.replace('spec:\n', 'spec:\n  exportTo: [banana]\n');
    assert.deepEqual(findings({ '/mesh.yaml': MESH, '/svc.yaml': service('banana'), '/vs.yaml': exported }, 'unknown-host'), [], 'exported to banana, the VirtualService applies where the Service is seen');
    assert.deepEqual(findings({ '/mesh.yaml': MESH, '/svc.yaml': service('.'), '/vs.yaml': vs }, 'unknown-host'), [], '"." is the Service\'s own namespace');
    assert.equal(findings({ '/mesh.yaml': MESH, '/svc.yaml': service('.'), '/vs.yaml': vs.replace('spec:\n', 'spec:\n  exportTo: [bogus]\n') }, 'unknown-host').length, 1,
      'a VirtualService exported only to bogus applies there, where the Service is not seen');
  });

  it('must name a port the ServiceEntry host has, and a port when it has several', () => {
    const se = serviceEntry('db', 'default', ['db.example.com'], '  ports:\n    - { number: 80, name: http, protocol: HTTP }\n    - { number: 443, name: https, protocol: HTTPS }\n');
    const wrong = findings({ '/mesh.yaml': MESH, '/se.yaml': se, '/vs.yaml': routeTo('a', '{ host: db.example.com, port: { number: 8080 } }') }, 'unknown-host');
    assert.deepEqual(wrong.map((f) => f.text), ['8080']);
    assert.match(wrong[0].message, /host:port not found \(IST0101\).*no port 8080; use 80, 443/);
    const none = findings({ '/mesh.yaml': MESH, '/se.yaml': se, '/vs.yaml': routeTo('a', '{ host: db.example.com }') }, 'unknown-host');
    assert.match(none[0].message, /several ports \(80, 443\).*IST0112/);
    assert.deepEqual(findings({ '/mesh.yaml': MESH, '/se.yaml': se, '/vs.yaml': routeTo('a', '{ host: db.example.com, port: { number: 443 } }') }, 'unknown-host'), []);
    const mine = findings({ '/mesh.yaml': MESH, '/vs.yaml': routeTo('a', '{ host: reviews, port: { number: 9999 } }') }, 'unknown-host', 'unknown-port');
    assert.deepEqual(mine.map((f) => f.code), ['unknown-port'], 'a Mesh service\'s ports are policy-ports\' to check');
  });

  it('note a host the sidecars route that is no service, without warning (Istio routes such names on port 80)', () => {
    const vs = routeTo('a', '{ host: reviews }').replace('hosts: [reviews]', 'hosts: [google.com]');
    const [f] = findings({ '/mesh.yaml': MESH, '/vs.yaml': vs }, 'unknown-host');
    assert.equal(f.severity, 'info');
    assert.match(f.message, /only to calls to that name \(Istio: on port 80\)/);
  });

  it('say that a DestinationRule for no service applies to nothing (IST0174)', () => {
    const dr = 'apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: { name: fake }\nspec:\n  host: fake.default.svc.cluster.local\n';
    const [f] = findings({ '/mesh.yaml': MESH, '/dr.yaml': dr }, 'unknown-host');
    assert.equal(f.severity, 'warning');
    assert.match(f.message, /applies to no service \(IST0174\)/);
  });
});
