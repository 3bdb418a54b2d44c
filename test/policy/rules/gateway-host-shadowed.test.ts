import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { findings } from './helpers';

const gateway = (hosts: string) => `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: edge }
spec:
  selector: { istio: ingressgateway }
  servers:
    - port: { number: 80, name: http, protocol: HTTP }
      hosts: ${hosts}
`;
const virtualService = (name: string, hosts: string) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: ${name} }
spec:
  hosts: ${hosts}
  gateways: [edge]
  http:
    - route: [{ destination: { host: web } }]
`;

describe('a wildcard VirtualService host a gateway no longer tries for an exact one (gateway-host-shadowed)', () => {
  it('is told on the wildcard host, with the name, the other VirtualService and the fix', () => {
    const found = findings({ '/p.yaml': [gateway('["*"]'), virtualService('wide', '["*.example.com"]'), virtualService('exact', '[a.example.com]')].join('---\n') }, 'gateway-host-shadowed');
    assert.equal(found.length, 1);
    assert.equal(found[0].line, 14);
    assert.match(found[0].message, /"a.example.com" \(VirtualService default\/exact, Gateway default\/edge\) is a virtual host of its own.*add "a.example.com" to this VirtualService's hosts/);
  });

  it('is not told when a server names the host itself, the wildcard one names it too, or the server does not serve it', () => {
    const none = (gw: string, wide: string) => findings({ '/p.yaml': [gateway(gw), virtualService('wide', wide), virtualService('exact', '[a.example.com]')].join('---\n') }, 'gateway-host-shadowed');
    assert.deepEqual(none('[a.example.com, "*.example.com"]', '["*.example.com"]'), []);
    assert.deepEqual(none('["*"]', '["*.example.com", a.example.com]'), []);
    assert.deepEqual(none('[b.example.com]', '["*.example.com"]'), []);
  });
});
