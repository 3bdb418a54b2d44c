/** Which Gateways bring devmesh's egress gateway, the Mesh `up` runs with it, and what validation knows of it. */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { selectsEgressGateway, withEgressGateway } from '../../simulator/policy/egress-gateway';
import type { MeshSpec, Resource } from '../../simulator/policy/model';
import { checkBeside, codes } from './fixtures';

const gateway = (selector?: Record<string, string>): Resource<'Gateway'> => ({
  apiVersion: 'networking.istio.io/v1', kind: 'Gateway', metadata: { name: 'egress' },
  spec: { ...(selector ? { selector } : {}), servers: [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['api.example.com'] }] },
});
const spec: MeshSpec = { services: [{ name: 'shop', port: 8000, workloads: [{ name: 'shop-v1', port: 9000 }] }] };

describe('the egress gateway', () => {
  it('is selected by a Gateway whose every selector label the egress gateway pods carry', () => {
    assert.equal(selectsEgressGateway(gateway({ istio: 'egressgateway' }).spec), true);
    assert.equal(selectsEgressGateway(gateway({ app: 'istio-egressgateway', istio: 'egressgateway' }).spec), true);
    assert.equal(selectsEgressGateway(gateway({ istio: 'ingressgateway' }).spec), false);
    assert.equal(selectsEgressGateway(gateway({ istio: 'egressgateway', team: 'payments' }).spec), false);
    assert.equal(selectsEgressGateway(gateway().spec), false, 'no selector picks no egress gateway');
  });

  it('joins the Mesh as istio-egressgateway in istio-system when a Gateway selects it, once', () => {
    assert.equal(withEgressGateway(spec, [gateway({ istio: 'ingressgateway' })]), spec);
    const withIt = withEgressGateway(spec, [gateway({ istio: 'egressgateway' }), gateway({ istio: 'egressgateway' })]);
    const added = withIt.services.filter((s) => s.name === 'istio-egressgateway');
    assert.equal(added.length, 1);
    assert.equal(added[0].namespace, 'istio-system');
    assert.deepEqual(added[0].ports!.map((p) => [p.port, p.targetPort]), [[80, 8080], [443, 8443]]);
    assert.deepEqual(added[0].workloads![0], { name: 'istio-egressgateway', labels: { istio: 'egressgateway', app: 'istio-egressgateway' }, serviceAccount: 'istio-egressgateway-service-account' });
    assert.equal(withEgressGateway(withIt, [gateway({ istio: 'egressgateway' })]), withIt, 'a Mesh that has it keeps its own');
  });

  it('is a destination validate knows only while a Gateway selects it', () => {
    const MESH = `apiVersion: devmesh.dev/v1alpha1
kind: Mesh
metadata: { name: shop }
spec:
  services:
    - name: shop
      port: 8000
      workloads: [{ name: shop-v1, port: 9000 }]
`;
    const route = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: via-egress }
spec:
  hosts: [shop]
  http:
    - route: [{ destination: { host: istio-egressgateway.istio-system.svc.cluster.local, port: { number: 80 } } }]
`;
    const egressGateway = `---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: istio-egressgateway }
spec:
  selector: { istio: egressgateway }
  servers: [{ port: { number: 80, name: http, protocol: HTTP }, hosts: [api.example.com] }]
`;
    assert.deepEqual(codes(checkBeside(MESH, route)), ['unknown-host@7']);
    assert.deepEqual(codes(checkBeside(MESH, route + egressGateway)), []);
  });
});
