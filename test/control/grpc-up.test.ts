/**
 * gRPC under `devmesh up` (the control plane and its real sidecars; a grpc-js
 * echo service the developer runs): a grpc-js client reaches it through the
 * caller's sidecar both ways an app without HTTP_PROXY support has — a local
 * upstream port, and `grpc_proxy` (CONNECT on the outbound listener) — and
 * each call is served at L7 (routed and logged per call, not relayed).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { LogPage } from '../../simulator/control/api/contract';
import { echoClient, grpcEchoApp, say, withEnv, type AppLog } from '../sidecar/grpc/fixtures';
import { freePorts, removeDir, upWithMesh, waitFor, withOutput, type UpProcess } from './helpers';

describe('gRPC under devmesh up', () => {
  let dir: string;
  let up: UpProcess;
  let app: { port: number; log: AppLog; close(): void };
  let ports: Record<'control' | 'ingress' | 'page' | 'pageOut' | 'local', number>;
  const clients: Array<{ close(): void }> = [];
  before(async () => {
    app = await grpcEchoApp('ratings-v1');
    const [control, ingress, page, pageOut, local] = await freePorts(5);
    ports = { control, ingress, page, pageOut, local };
    ({ dir, up } = await upWithMesh(`apiVersion: devmesh.dev/v1alpha1
kind: Mesh
metadata: { name: shop }
spec:
  controlPort: ${control}
  ingress: { port: ${ingress} }
  services:
    - name: ratings
      ports: [{ name: grpc-api, port: 9090 }]
      workloads:
        - name: ratings-v1
          port: ${app.port}
    - name: productpage
      port: 9080
      workloads:
        - name: productpage-v1
          port: ${page}
          sidecar: { outboundPort: ${pageOut} }
          upstreams:
            - { service: ratings, port: 9090, localPort: ${local} }
`, 'devmesh-grpc-up-'));
  });
  after(async () => {
    for (const c of clients) c.close();
    await up?.stop();
    app?.close();
    if (dir) removeDir(dir);
  });

  /** The outbound access-log entries of productpage-v1's sidecar for `path`. */
  const calls = async (p: string) => {
    const page = await (await up.api('/api/logs')).json() as LogPage;
    return page.entries.filter((e) => e.workload === 'productpage-v1' && e.listener === 'outbound' && e.path === p);
  };

  test('up prints the gRPC port with its CONNECT target and local upstream port, and no proxy form', () => {
    const row = up.output().split('\n').find((l) => l.startsWith('ratings:9090') && l.includes('CONNECT'));
    assert.match(row ?? '', new RegExp(`^ratings:9090 +grpc +- +CONNECT ratings:9090 +productpage-v1 127\\.0\\.0\\.1:${ports.local}$`), up.output());
  });

  test('a grpc-js client on the local upstream port reaches the service, each call through the L7 chain', async () => {
    const client = echoClient(`127.0.0.1:${ports.local}`);
    clients.push(client);
    const { reply, headers, trailers } = await say(client, { text: 'by upstream port' });
    assert.deepEqual([reply.text, reply.workload, headers.get('x-served-by')[0]], ['by upstream port', 'ratings-v1', 'ratings-v1']);
    assert.deepEqual(trailers.get('x-checksum-bin')[0], Buffer.from([0xde, 0xad, 0xbe, 0xef]), 'binary trailers end to end');
    await say(client, { text: 'second call, same connection' });
    const logged = await waitFor('two calls in the access log', async () => ((await calls('/devmesh.test.Echo/Say')).length >= 2 ? calls('/devmesh.test.Echo/Say') : undefined)).catch(withOutput(up));
    assert.ok(logged.every((e) => e.upstream_cluster === 'outbound|9090||ratings.default.svc.cluster.local' && e.response_code === 200), JSON.stringify(logged));
  });

  test('a grpc-js client with grpc_proxy sends CONNECT ratings:9090 to the outbound listener and reaches the service', async () => {
    const before = (await calls('/devmesh.test.Echo/Say')).length;
    // grpc-js reads grpc_proxy when the channel is made, as an app started with it would.
    const client = withEnv({ grpc_proxy: `http://127.0.0.1:${ports.pageOut}` }, () => echoClient('ratings:9090'));
    clients.push(client);
    const { reply } = await say(client, { text: 'by grpc_proxy' }, { 'x-call': 'connect' });
    assert.deepEqual([reply.text, reply.workload], ['by grpc_proxy', 'ratings-v1']);
    assert.equal(reply.metadata?.[':authority'], 'ratings:9090', 'the authority the client wrote reaches the app');
    assert.equal(app.log.calls.at(-1)?.metadata['x-call'], 'connect');
    await waitFor('the call in the access log', async () => (await calls('/devmesh.test.Echo/Say')).length > before).catch(withOutput(up));
  });
});
