import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { appEnvironment, resolveCommand } from '../../simulator/control/apps';
import type { WorkloadInfo } from '../../simulator/protocol';

const info: WorkloadInfo = {
  name: 'reviews-v2', service: 'reviews', namespace: 'default', labels: {}, serviceAccount: 'reviews',
  spiffeId: 'spiffe://cluster.local/ns/default/sa/reviews', appPort: 9182,
  sidecar: { inboundPort: 1, outboundPort: 15101, adminPort: 3 },
};

test('an app gets PORT, its outbound listener as HTTP_PROXY and DEVMESH_OUTBOUND, and loopback in NO_PROXY', () => {
  const env = appEnvironment({ PATH: '/bin', HTTPS_PROXY: 'http://corp:3128' }, { name: 'reviews-v2', port: 9182, env: { STAR_COLOR: 'black' } }, info);
  assert.equal(env.PORT, '9182');
  assert.equal(env.HTTP_PROXY, 'http://127.0.0.1:15101');
  assert.equal(env.http_proxy, 'http://127.0.0.1:15101');
  assert.equal(env.DEVMESH_OUTBOUND, 'http://127.0.0.1:15101');
  assert.equal(env.NO_PROXY, 'localhost,127.0.0.1');
  assert.equal(env.STAR_COLOR, 'black');
  assert.equal(env.PATH, '/bin');
  assert.equal(env.HTTPS_PROXY, 'http://127.0.0.1:15101', 'a corporate proxy from the shell would bypass the mesh: the sidecar takes its place');
});

test('an app tunnels through its sidecar: HTTPS_PROXY, https_proxy and grpc_proxy name the outbound listener (CONNECT)', () => {
  const env = appEnvironment({ https_proxy: 'http://corp:3128', grpc_proxy: 'http://corp:3128' }, { name: 'reviews-v2', port: 9182 }, info);
  for (const k of ['HTTPS_PROXY', 'https_proxy', 'grpc_proxy']) assert.equal(env[k], 'http://127.0.0.1:15101', k);
});

test('an app gets DEVMESH_UPSTREAM_<SERVICE>_<PORT> for each local upstream port, named by the short service name', () => {
  const withUpstreams = { ...info, upstreams: [{ service: 'redis.cache.svc.cluster.local', port: 6379, localPort: 16379 }, { service: 'ratings.default.svc.cluster.local', port: 9090, localPort: 19090 }] };
  const env = appEnvironment({}, { name: 'cart-v1', port: 9190 }, withUpstreams);
  assert.equal(env.DEVMESH_UPSTREAM_REDIS_6379, '127.0.0.1:16379');
  assert.equal(env.DEVMESH_UPSTREAM_RATINGS_9090, '127.0.0.1:19090');
});

test('the Mesh env cannot override PORT or the proxy, which devmesh owns', () => {
  const env = appEnvironment({}, { name: 'x', port: 9182, env: { PORT: '1', HTTP_PROXY: 'http://elsewhere' } }, info);
  assert.equal(env.PORT, '9182');
  assert.equal(env.HTTP_PROXY, 'http://127.0.0.1:15101');
});

test('cwd is resolved against the Mesh folder and `node` runs with the Node running devmesh', () => {
  const root = path.resolve(__dirname, '..', '..', '..');
  const r = resolveCommand({ name: 'w', port: 1, command: ['node', 'x.js'], cwd: 'examples' }, root);
  assert.equal(r.file, process.execPath);
  assert.equal(r.cwd, path.join(root, 'examples'));
  assert.deepEqual(r.args, ['x.js']);
});

test('a command found on PATH resolves to its file', () => {
  assert.equal(resolveCommand({ name: 'w', port: 1, command: ['sh', '-c', 'true'] }, '/', '/usr/bin:/bin').file.endsWith('/sh'), true);
});

test('a command that does not exist is an error naming the workload and what to do', () => {
  assert.throws(() => resolveCommand({ name: 'reviews-v1', port: 1, command: ['no-such-binary-xyz'] }, '/', '/usr/bin:/bin'),
    /command "no-such-binary-xyz" of workload reviews-v1 was not found on PATH; install it or write the full path/);
  assert.throws(() => resolveCommand({ name: 'w', port: 1, command: ['./missing.sh'] }, '/tmp'), /was not found or is not executable at \/tmp\/missing.sh/);
});

test('a cwd that is not a folder is an error that says cwd is relative to the Mesh file', () => {
  assert.throws(() => resolveCommand({ name: 'w', port: 1, command: ['node'], cwd: 'nope' }, '/tmp'), /cwd "nope" of workload w is not a folder .*relative to the Mesh file/);
});
