/**
 * At a gateway, pilot builds a tcp[] or tls[] match into a filter chain on
 * its port and gateways alone (gateway.go l4SingleMatch: isPortMatch against
 * the server's port, isGatewayMatch): sourceLabels and sourceNamespace are
 * not looked at there (sidecars do check them, tls.go matchTCP). Real
 * ingress, real ClientHellos.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createCa } from '../../../simulator/control/ca';
import type { MeshSpec } from '../../../simulator/policy/model';
import { freePort, gw, startMeshFromSpec, vs, type TestMesh } from '../fixtures';
import { tlsGreeter, tlsHello } from './fixtures';

const SPEC: MeshSpec = {
  services: ['shop', 'blog'].map((name) => ({ name, ports: [{ name: 'tls', port: 443 }], workloads: [{ name: `${name}-v1`, port: 1 }] })),
};

const appCa = createCa({ trustDomain: 'example.com' });
const apps = (n: string) => tlsGreeter(n, appCa.issueServer({ dns: ['*.example.com'] }));

/** A TLS client of a gateway port asking for `servername`: what the app behind it said, '' when closed. */
const hello = (port: number, servername: string) => tlsHello(port, servername, appCa.certPem);

describe('gateway tcp[] and tls[] matches ignore sourceLabels and sourceNamespace', () => {
  let mesh: TestMesh;
  const ports = { tls: 0, tcp: 0 };

  before(async () => {
    [ports.tls, ports.tcp] = [await freePort(), await freePort()];
    const to = (host: string) => [{ destination: { host, port: { number: 443 } } }];
    mesh = await startMeshFromSpec(SPEC, {
      gateways: [gw('edge', {
        selector: { istio: 'ingressgateway' },
        servers: [
          { port: { number: ports.tls, name: 'tls', protocol: 'TLS' }, tls: { mode: 'PASSTHROUGH' }, hosts: ['*.example.com'] },
          { port: { number: ports.tcp, name: 'tcp', protocol: 'TCP' }, hosts: ['*'] },
        ],
      })],
      virtualServices: [vs('edge', {
        hosts: ['*.example.com', 'tcp.example.com'], gateways: ['edge'],
        tls: [{ match: [{ sniHosts: ['*.example.com'], sourceLabels: { app: 'nobody' }, sourceNamespace: 'elsewhere' }], route: to('shop') }],
        tcp: [{ match: [{ sourceLabels: { app: 'nobody' } }], route: to('shop') }, { route: to('blog') }],
      })],
    }, { app: apps } as Parameters<typeof startMeshFromSpec>[2]);
  });
  after(() => mesh?.close());

  test('a tls[] match with sourceLabels and sourceNamespace the gateway does not have still takes the name', async () => {
    assert.equal(await hello(ports.tls, 'any.example.com'), 'shop-v1 any.example.com');
  });

  test('a tcp[] match with sourceLabels the gateway does not have is still the first rule', async () => {
    assert.equal(await hello(ports.tcp, 'tcp.example.com'), 'shop-v1 tcp.example.com');
  });
});
