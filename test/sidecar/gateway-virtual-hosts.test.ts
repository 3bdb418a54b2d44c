/**
 * A gateway's HTTP routes are one virtual host per name the server's hosts
 * and a VirtualService's hosts share (pilot gateway.go
 * buildGatewayHTTPRouteConfig, host.Names.Intersection), and Envoy serves a
 * request from the one virtual host that fits its Host most closely: an
 * exact name, else the longest `*.suffix`, else `*`. When none of that
 * host's routes matches, the answer is 404 NR — a wider host's routes are
 * never tried. Real ingress, real requests.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { MeshSpec, Resource } from '../../simulator/policy/model';
import { gw, startMeshFromSpec, vs, type TestMesh } from './fixtures';

const SPEC: MeshSpec = {
  services: ['wide', 'exact', 'deep', 'any'].map((name) => ({ name, port: 80, workloads: [{ name: `${name}-v1`, port: 1 }] })),
};

const created = (v: Resource<'VirtualService'>, at: string): Resource<'VirtualService'> => ({ ...v, metadata: { ...v.metadata, creationTimestamp: at } });
const to = (host: string) => [{ destination: { host } }];

describe('a gateway serves each Host from its most specific virtual host only', () => {
  let mesh: TestMesh;

  before(async () => {
    const edge = gw('edge', { selector: { istio: 'ingressgateway' }, servers: [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['*'] }] });
    mesh = await startMeshFromSpec(SPEC, {
      gateways: [edge],
      virtualServices: [
        created(vs('any', { hosts: ['*'], gateways: ['edge'], http: [{ match: [{ uri: { prefix: '/any' } }], route: to('any') }] }), '2025-12-01T00:00:00Z'),
        created(vs('wide', { hosts: ['*.example.com'], gateways: ['edge'], http: [{ match: [{ uri: { prefix: '/shared' } }], route: to('wide') }, { route: to('wide') }] }), '2026-01-01T00:00:00Z'),
        created(vs('exact', { hosts: ['a.example.com'], gateways: ['edge'], http: [{ match: [{ uri: { prefix: '/mine' } }], route: to('exact') }] }), '2026-02-01T00:00:00Z'),
        created(vs('deep', { hosts: ['*.b.example.com'], gateways: ['edge'], http: [{ match: [{ uri: { prefix: '/deep' } }], route: to('deep') }] }), '2026-03-01T00:00:00Z'),
      ],
    });
  });
  after(() => mesh?.close());

  const at = (host: string, url: string) => mesh.request('ingress', { url, host });
  const workload = async (host: string, url: string) => {
    const r = await at(host, url);
    assert.equal(r.status, 200, r.text);
    return r.json().workload as string;
  };

  test('an exact host takes only its own VirtualService\'s routes', async () => {
    assert.equal(await workload('a.example.com', '/mine'), 'exact-v1');
    const shared = await at('a.example.com', '/shared');
    assert.equal(shared.status, 404, 'the older *.example.com VirtualService\'s /shared is another virtual host');
    assert.equal((await at('a.example.com', '/other')).status, 404, 'nor does its catch-all apply');
  });

  test('the longest wildcard suffix wins over a shorter one and over "*"', async () => {
    assert.equal(await workload('x.b.example.com', '/deep'), 'deep-v1');
    assert.equal((await at('x.b.example.com', '/shared')).status, 404);
    assert.equal((await at('x.example.com', '/any')).status, 200);
    assert.equal(await workload('x.example.com', '/any'), 'wide-v1', '*.example.com\'s catch-all; "*" is another virtual host');
  });

  test('a host only "*" covers gets the "*" VirtualService\'s routes', async () => {
    assert.equal(await workload('other.test', '/any'), 'any-v1');
    assert.equal((await at('other.test', '/shared')).status, 404);
  });
});
