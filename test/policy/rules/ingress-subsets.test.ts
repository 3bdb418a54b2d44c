import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { findings, mesh } from './helpers';

const MESH = mesh({ ratings: [{ app: 'ratings', version: 'v1' }, { app: 'ratings', version: 'v2' }] });
const FILES = {
  '/mesh.yaml': MESH,
  '/dr.yaml': 'apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: { name: ratings }\nspec:\n  host: ratings\n  subsets: [{ name: v1, labels: { version: v1 } }]\n',
  '/mesh-vs.yaml': 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: { name: ratings }\nspec:\n  hosts: [ratings]\n  http:\n    - route: [{ destination: { host: ratings, subset: v1 } }]\n',
  '/gw.yaml': 'apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: { name: edge }\nspec:\n  selector: { istio: ingressgateway }\n  servers: [{ port: { number: 80, name: http, protocol: HTTP }, hosts: ["*"] }]\n',
};
const edge = (destination: string) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: edge }
spec:
  hosts: [shop.example.com]
  gateways: [edge]
  http:
    - route: [{ destination: ${destination} }]
`;

describe('gateway routes and the sidecars\' subsets', () => {
  it('warn when the gateway sends to a host without a subset that the sidecars split into subsets (IST0140)', () => {
    const [f] = findings({ ...FILES, '/edge.yaml': edge('{ host: ratings.default.svc.cluster.local }') }, 'ingress-subset');
    assert.match(f.message, /reaches every version of it: VirtualService default\/ratings routes ratings.default.svc.cluster.local to subsets \(v1\) only at the sidecars \(IST0140\)/);
  });

  it('say nothing when the gateway names the subset, or when the subsets hold every workload of the host', () => {
    assert.deepEqual(findings({ ...FILES, '/edge.yaml': edge('{ host: ratings, subset: v1 }') }, 'ingress-subset'), []);
    const onlyV1 = { ...FILES, '/mesh.yaml': mesh({ ratings: [{ app: 'ratings', version: 'v1' }] }) };
    assert.deepEqual(findings({ ...onlyV1, '/edge.yaml': edge('{ host: ratings }') }, 'ingress-subset'), []);
  });
});
