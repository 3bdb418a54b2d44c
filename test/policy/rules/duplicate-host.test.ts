import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { findings, mesh } from './helpers';

const MESH = mesh({ shop: [{ app: 'shop' }], ratings: [{ app: 'ratings' }] });

const vs = (name: string, namespace: string, hosts: string[], extra = '') => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: ${name}, namespace: ${namespace} }
spec:
  hosts: ${JSON.stringify(hosts)}
${extra}  http:
    - route: [{ destination: { host: ratings.default.svc.cluster.local } }]
`;

const GATEWAY = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: shop-gateway, namespace: default }
spec:
  selector: { istio: ingressgateway }
  servers:
    - port: { number: 80, name: http, protocol: HTTP }
      hosts: [shop.example.com]
`;

describe('two VirtualServices for one host (IST0109)', () => {
  it('are compared across namespaces in one file, and each of them is told', () => {
    const file = `${vs('ratings', 'foo', ['ratings'])}---\n${vs('ratings', 'bar', ['ratings.foo.svc.cluster.local'])}`;
    const found = findings({ '/mesh.yaml': MESH, '/vs.yaml': file }, 'duplicate-host');
    assert.deepEqual(found.map((f) => [f.line, f.text]), [[5, '"ratings"'], [13, '"ratings.foo.svc.cluster.local"']]);
    assert.match(found[0].message, /VirtualService bar\/ratings .* also routes host "ratings" for the sidecars \(IST0109\)/);
  });

  it('do not conflict when bound to a gateway, where Istio merges their routes', () => {
    const gw = (name: string, gateway: string, prefix: string) => vs(name, 'default', ['shop.example.com'], `  gateways: [${gateway}]\n`)
      .replace('    - route', `    - match: [{ uri: { prefix: ${prefix} } }]\n      route`);
    const files = { '/mesh.yaml': MESH, '/gw.yaml': GATEWAY, '/a.yaml': gw('ratings', 'shop-gateway', '/ratings'), '/b.yaml': gw('reviews', 'default/shop-gateway', '/reviews') };
    assert.deepEqual(findings(files, 'duplicate-host', 'unknown-gateway', 'route-to-gateway-host'), []);
  });

  it('honour exportTo: hosts kept to their own namespaces do not meet', () => {
    const own = (namespace: string) => vs('ratings', namespace, ['ratings.team1.svc.cluster.local'], '  exportTo: ["."]\n');
    assert.deepEqual(findings({ '/mesh.yaml': MESH, '/vs.yaml': `${own('team1')}---\n${own('team2')}` }, 'duplicate-host'), []);
  });

  it('compare a host exported to some namespaces with an overlapping one exported everywhere', () => {
    const scoped = vs('d', 'foo', ['*.productpage.d'], '  exportTo: ["."]\n');
    const everywhere = vs('d', 'bar', ['*.d'], '  exportTo: ["*"]\n');
    assert.deepEqual(findings({ '/mesh.yaml': MESH, '/vs.yaml': `${scoped}---\n${everywhere}` }, 'duplicate-host').map((f) => f.text), ['"*.productpage.d"', '"*.d"']);
    const apart = vs('d', 'bar', ['*.d'], '  exportTo: ["bar"]\n');
    assert.deepEqual(findings({ '/mesh.yaml': MESH, '/vs.yaml': `${scoped}---\n${apart}` }, 'duplicate-host'), []);
  });
});
