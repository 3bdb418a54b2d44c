/**
 * gRPC through a Gateway API Gateway: a grpc-js client calls the ingress's
 * listener port itself — plaintext (HTTP/2 with prior knowledge, on the same
 * port HTTP/1.1 clients use: ingress.test.ts) and over TLS (ALPN h2, the listener's certificate for
 * the SNI name) — and a GRPCRoute attached to the Gateway routes each call
 * by its method and metadata to per-version Services served by grpc-js
 * servers, through real sidecars with mTLS between them.
 */
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { createCa } from '../../../simulator/control/ca';
import { freePorts } from '../../../simulator/control/ports';
import type { MeshSpec, Resource } from '../../../simulator/policy/model';
import { startMeshFromSpec, type TestMesh } from '../fixtures';
import { drain, EchoService, grpcEchoApp, say, UNLIMITED } from '../grpc/fixtures';

const SPEC: MeshSpec = {
  services: [
    { name: 'ratings-v1', selector: { app: 'ratings', version: 'v1' }, ports: [{ name: 'grpc', port: 9090 }] },
    { name: 'ratings-v2', selector: { app: 'ratings', version: 'v2' }, ports: [{ name: 'grpc', port: 9090 }] },
  ],
  workloads: [
    { name: 'ratings-v1', labels: { app: 'ratings', version: 'v1' }, ports: { 9090: 1 } },
    { name: 'ratings-v2', labels: { app: 'ratings', version: 'v2' }, ports: { 9090: 1 } },
  ],
};

const gateway = {
  apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', metadata: { name: 'edge', namespace: 'default' },
  spec: {
    gatewayClassName: 'istio',
    listeners: [
      { name: 'h2c', port: 80, protocol: 'HTTP' },
      { name: 'tls', port: 443, protocol: 'HTTPS', hostname: 'grpc.example.com' },
    ],
  },
} as unknown as Resource<'KubernetesGateway'>;

const route: Resource<'GRPCRoute'> = {
  apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GRPCRoute', metadata: { name: 'ratings', namespace: 'default' },
  spec: {
    parentRefs: [{ name: 'edge' }],
    rules: [
      { matches: [{ method: { service: 'devmesh.test.Echo', method: 'Watch' } }], backendRefs: [{ name: 'ratings-v2', port: 9090 }] },
      { matches: [{ headers: [{ name: 'x-canary', value: 'yes' }] }], backendRefs: [{ name: 'ratings-v2', port: 9090 }] },
      { backendRefs: [{ name: 'ratings-v1', port: 9090 }] },
    ],
  },
};

describe('gRPC through a Gateway listener, routed by a GRPCRoute', () => {
  let mesh: TestMesh;
  let ports: { h2c: number; tls: number };
  const ca = createCa({ trustDomain: 'cluster.local' });
  const clients: grpc.Client[] = [];
  const client = (address: string, credentials = grpc.credentials.createInsecure(), options: grpc.ChannelOptions = {}) => {
    const c = new EchoService(address, credentials, { ...UNLIMITED, ...options }) as unknown as Parameters<typeof say>[0];
    clients.push(c);
    return c;
  };

  before(async () => {
    const [h, s] = await freePorts(2);
    ports = { h2c: h, tls: s };
    const cert = ca.issueServer({ dns: ['grpc.example.com'] });
    mesh = await startMeshFromSpec(SPEC, { gatewayApi: [gateway, route] }, {
      gatewayPorts: { 'default/edge:80': h, 'default/edge:443': s },
      listenerCertificates: { 'default/edge:443': [{ hostname: 'grpc.example.com', certPem: cert.certPem, keyPem: cert.keyPem, source: 'minted by devmesh' }] },
      app: async (w) => grpcEchoApp(w),
    });
  });
  after(async () => { for (const c of clients) c.close(); await mesh?.close(); });

  it('plaintext HTTP/2 on an HTTP listener: each call routed by its method and metadata', async () => {
    const c = client(`127.0.0.1:${ports.h2c}`);
    assert.equal((await say(c, { text: 'a' })).reply.workload, 'ratings-v1');
    assert.equal((await say(c, { text: 'b' }, { 'x-canary': 'yes' })).reply.workload, 'ratings-v2');
    const { messages, status } = await drain(c.watch({ count: 3 }));
    assert.equal(status.code, grpc.status.OK);
    assert.deepEqual(messages.map((m) => m.workload), ['ratings-v2', 'ratings-v2', 'ratings-v2']);
    const log = mesh.ingress!.accessLog.tail().filter((e) => e.path.startsWith('/devmesh.test.Echo/'));
    assert.deepEqual(log.map((e) => [e.path, e.upstream_cluster]), [
      ['/devmesh.test.Echo/Say', 'outbound|9090||ratings-v1.default.svc.cluster.local'],
      ['/devmesh.test.Echo/Say', 'outbound|9090||ratings-v2.default.svc.cluster.local'],
      ['/devmesh.test.Echo/Watch', 'outbound|9090||ratings-v2.default.svc.cluster.local'],
    ]);
  });

  it('TLS on an HTTPS listener: ALPN h2, the certificate for the SNI name, the call routed as in plaintext', async () => {
    const c = client(`127.0.0.1:${ports.tls}`, grpc.credentials.createSsl(Buffer.from(ca.trustBundlePem)), { 'grpc.ssl_target_name_override': 'grpc.example.com', 'grpc.default_authority': 'grpc.example.com' });
    assert.equal((await say(c, { text: 'a' }, { 'x-canary': 'yes' })).reply.workload, 'ratings-v2');
    const { reply } = await say(c, { text: 'b' });
    assert.equal(reply.workload, 'ratings-v1');
    assert.equal(reply.metadata!['x-forwarded-proto'], 'https');
  });
});
