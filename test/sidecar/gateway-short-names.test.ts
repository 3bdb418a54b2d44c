/**
 * A gateway's virtual hosts carry the names as pilot resolves them and
 * nothing more (gateway.go buildGatewayHTTPRouteConfig: the intersection of
 * the server's hosts and the VirtualService's, whose short hosts
 * ResolveVirtualServiceShortnames made FQDNs); the short forms a sidecar's
 * virtual host also lists (`reviews`, `reviews.default`: httproute.go
 * generateVirtualHostDomains) are sidecar-only. So at the ingress `Host:
 * reviews` is 404 NR unless a `*` virtual host takes it. Real ingress.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { MeshSpec } from '../../simulator/policy/model';
import { gw, startMeshFromSpec, vs, type TestMesh } from './fixtures';

const SPEC: MeshSpec = { services: ['reviews', 'ratings', 'other'].map((name) => ({ name, port: 80, workloads: [{ name: `${name}-v1`, port: 1 }] })) };
const to = (host: string) => [{ route: [{ destination: { host } }] }];

describe('the ingress serves a VirtualService\'s short host by its FQDN only', () => {
  let mesh: TestMesh;

  before(async () => {
    mesh = await startMeshFromSpec(SPEC, {
      gateways: [
        gw('edge', { selector: { istio: 'ingressgateway' }, servers: [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['*'] }] }),
        gw('narrow', { selector: { istio: 'ingressgateway' }, servers: [{ port: { number: 8080, name: 'http', protocol: 'HTTP' }, hosts: ['ratings.default.svc.cluster.local'] }] }),
      ],
      virtualServices: [
        vs('reviews', { hosts: ['reviews'], gateways: ['edge'], http: to('reviews') }),
        vs('ratings', { hosts: ['ratings'], gateways: ['narrow'], http: to('ratings') }),
      ],
    });
  });
  after(() => mesh?.close());

  const at = (host: string) => mesh.request('ingress', { url: '/', host });

  test('the FQDN is served; "reviews" and "reviews.default" are no virtual host of the gateway (404 NR)', async () => {
    const fqdn = await at('reviews.default.svc.cluster.local');
    assert.equal(fqdn.status, 200, fqdn.text);
    assert.equal(fqdn.json().workload, 'reviews-v1');
    for (const short of ['reviews', 'reviews.default', 'reviews.default.svc']) {
      const r = await at(short);
      assert.equal(r.status, 404, `${short}: ${r.text}`);
    }
  });

  test('a server host written as the FQDN takes that name only', async () => {
    assert.equal((await at('ratings.default.svc.cluster.local:8080')).status, 200);
    assert.equal((await at('ratings:8080')).status, 404);
  });
});
