/**
 * The three ways an app reaches a service port (reach.ts), as up's table
 * and the topology API give them: proxy form for HTTP/1.1 ports only, a
 * CONNECT target for every port, and the local upstream ports leading there.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSnapshot, type PortAssignment } from '../../simulator/control/snapshot';
import { reachOf } from '../../simulator/control/reach';
import { reachTable } from '../../simulator/control/table';
import type { Resource } from '../../simulator/policy/model';

const sidecar = (n: number) => ({ inboundPort: n, outboundPort: n + 1, adminPort: n + 2 });
const ports: PortAssignment = { workloads: { 'ratings-v1': sidecar(1000), 'redis-v1': sidecar(2000), 'cart-v1': sidecar(3000) }, ingress: { port: 15080, adminPort: 15081 } };

function meshOf(cacheNamespace: string): Resource<'Mesh'> {
  return {
    apiVersion: 'devmesh.dev/v1alpha1', kind: 'Mesh', metadata: { name: 'shop' },
    spec: {
      services: [
        { name: 'ratings', ports: [{ name: 'http', port: 9080 }, { name: 'grpc', port: 9090 }], workloads: [{ name: 'ratings-v1', port: 9191 }] },
        { name: 'redis', namespace: cacheNamespace, ports: [{ name: 'redis', port: 6379 }], workloads: [{ name: 'redis-v1', port: 6380 }] },
        { name: 'cart', port: 9190, workloads: [{ name: 'cart-v1', port: 9192, upstreams: [
          { service: cacheNamespace === 'default' ? 'redis' : `redis.${cacheNamespace}`, port: 6379, localPort: 16379 },
          { service: 'ratings', port: 9090, localPort: 19090 },
        ] }] },
      ],
    },
  };
}

test('an HTTP port is reached by proxy form and CONNECT; a gRPC port by CONNECT and its local upstream port only', () => {
  const s = buildSnapshot(meshOf('default'), [], ports, 1);
  const ratings = reachOf(s, s.services.find((x) => x.name === 'ratings')!);
  assert.deepEqual(ratings.get(9080), { proxyForm: 'http://ratings:9080/', connect: 'ratings:9080', upstreams: [] });
  assert.deepEqual(ratings.get(9090), { connect: 'ratings:9090', upstreams: [{ workload: 'cart-v1', localPort: 19090 }] });
});

test('in a mesh of several namespaces the names an app writes are name.namespace', () => {
  const s = buildSnapshot(meshOf('cache'), [], ports, 1);
  assert.deepEqual(reachOf(s, s.services.find((x) => x.name === 'redis')!).get(6379), { connect: 'redis.cache:6379', upstreams: [{ workload: 'cart-v1', localPort: 16379 }] });
});

test('up\'s reach table has one row per service port with the three ways', () => {
  const lines = reachTable(buildSnapshot(meshOf('default'), [], ports, 1)).split('\n');
  assert.match(lines[0], /^SERVICE PORT +PROTOCOL +HTTP_PROXY \(proxy form\) +CONNECT \(HTTPS_PROXY, grpc_proxy\) +LOCAL UPSTREAM PORTS$/);
  assert.deepEqual(lines.slice(1).map((l) => l.split(/ {2,}/)), [
    ['ratings:9080', 'http', 'GET http://ratings:9080/', 'CONNECT ratings:9080', '-'],
    ['ratings:9090', 'grpc', '-', 'CONNECT ratings:9090', 'cart-v1 127.0.0.1:19090'],
    ['redis:6379', 'redis', '-', 'CONNECT redis:6379', 'cart-v1 127.0.0.1:16379'],
    ['cart:9190', 'http', 'GET http://cart:9190/', 'CONNECT cart:9190', '-'],
  ]);
});
