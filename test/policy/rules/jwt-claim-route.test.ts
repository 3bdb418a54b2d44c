import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { findings, mesh } from './helpers';

const MESH = mesh({ api: [{ app: 'api' }] });
const GATEWAY = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: edge }
spec:
  selector: { istio: ingressgateway }
  servers:
    - port: { number: 80, name: http, protocol: HTTP }
      hosts: [api.example.com]
`;
const vs = (gateways: string, match = '{ headers: { "@request.auth.claims.group": { exact: admin } } }') => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: api }
spec:
  hosts: [api.example.com]
  gateways: ${gateways}
  http:
    - match: [${match}]
      route: [{ destination: { host: api.default.svc.cluster.local } }]
    - route: [{ destination: { host: api.default.svc.cluster.local } }]
`;
const AUTHN = (namespace: string, spec = '') => `apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: { name: jwt, namespace: ${namespace} }
spec:
${spec}  jwtRules: [{ issuer: https://issuer.example.com, jwksUri: https://issuer.example.com/jwks.json }]
`;
const CODES = ['jwt-claim-route', 'jwt-claim-route-without-authn'];

describe('routing on JWT claims', () => {
  it('at a gateway no RequestAuthentication covers is IST0149, on the claim\'s key', () => {
    const [f, ...more] = findings({ '/mesh.yaml': MESH, '/gw.yaml': GATEWAY, '/vs.yaml': vs('[edge]') }, ...CODES);
    assert.deepEqual(more, []);
    assert.equal(f.code, 'jwt-claim-route-without-authn');
    assert.equal(f.severity, 'warning');
    assert.equal(f.text, '"@request.auth.claims.group"');
    assert.match(f.message, /JWT claim based routing \(key: @request.auth.claims.group\) but found no request authentication for the gateway edge's Istio's ingress gateway.*IST0149/);
  });

  it('finds claims in withoutHeaders and in the bracket form too', () => {
    const [f] = findings({ '/mesh.yaml': MESH, '/gw.yaml': GATEWAY, '/vs.yaml': vs('[edge]', '{ withoutHeaders: { "@request.auth.claims[group]": { exact: admin } } }') }, ...CODES);
    assert.equal(f?.code, 'jwt-claim-route-without-authn');
    assert.equal(f.text, '"@request.auth.claims[group]"');
  });

  it('is fine with a RequestAuthentication in the root namespace or the gateway\'s, selecting it', () => {
    const files = { '/mesh.yaml': MESH, '/gw.yaml': GATEWAY, '/vs.yaml': vs('[edge]') };
    assert.deepEqual(findings({ ...files, '/ra.yaml': AUTHN('istio-system') }, ...CODES), []);
    assert.deepEqual(findings({ ...files, '/ra.yaml': AUTHN('istio-system', '  selector: { matchLabels: { istio: ingressgateway } }\n') }, ...CODES), []);
  });

  it('is not covered by a RequestAuthentication in another namespace, selecting other labels, or attached by targetRef', () => {
    const files = { '/mesh.yaml': MESH, '/gw.yaml': GATEWAY, '/vs.yaml': vs('[edge]') };
    assert.equal(findings({ ...files, '/ra.yaml': AUTHN('default') }, ...CODES).length, 1);
    assert.equal(findings({ ...files, '/ra.yaml': AUTHN('istio-system', '  selector: { matchLabels: { app: api } }\n') }, ...CODES).length, 1);
    assert.equal(findings({ ...files, '/ra.yaml': AUTHN('istio-system', '  targetRef: { kind: Gateway, group: gateway.networking.k8s.io, name: edge }\n') }, ...CODES).length, 1);
  });

  it('at the sidecars is an error: Istio supports it only at gateways (IST0106)', () => {
    for (const gateways of ['[mesh, edge]', '[]']) {
      const [f, ...more] = findings({ '/mesh.yaml': MESH, '/gw.yaml': GATEWAY, '/vs.yaml': vs(gateways) }, ...CODES);
      assert.deepEqual(more, [], gateways);
      assert.equal(f.code, 'jwt-claim-route');
      assert.equal(f.severity, 'error');
      assert.match(f.message, /only supported for gateway.*IST0106/);
    }
  });
});
