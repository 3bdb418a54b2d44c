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
const vs = (gateways: string) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: api }
spec:
  hosts: [api.example.com]
  gateways: ${gateways}
  http:
    - match: [{ headers: { "@request.auth.claims.group": { exact: admin } } }]
      route: [{ destination: { host: api.default.svc.cluster.local } }]
    - route: [{ destination: { host: api.default.svc.cluster.local } }]
`;
const AUTHN = (namespace: string, selector = '') => `apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: { name: jwt, namespace: ${namespace} }
spec:
${selector}  jwtRules: [{ issuer: https://issuer.example.com }]
`;

describe('routing on JWT claims', () => {
  it('at a gateway no RequestAuthentication covers is IST0149', () => {
    const [f] = findings({ '/mesh.yaml': MESH, '/gw.yaml': GATEWAY, '/vs.yaml': vs('[edge]') }, 'jwt-claim-route');
    assert.equal(f.text, 'edge');
    assert.match(f.message, /JWT claim "@request.auth.claims.group" at gateway edge, but no RequestAuthentication applies to Istio's ingress gateway .*IST0149/);
  });

  it('is fine with a RequestAuthentication in the root namespace or the gateway\'s, selecting it', () => {
    assert.deepEqual(findings({ '/mesh.yaml': MESH, '/gw.yaml': GATEWAY, '/vs.yaml': vs('[edge]'), '/ra.yaml': AUTHN('istio-system') }, 'jwt-claim-route'), []);
    assert.deepEqual(findings({ '/mesh.yaml': MESH, '/gw.yaml': GATEWAY, '/vs.yaml': vs('[edge]'), '/ra.yaml': AUTHN('istio-system', '  selector: { matchLabels: { istio: ingressgateway } }\n') }, 'jwt-claim-route'), []);
    assert.equal(findings({ '/mesh.yaml': MESH, '/gw.yaml': GATEWAY, '/vs.yaml': vs('[edge]'), '/ra.yaml': AUTHN('default') }, 'jwt-claim-route').length, 1, 'a RequestAuthentication in another namespace does not cover the gateway');
  });

  it('at the sidecars is an error: Istio supports it only at gateways (IST0106)', () => {
    const [f] = findings({ '/mesh.yaml': MESH, '/gw.yaml': GATEWAY, '/vs.yaml': vs('[mesh, edge]') }, 'bad-value');
    assert.match(f.message, /works only at gateways.*IST0106/);
  });
});
