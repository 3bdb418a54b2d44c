/**
 * Pilot keeps Gateways oldest first too (push_context.go initGateways:
 * sortConfigByCreationTime — creationTimestamp, then name, then namespace)
 * and merges their servers in that order (model/gateway.go mergeGateways):
 * the order of a port's servers decides which Gateway's VirtualServices
 * come first in a virtual host both serve, and which tls[] match keeps a
 * server name at a passthrough port both Gateways have. Here the newer
 * Gateway is written first. Real ingress, real requests and ClientHellos.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createCa } from '../../simulator/control/ca';
import type { MeshSpec, Resource } from '../../simulator/policy/model';
import { freePort, gw, startMeshFromSpec, vs, type TestMesh } from './fixtures';
import { tlsGreeter, tlsHello } from './l4/fixtures';

const SPEC: MeshSpec = {
  services: [
    ...['shop', 'blog'].map((name) => ({ name, ports: [{ name: 'tls', port: 443 }], workloads: [{ name: `${name}-v1`, port: 1 }] })),
    ...['one', 'two'].map((name) => ({ name, port: 80, workloads: [{ name: `${name}-v1`, port: 1 }] })),
  ],
};

const appCa = createCa({ trustDomain: 'example.com' });
const apps = (n: string) => (['shop-v1', 'blog-v1'].includes(n) ? tlsGreeter(n, appCa.issueServer({ dns: ['*.example.com'] })) : undefined);

/** A TLS client of a gateway port asking for `servername`: what the app behind it said, '' when closed. */
const hello = (port: number, servername: string) => tlsHello(port, servername, appCa.certPem);

const stamped = <K extends 'Gateway' | 'VirtualService'>(r: Resource<K>, at: string): Resource<K> => ({ ...r, metadata: { ...r.metadata, creationTimestamp: at } });
const OLDER = '2026-01-01T00:00:00Z';
const NEWER = '2026-02-01T00:00:00Z';

describe('Gateways are merged oldest first (creationTimestamp), not in the order they are written', () => {
  let mesh: TestMesh;
  let tlsPort = 0;

  before(async () => {
    tlsPort = await freePort();
    const servers = [
      { port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['www.example.com'] },
      { port: { number: tlsPort, name: 'tls', protocol: 'TLS' }, tls: { mode: 'PASSTHROUGH' as const }, hosts: ['*.example.com'] },
    ];
    const route = (host: string, port?: number) => [{ destination: { host, ...(port ? { port: { number: port } } : {}) } }];
    mesh = await startMeshFromSpec(SPEC, {
      gateways: [
        stamped(gw('written-first', { selector: { istio: 'ingressgateway' }, servers }), NEWER),
        stamped(gw('written-second', { selector: { istio: 'ingressgateway' }, servers }), OLDER),
      ],
      virtualServices: [
        // The older VirtualService is bound to the newer Gateway: the Gateway's age orders the servers first.
        stamped(vs('via-newer-gateway', {
          hosts: ['www.example.com', '*.example.com'], gateways: ['written-first'],
          http: [{ match: [{ uri: { prefix: '/api' } }], route: route('one') }],
          tls: [{ match: [{ sniHosts: ['*.example.com'] }], route: route('shop', 443) }],
        }), OLDER),
        stamped(vs('via-older-gateway', {
          hosts: ['www.example.com', '*.example.com'], gateways: ['written-second'],
          http: [{ match: [{ uri: { prefix: '/api' } }], route: route('two') }],
          tls: [{ match: [{ sniHosts: ['*.example.com'] }], route: route('blog', 443) }],
        }), NEWER),
      ],
    }, { app: apps } as Parameters<typeof startMeshFromSpec>[2]);
  });
  after(() => mesh?.close());

  test('a virtual host both Gateways serve takes the older Gateway\'s VirtualServices first', async () => {
    const r = await mesh.request('ingress', { url: '/api/items', host: 'www.example.com' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json().workload, 'two-v1');
  });

  test('a passthrough port gives a server name to the older Gateway\'s tls[] match', async () => {
    assert.equal(await hello(tlsPort, 'any.example.com'), 'blog-v1 any.example.com');
  });

  test('without creationTimestamp the order they are written in decides', async () => {
    const plain = <K extends 'Gateway' | 'VirtualService'>(r: Resource<K>): Resource<K> => ({ ...r, metadata: { name: r.metadata.name, namespace: r.metadata.namespace } });
    await mesh.push({ gateways: mesh.snapshot.gateways.map(plain), virtualServices: mesh.snapshot.virtualServices.map(plain) });
    const r = await mesh.request('ingress', { url: '/api/items', host: 'www.example.com' });
    assert.equal(r.json().workload, 'one-v1', 'written-first is written first');
  });
});
