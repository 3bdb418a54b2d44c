/**
 * pilot's mergeGateways (model/gateway.go) skips a server with `tls` whose
 * hosts repeat a host an earlier server with `tls` names on the same port
 * (same bind): "skipping server on gateway ..., duplicate host names".
 * Gateways merge oldest first, so the newer Gateway's server goes whole —
 * its other hosts too — and the VirtualServices bound only to it get no
 * filter chain there, whatever their own age. Real ingress, real
 * ClientHellos; the pure rule beside it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createCa } from '../../simulator/control/ca';
import { droppedGatewayServers } from '../../simulator/policy/gateway-merge';
import { ingressTerminatedPorts } from '../../simulator/policy/gateway-tls';
import type { MeshSpec, Resource } from '../../simulator/policy/model';
import { freePort, gw, startMeshFromSpec, vs, type TestMesh } from './fixtures';
import { tlsGreeter, tlsHello } from './l4/fixtures';

const SPEC: MeshSpec = {
  services: ['shop', 'blog'].map((name) => ({ name, ports: [{ name: 'tls', port: 443 }], workloads: [{ name: `${name}-v1`, port: 1 }] })),
};
const appCa = createCa({ trustDomain: 'example.com' });
const apps = (n: string) => (['shop-v1', 'blog-v1'].includes(n) ? tlsGreeter(n, appCa.issueServer({ dns: ['*.example.com'] })) : undefined);
const hello = (port: number, servername: string) => tlsHello(port, servername, appCa.certPem);
const stamped = <K extends 'Gateway' | 'VirtualService'>(r: Resource<K>, at: string): Resource<K> => ({ ...r, metadata: { ...r.metadata, creationTimestamp: at } });
const OLDER = '2026-01-01T00:00:00Z';
const NEWER = '2026-02-01T00:00:00Z';
const to = (host: string) => [{ destination: { host, port: { number: 443 } } }];

describe('a newer Gateway\'s TLS server that repeats a host on a port is skipped whole', () => {
  let mesh: TestMesh;
  let port = 0;

  before(async () => {
    port = await freePort();
    const passthrough = (hosts: string[]) => ({ port: { number: port, name: 'tls', protocol: 'TLS' }, tls: { mode: 'PASSTHROUGH' as const }, hosts });
    mesh = await startMeshFromSpec(SPEC, {
      gateways: [
        stamped(gw('newer', { selector: { istio: 'ingressgateway' }, servers: [passthrough(['shop.example.com', 'news.example.com'])] }), NEWER),
        stamped(gw('older', { selector: { istio: 'ingressgateway' }, servers: [passthrough(['shop.example.com'])] }), OLDER),
      ],
      virtualServices: [
        // Bound to the newer Gateway only: without the skip its news.example.com match would be a chain of the port.
        stamped(vs('via-newer', { hosts: ['*.example.com'], gateways: ['newer'], tls: [{ match: [{ sniHosts: ['news.example.com'] }], route: to('blog') }, { match: [{ sniHosts: ['shop.example.com'] }], route: to('blog') }] }), OLDER),
        stamped(vs('via-older', { hosts: ['shop.example.com'], gateways: ['older'], tls: [{ match: [{ sniHosts: ['shop.example.com'] }], route: to('shop') }] }), NEWER),
      ],
    }, { app: apps } as Parameters<typeof startMeshFromSpec>[2]);
  });
  after(() => mesh?.close());

  test('the older Gateway\'s server takes the shared host', async () => {
    assert.equal(await hello(port, 'shop.example.com'), 'shop-v1 shop.example.com');
  });

  test('the skipped server\'s other host is served by nothing (closed)', async () => {
    assert.equal(await hello(port, 'news.example.com'), '');
  });
});

describe('droppedGatewayServers (mergeGateways\' duplicate host check)', () => {
  const G = (name: string, servers: unknown[], namespace = 'default') => ({ key: `${namespace}/${name}`, spec: { servers } as never });
  const https = (number: number, hosts: string[], extra: Record<string, unknown> = {}) => ({ port: { number, name: `https-${number}`, protocol: 'HTTPS' }, tls: { mode: 'SIMPLE' }, hosts, ...extra });

  test('the later of two servers with tls naming one host on one port goes, within a Gateway and across', () => {
    const d = droppedGatewayServers([G('a', [https(443, ['x.example.com']), https(443, ['y.example.com', 'x.example.com'])]), G('b', [https(443, ['y.example.com'])])]);
    assert.deepEqual([...d.values()].map((s) => [s.gateway, s.index, s.duplicates, s.keptBy]), [['default/a', 1, ['x.example.com'], 'default/a']]);
    // a/1 went, so y.example.com was never taken: b keeps it.
  });

  test('other ports, other binds, plain HTTP servers and overlapping wildcards are no duplicates', () => {
    const plain = { port: { number: 443, name: 'http', protocol: 'HTTP' }, hosts: ['x.example.com'] };
    const d = droppedGatewayServers([G('a', [https(443, ['x.example.com']), plain, https(8443, ['x.example.com']), https(443, ['x.example.com'], { bind: '10.0.0.1' }), https(443, ['*.example.com'])])]);
    assert.equal(d.size, 0);
  });

  test('an httpsRedirect server counts (it has tls); `*/host` and `./host` are sanitized as pilot does', () => {
    const redirect = (hosts: string[]) => ({ port: { number: 80, name: 'http', protocol: 'HTTP' }, tls: { httpsRedirect: true }, hosts });
    const d = droppedGatewayServers([G('a', [redirect(['*/www.example.com', './api.example.com'])]), G('b', [redirect(['www.example.com'])]), G('c', [redirect(['default/api.example.com'])]), G('d', [redirect(['api.example.com'])], 'prod')]);
    assert.deepEqual([...d.keys()], ['default/b#0', 'default/c#0']);
  });

  test('the ingress\'s terminated ports leave a skipped server out (its certificate serves nothing)', () => {
    const gws: Resource<'Gateway'>[] = [
      stamped(gw('newer', { selector: { istio: 'ingressgateway' }, servers: [https(8443, ['x.example.com', 'z.example.com']) as never] }), NEWER),
      stamped(gw('older', { selector: { istio: 'ingressgateway' }, servers: [https(8443, ['x.example.com']) as never] }), OLDER),
    ];
    const ports = ingressTerminatedPorts(gws, 'default');
    assert.deepEqual(ports.map((p) => [p.port, p.servers.map((s) => s.gateway)]), [[8443, ['default/older']]]);
  });
});
