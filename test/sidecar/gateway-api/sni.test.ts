/**
 * The server name on a Gateway API port shared by several HTTPS listeners,
 * on real handshakes. istiod turns each listener into a Gateway server whose
 * hosts are its hostname (`*` without one) and builds one filter chain per
 * server, matched on server_names (a `*` server: no server_names, the
 * catch-all); Envoy picks the exact name, then the longest wildcard, then
 * the catch-all, and closes a connection no chain takes.
 *
 * - each listener's hostname gets that listener's certificate;
 * - `*.wild.example.com` takes names under it at any depth, not the bare name;
 * - without a listener lacking a hostname, an unknown name and a ClientHello
 *   without one are closed (never the port's first certificate);
 * - with one, it takes both.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createCa } from '../../../simulator/control/ca';
import { ListenerCertificates } from '../../../simulator/control/gateway-ingress';
import { freePorts } from '../../../simulator/control/ports';
import { gatewayStatuses } from '../../../simulator/policy/gateway-api/status';
import type { MeshSpec, Resource } from '../../../simulator/policy/model';
import { startMeshFromSpec, tlsClient, type TestMesh } from '../fixtures';

const SPEC: MeshSpec = { services: [{ name: 'web', port: 8000, workloads: [{ name: 'web-v1', port: 1 }] }] };

const gateway = {
  apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', metadata: { name: 'edge', namespace: 'default' },
  spec: {
    gatewayClassName: 'istio',
    listeners: [
      // Port 443: named listeners only.
      { name: 'shop', port: 443, protocol: 'HTTPS', hostname: 'shop.example.com' },
      { name: 'wild', port: 443, protocol: 'HTTPS', hostname: '*.wild.example.com' },
      { name: 'deep', port: 443, protocol: 'HTTPS', hostname: '*.deep.wild.example.com' },
      // Port 8443: a named listener and one without a hostname.
      { name: 'shop-alt', port: 8443, protocol: 'HTTPS', hostname: 'shop.example.com' },
      { name: 'rest', port: 8443, protocol: 'HTTPS' },
    ],
  },
} as unknown as Resource<'KubernetesGateway'>;

const route = {
  apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'web', namespace: 'default' },
  spec: { parentRefs: [{ name: 'edge' }], rules: [{ backendRefs: [{ name: 'web', port: 8000 }] }] },
} as Resource<'HTTPRoute'>;

/** A TLS handshake asking for `servername` (none: no SNI): the certificate's names the client saw, and the status of `GET /` over it. */
async function handshake(port: number, servername: string | undefined): Promise<{ san?: string; status?: string }> {
  const { san, reply } = await tlsClient(port, servername, `GET / HTTP/1.1\r\nhost: ${servername ?? 'any.example.org'}\r\nconnection: close\r\n\r\n`);
  return { ...(san ? { san } : {}), ...(reply ? { status: reply.slice(9, 12) } : {}) };
}

describe('a Gateway API port shared by HTTPS listeners with different hostnames', () => {
  let mesh: TestMesh;
  let named: number;
  let withRest: number;

  before(async () => {
    [named, withRest] = await freePorts(2);
    const ca = createCa({ trustDomain: 'cluster.local' });
    const statuses = gatewayStatuses({ services: new Map(), gateways: [gateway], referenceGrants: [] });
    const listenerCertificates = new ListenerCertificates(() => ca).forGateways(statuses, new Map());
    mesh = await startMeshFromSpec(SPEC, { gatewayApi: [gateway, route] }, {
      gatewayPorts: { 'default/edge:443': named, 'default/edge:8443': withRest },
      listenerCertificates,
    });
  });
  after(() => mesh?.close());

  test('each listener\'s hostname gets that listener\'s certificate, and its requests are routed', async () => {
    assert.deepEqual(await handshake(named, 'shop.example.com'), { san: 'DNS:shop.example.com', status: '200' });
    assert.deepEqual(await handshake(named, 'SHOP.example.com'), { san: 'DNS:shop.example.com', status: '200' });
    assert.deepEqual(await handshake(withRest, 'shop.example.com'), { san: 'DNS:shop.example.com', status: '200' });
  });

  test('a wildcard hostname takes names under it at any depth, the longest wildcard first, and not the bare name', async () => {
    assert.deepEqual(await handshake(named, 'a.wild.example.com'), { san: 'DNS:*.wild.example.com', status: '200' });
    assert.deepEqual(await handshake(named, 'a.b.wild.example.com'), { san: 'DNS:*.wild.example.com', status: '200' });
    assert.deepEqual(await handshake(named, 'x.deep.wild.example.com'), { san: 'DNS:*.deep.wild.example.com', status: '200' });
    assert.deepEqual(await handshake(named, 'wild.example.com'), {});
  });

  test('a server name no listener covers, and a ClientHello without one, are closed when every listener names a host', async () => {
    assert.deepEqual(await handshake(named, 'other.example.com'), {});
    assert.deepEqual(await handshake(named, undefined), {});
  });

  test('a listener without a hostname takes every other name, and clients without one', async () => {
    const rest = await handshake(withRest, 'other.example.com');
    assert.equal(rest.status, '200');
    assert.notEqual(rest.san, 'DNS:shop.example.com');
    assert.deepEqual(await handshake(withRest, undefined), rest);
  });
});
