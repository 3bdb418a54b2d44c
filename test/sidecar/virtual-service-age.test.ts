/**
 * Pilot keeps VirtualServices oldest first — creationTimestamp, then name,
 * then namespace (model/config.go configCompareByCreationTime, applied by
 * sortMergedVirtualServicesByCreationTime) — and every place that takes
 * "the first" one follows that order: the VirtualService a sidecar applies
 * to a host, the order of the routes a gateway merges for one host, the
 * first tcp[] rule of a gateway TCP server, and which tls[] match keeps a
 * server name two of them claim at a passthrough port. Here the newer
 * VirtualService is written first in every case, as a file may well be.
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
    ...['web', 'old', 'new'].map((name) => ({ name, port: 80, workloads: [{ name: `${name}-v1`, port: 1 }] })),
  ],
};

const appCa = createCa({ trustDomain: 'example.com' });
const apps = (n: string) => (['shop-v1', 'blog-v1'].includes(n) ? tlsGreeter(n, appCa.issueServer({ dns: ['*.example.com'] })) : undefined);

/** A TLS client of a gateway port asking for `servername`: what the app behind it said, '' when closed. */
const hello = (port: number, servername: string) => tlsHello(port, servername, appCa.certPem);

const created = (v: Resource<'VirtualService'>, at: string): Resource<'VirtualService'> => ({ ...v, metadata: { ...v.metadata, creationTimestamp: at } });
const OLDER = '2026-01-01T00:00:00Z';
const NEWER = '2026-02-01T00:00:00Z';

describe('VirtualServices are taken oldest first (creationTimestamp), not in the order they are written', () => {
  let mesh: TestMesh;
  const ports = { tls: 0, tcp: 0 };

  before(async () => {
    [ports.tls, ports.tcp] = [await freePort(), await freePort()];
    const edge = gw('edge', {
      selector: { istio: 'ingressgateway' },
      servers: [
        { port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['www.example.com'] },
        { port: { number: ports.tls, name: 'tls', protocol: 'TLS' }, tls: { mode: 'PASSTHROUGH' }, hosts: ['*.example.com'] },
        { port: { number: ports.tcp, name: 'tcp', protocol: 'TCP' }, hosts: ['*'] },
      ],
    });
    const to = (host: string, port?: number) => [{ destination: { host, ...(port ? { port: { number: port } } : {}) } }];
    mesh = await startMeshFromSpec(SPEC, {
      gateways: [edge],
      virtualServices: [
        // Written first, created last.
        created(vs('newer-web', { hosts: ['web'], http: [{ route: to('new') }] }), NEWER),
        created(vs('newer-edge', {
          hosts: ['www.example.com', '*.example.com', 'tcp.example.com'], gateways: ['edge'],
          http: [{ match: [{ uri: { prefix: '/api' } }], route: to('new') }],
          tls: [{ match: [{ sniHosts: ['*.example.com'] }], route: to('blog', 443) }],
          tcp: [{ route: to('blog', 443) }],
        }), NEWER),
        created(vs('older-web', { hosts: ['web'], http: [{ route: to('old') }] }), OLDER),
        created(vs('older-edge', {
          hosts: ['www.example.com', '*.example.com', 'tcp.example.com'], gateways: ['edge'],
          http: [{ match: [{ uri: { prefix: '/api' } }], route: to('old') }],
          tls: [{ match: [{ sniHosts: ['*.example.com'] }], route: to('shop', 443) }],
          tcp: [{ route: to('shop', 443) }],
        }), OLDER),
      ],
    }, { app: apps } as Parameters<typeof startMeshFromSpec>[2]);
  });
  after(() => mesh?.close());

  test('a sidecar applies the older of two VirtualServices for one host', async () => {
    const r = await mesh.request('shop-v1', { url: 'http://web/' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json().workload, 'old-v1');
  });

  test('the ingress merges the routes of one host oldest first: the older VirtualService\'s rule matches first', async () => {
    const r = await mesh.request('ingress', { url: '/api/items', host: 'www.example.com' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json().workload, 'old-v1');
  });

  test('a passthrough port keeps a server name for the older VirtualService\'s tls[] match (the newer duplicate is skipped)', async () => {
    assert.equal(await hello(ports.tls, 'any.example.com'), 'shop-v1 any.example.com');
  });

  test('a TCP server takes the older VirtualService\'s tcp[] rule', async () => {
    assert.equal(await hello(ports.tcp, 'tcp.example.com'), 'shop-v1 tcp.example.com');
  });

  test('without creationTimestamp the order they are written in decides; with equal ones, the name', async () => {
    const plain = (v: Resource<'VirtualService'>): Resource<'VirtualService'> => ({ ...v, metadata: { name: v.metadata.name, namespace: v.metadata.namespace } });
    const rules = mesh.snapshot.virtualServices;
    await mesh.push({ gateways: [], virtualServices: rules.filter((v) => v.metadata.name.endsWith('-web')).map(plain) });
    assert.equal((await mesh.request('shop-v1', { url: 'http://web/' })).json().workload, 'new-v1', 'newer-web is written first');
    const same = '2026-03-01T10:00:00.900Z';
    await mesh.push({ gateways: [], virtualServices: [created(vs('b-web', { hosts: ['web'], http: [{ route: [{ destination: { host: 'new' } }] }] }), same), created(vs('a-web', { hosts: ['web'], http: [{ route: [{ destination: { host: 'old' } }] }] }), '2026-03-01T10:00:00.100Z')] });
    assert.equal((await mesh.request('shop-v1', { url: 'http://web/' })).json().workload, 'old-v1', 'one second (Kubernetes stamps whole seconds): a-web by name');
  });
});
