import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { dr, vs } from '../fixtures';
import { drain, grpcMesh, say, type GrpcMesh } from './fixtures';

const subsets = dr('ratings', {
  host: 'ratings',
  trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' } },
  subsets: [{ name: 'v1', labels: { version: 'v1' } }, { name: 'v2', labels: { version: 'v2' } }],
});
const to = (subset: string) => [{ destination: { host: 'ratings', subset } }];

describe('gRPC calls routed per call by a VirtualService', () => {
  let m: GrpcMesh;
  before(async () => {
    m = await grpcMesh({
      workloads: ['ratings-v1', 'ratings-v2'],
      policies: {
        destinationRules: [subsets],
        virtualServices: [vs('ratings', {
          hosts: ['ratings'],
          http: [
            { name: 'watch-to-v2', match: [{ uri: { exact: '/devmesh.test.Echo/Watch' } }], route: to('v2') },
            { name: 'canary-header', match: [{ headers: { 'x-canary': { exact: 'yes' } } }], route: to('v2') },
            { name: 'by-authority', match: [{ authority: { prefix: 'ratings.example' } }], route: to('v2') },
            { name: 'service-prefix', match: [{ uri: { prefix: '/devmesh.test.Echo/' } }], route: to('v1') },
          ],
        })],
      },
    });
  });
  after(() => m.close());

  test('on the method path (/package.Service/Method): Watch goes to v2, Say to v1, on one connection', async () => {
    const client = await m.client();
    assert.equal((await say(client, { text: 'a' })).reply.workload, 'ratings-v1');
    const { messages } = await drain(client.watch({ count: 2 }));
    assert.deepEqual(messages.map((x) => x.workload), ['ratings-v2', 'ratings-v2']);
    assert.equal((await say(client, { text: 'b' })).reply.workload, 'ratings-v1');
    const routes = m.mesh.sidecars.get('productpage-v1')!.accessLog.tail().map((e) => e.route_name);
    assert.deepEqual(routes, ['service-prefix', 'watch-to-v2', 'service-prefix']);
  });

  test('on metadata (headers): a call with x-canary: yes goes to v2', async () => {
    const client = await m.client();
    assert.equal((await say(client, { text: 'a' }, { 'x-canary': 'yes' })).reply.workload, 'ratings-v2');
    assert.equal((await say(client, { text: 'a' }, { 'x-canary': 'no' })).reply.workload, 'ratings-v1');
  });

  test('on :authority, as the client set it', async () => {
    const client = await m.client({ channel: { 'grpc.default_authority': 'ratings.example.com:9090' } });
    const { reply } = await say(client, { text: 'a' });
    assert.equal(reply.workload, 'ratings-v2');
    assert.equal(reply.metadata![':authority'], 'ratings.example.com:9090');
  });
});

describe('gRPC calls balanced per call, not per connection', () => {
  let m: GrpcMesh;
  before(async () => {
    m = await grpcMesh({
      workloads: ['ratings-v1', 'ratings-v2'],
      policies: {
        destinationRules: [subsets],
        virtualServices: [vs('ratings', { hosts: ['ratings'], http: [{ route: [{ destination: { host: 'ratings', subset: 'v1' }, weight: 50 }, { destination: { host: 'ratings', subset: 'v2' }, weight: 50 }] }] })],
      },
    });
  });
  after(() => m.close());

  test('weighted subsets split the calls of one HTTP/2 connection', async () => {
    const client = await m.client();
    const seen = new Set<string>();
    for (let i = 0; i < 40; i++) seen.add((await say(client, { text: String(i) })).reply.workload!);
    assert.deepEqual([...seen].sort(), ['ratings-v1', 'ratings-v2']);
    assert.equal(m.mesh.sidecars.get('productpage-v1')!.stats.get('http2_entry.cx_total'), 1);
  });

  test('ROUND_ROBIN alternates endpoints call by call on one connection', async () => {
    await m.mesh.push({ destinationRules: [subsets] });
    try {
      const client = await m.client();
      const order: string[] = [];
      for (let i = 0; i < 6; i++) order.push((await say(client, { text: String(i) })).reply.workload!);
      for (let i = 1; i < order.length; i++) assert.notEqual(order[i], order[i - 1], order.join(' '));
    } finally {
      await m.mesh.push({
        destinationRules: [subsets],
        virtualServices: [vs('ratings', { hosts: ['ratings'], http: [{ route: [{ destination: { host: 'ratings', subset: 'v1' }, weight: 50 }, { destination: { host: 'ratings', subset: 'v2' }, weight: 50 }] }] })],
      });
    }
  });
});
