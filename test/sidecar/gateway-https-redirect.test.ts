/**
 * `tls.httpsRedirect` as pilot builds it (gateway.go
 * buildGatewayHTTPRouteConfig): the route config of one server port gets
 * one virtual host per name, and a virtual host requires TLS (Envoy answers
 * a plain request 301 to https) when a server of that port with
 * httpsRedirect brought it — the name its hosts share with a
 * VirtualService's, or one of its own hosts. A name another server of the
 * port serves, or the same name on another port, is served. devmesh's plain
 * ingress port stands for the server port the Host names (80 without one).
 * Real ingress, real requests.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { MeshSpec } from '../../simulator/policy/model';
import { proxyConfigOf } from '../../simulator/sidecar/proxyConfig';
import { compileTables } from '../../simulator/sidecar/tables';
import { gw, startMeshFromSpec, vs, type TestMesh } from './fixtures';

const SPEC: MeshSpec = { services: [{ name: 'web', port: 80, workloads: [{ name: 'web-v1', port: 1 }] }] };
const http = (number: number, hosts: string[], redirect = false) => ({ port: { number, name: `http-${number}`, protocol: 'HTTP' }, hosts, ...(redirect ? { tls: { httpsRedirect: true } } : {}) });
const toWeb = [{ route: [{ destination: { host: 'web' } }] }];

describe('httpsRedirect requires TLS on the virtual hosts its server brings, per server port', () => {
  let mesh: TestMesh;

  before(async () => {
    mesh = await startMeshFromSpec(SPEC, {
      gateways: [
        // Every other name on port 80 goes to https; a.example.com is served plainly by another Gateway's server.
        gw('redirect-all', { selector: { istio: 'ingressgateway' }, servers: [http(80, ['*'], true)] }),
        gw('plain-a', { selector: { istio: 'ingressgateway' }, servers: [http(80, ['a.example.com'])] }),
        // b.example.com: redirected on port 80, served on 8080.
        gw('b', { selector: { istio: 'ingressgateway' }, servers: [http(80, ['b.example.com'], true), http(8080, ['b.example.com'])] }),
      ],
      virtualServices: [
        vs('a', { hosts: ['a.example.com'], gateways: ['plain-a'], http: toWeb }),
        vs('b', { hosts: ['b.example.com'], gateways: ['b'], http: toWeb }),
      ],
    });
  });
  after(() => mesh?.close());

  const at = (host: string, url = '/x?y=1') => mesh.request('ingress', { url, host });

  test('a name only a plain server of the port brings is served, the redirect server\'s "*" redirects the rest', async () => {
    const a = await at('a.example.com');
    assert.equal(a.status, 200, a.text);
    const other = await at('c.example.com');
    assert.equal(other.status, 301, other.text);
    assert.equal(other.headers.location, 'https://c.example.com/x?y=1');
  });

  test('a server port\'s redirect does not reach the same name on another port', async () => {
    const on80 = await at('b.example.com');
    assert.equal(on80.status, 301, on80.text);
    assert.equal(on80.headers.location, 'https://b.example.com/x?y=1');
    const on8080 = await at('b.example.com:8080');
    assert.equal(on8080.status, 200, on8080.text);
  });

  test('proxy-config lists require_tls on the virtual hosts of port 80 that redirect, not on a.example.com or port 8080', () => {
    const t = compileTables(mesh.snapshot, null);
    const routes = proxyConfigOf(t, { ports: { admin: 0 }, outlier: () => undefined, certs: mesh.ca.issue('spiffe://cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account'), now: 0 } as never).routes;
    const tls = (name: string) => Object.fromEntries(routes.find((r) => r.name === name)!.virtualHosts.map((vh) => [vh.domains[0], !!vh.requireTls]));
    assert.deepEqual(tls('http.80'), { '*': true, 'a.example.com': false, 'b.example.com': true });
    assert.deepEqual(tls('http.8080'), { 'b.example.com': false });
  });
});
