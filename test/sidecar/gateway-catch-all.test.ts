/**
 * Pilot merges the routes of every VirtualService for one host of a
 * gateway into one virtual host, oldest VirtualService first, then moves
 * its catch-all routes to the end (gateway.go buildGatewayHTTPRouteConfig
 * -> route.SortVHostRoutes): an older VirtualService's "everything else"
 * rule does not shadow a newer one's more specific rule. A catch-all is a
 * route whose path is prefix `/` or regex `.*` (or no uri) with no header,
 * query or claim condition (route.IsCatchAllRoute; method, authority and
 * scheme are header conditions there). Inside one VirtualService the rules
 * after its first catch-all are dropped (BuildHTTPRoutesForVirtualService),
 * so they do not come back ahead of it. Real ingress, real requests.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { MeshSpec, Resource } from '../../simulator/policy/model';
import { gw, startMeshFromSpec, vs, type TestMesh } from './fixtures';

const SPEC: MeshSpec = {
  services: ['old', 'new', 'late'].map((name) => ({ name, port: 80, workloads: [{ name: `${name}-v1`, port: 1 }] })),
};

const created = (v: Resource<'VirtualService'>, at: string): Resource<'VirtualService'> => ({ ...v, metadata: { ...v.metadata, creationTimestamp: at } });
const OLDER = '2026-01-01T00:00:00Z';
const NEWER = '2026-02-01T00:00:00Z';
const to = (host: string) => [{ destination: { host } }];

describe('at a gateway, catch-all routes go after every other route of the host', () => {
  let mesh: TestMesh;
  const hosts = ['none.example.com', 'prefix.example.com', 'regex.example.com', 'method.example.com', 'cut.example.com'];

  before(async () => {
    const edge = gw('edge', { selector: { istio: 'ingressgateway' }, servers: [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['*.example.com'] }] });
    const older = (name: string, host: string, http: NonNullable<NonNullable<Resource<'VirtualService'>['spec']>['http']>) => created(vs(name, { hosts: [host], gateways: ['edge'], http }), OLDER);
    mesh = await startMeshFromSpec(SPEC, {
      gateways: [edge],
      virtualServices: [
        older('older-none', 'none.example.com', [{ route: to('old') }]),
        older('older-prefix', 'prefix.example.com', [{ match: [{ uri: { prefix: '/' } }], route: to('old') }]),
        older('older-regex', 'regex.example.com', [{ match: [{ uri: { regex: '.*' } }], route: to('old') }]),
        // A method is a header condition (:method) in Envoy's route: not a catch-all, it keeps its place.
        older('older-method', 'method.example.com', [{ match: [{ uri: { prefix: '/' }, method: { exact: 'GET' } }], route: to('old') }]),
        // A rule after the catch-all is dropped: it must not come back ahead of it.
        older('older-cut', 'cut.example.com', [{ match: [{ uri: { prefix: '/' } }], route: to('old') }, { match: [{ uri: { prefix: '/late' } }], route: to('late') }]),
        created(vs('newer', { hosts, gateways: ['edge'], http: [{ match: [{ uri: { prefix: '/api' } }], route: to('new') }] }), NEWER),
      ],
    });
  });
  after(() => mesh?.close());

  const at = async (host: string, url: string) => {
    const r = await mesh.request('ingress', { url, host });
    assert.equal(r.status, 200, r.text);
    return r.json().workload as string;
  };

  test('an older rule without match does not shadow a newer rule', async () => {
    assert.equal(await at('none.example.com', '/api/items'), 'new-v1');
    assert.equal(await at('none.example.com', '/other'), 'old-v1');
  });

  test('an older uri prefix "/" does not shadow a newer rule', async () => {
    assert.equal(await at('prefix.example.com', '/api/items'), 'new-v1');
    assert.equal(await at('prefix.example.com', '/other'), 'old-v1');
  });

  test('an older uri regex ".*" does not shadow a newer rule', async () => {
    assert.equal(await at('regex.example.com', '/api/items'), 'new-v1');
    assert.equal(await at('regex.example.com', '/other'), 'old-v1');
  });

  test('prefix "/" with a method condition is no catch-all: the older rule keeps its place', async () => {
    assert.equal(await at('method.example.com', '/api/items'), 'old-v1');
  });

  test('the rules after a VirtualService\'s catch-all stay unused', async () => {
    assert.equal(await at('cut.example.com', '/late'), 'old-v1');
    assert.equal(await at('cut.example.com', '/api/items'), 'new-v1');
  });
});
