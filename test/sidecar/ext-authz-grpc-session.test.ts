/**
 * The sidecar's connection to a local gRPC authorizer, as Envoy keeps one
 * gRPC connection per ext_authz cluster: every Check of a sidecar shares one
 * HTTP/2 session; a Check that times out ends its own stream (the
 * authorizer sees it end unanswered) and the session serves the next one; an
 * authorizer that restarts is connected to again by the next Check; one that
 * refuses the connection is reported as such; the session ends when the
 * sidecar stops. A real grpc-js authorizer counts the TCP connections it
 * accepts.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ExtensionProvider, Resource } from '../../simulator/policy/model';
import { ap, freePort, startMeshRetrying, type TestMesh } from './fixtures';
import { eventually } from './l4/fixtures';
import { startGrpcAuthorizer, type CheckAnswer, type GrpcAuthorizer, type SeenCheck } from './l4/grpcAuthorizer';

type GrpcProvider = NonNullable<ExtensionProvider['envoyExtAuthzGrpc']>;
const provider = (port: number, extra: Partial<GrpcProvider> = {}): ExtensionProvider => ({ name: 'grpc-authz', envoyExtAuthzGrpc: { service: '127.0.0.1', port, ...extra } });
const custom: Resource<'AuthorizationPolicy'> = ap('ext-authz', { selector: { matchLabels: { app: 'httpbin' } }, action: 'CUSTOM', provider: { name: 'grpc-authz' }, rules: [{ to: [{ operation: { paths: ['/headers'] } }] }] });

/** `x-ext-authz: allow` is allowed; `x-slow` is never answered (until the test ends); the rest is denied. */
let releaseSlow: () => void = () => undefined;
const slow = new Promise<void>((resolve) => { releaseSlow = resolve; });
function decide(check: SeenCheck): CheckAnswer | Promise<CheckAnswer> {
  const headers = check.attributes.request?.http?.headers ?? {};
  if (headers['x-slow']) return slow.then(() => ({ status: { code: 0 } }));
  return headers['x-ext-authz'] === 'allow' ? { status: { code: 0 } } : { status: { code: 7 } };
}

describe('the HTTP/2 session to a local gRPC authorizer', () => {
  let mesh: TestMesh | undefined;
  let authorizer: GrpcAuthorizer;
  const get = (headers: Record<string, string>) => mesh!.request('sleep-v1', { url: 'http://httpbin:8000/headers', headers });
  const allowed = async () => assert.equal((await get({ 'x-ext-authz': 'allow' })).status, 200);

  before(async () => {
    authorizer = await startGrpcAuthorizer(decide);
    mesh = await startMeshRetrying([
      { name: 'httpbin', port: 8000, workloads: [{ name: 'httpbin-v1', labels: { app: 'httpbin' } }] },
      { name: 'sleep', port: 80, workloads: [{ name: 'sleep-v1', labels: { app: 'sleep' } }] },
    ], { extensionProviders: [provider(authorizer.port, { timeout: '300ms' })], authorizationPolicies: [custom] });
  });
  after(async () => {
    releaseSlow();
    await mesh?.close();
    await authorizer.stop();
  });

  test('many requests, one after another and at once, are checked over one connection', async () => {
    for (let i = 0; i < 10; i++) await allowed();
    const together = await Promise.all(Array.from({ length: 10 }, (_, i) => get({ 'x-ext-authz': i % 2 ? 'allow' : 'deny' })));
    assert.deepEqual(together.map((r) => r.status), Array.from({ length: 10 }, (_, i) => (i % 2 ? 200 : 403)));
    assert.equal(authorizer.checks.length, 20);
    assert.equal(authorizer.connections(), 1);
  });

  test('a Check that times out ends that call only: the authorizer sees it end unanswered, the next request uses the same connection', async () => {
    const before = authorizer.connections();
    const r = await get({ 'x-slow': '1' });
    assert.equal(r.status, 403);
    assert.match(r.text, /no decision within 300 ms \(timeout\)/);
    await eventually(() => (authorizer.cancelled() === 1 ? true : undefined), 'the authorizer to see the Check end unanswered');
    await allowed();
    assert.equal(authorizer.connections(), before);
    assert.equal(authorizer.open(), 1);
  });

  test('an authorizer that restarts on the same port: the next request connects again and is checked', async () => {
    const port = authorizer.port;
    await authorizer.stop();
    authorizer = await startGrpcAuthorizer(decide, { port });
    await allowed();
    assert.equal(authorizer.connections(), 1);
    assert.equal(authorizer.checks.length, 1);
  });

  test('an authorizer that refuses the connection: statusOnError, with "connection refused by HOST:PORT"; once it listens, the next request is checked', async () => {
    const down = await freePort();
    await mesh!.push({ extensionProviders: [provider(down)], authorizationPolicies: [custom] });
    for (let i = 0; i < 2; i++) {
      const r = await get({ 'x-ext-authz': 'allow' });
      assert.equal(r.status, 403);
      assert.equal(r.headers['x-devmesh-proxy-error'], 'ext-authz-error');
      assert.match(r.text, new RegExp(`connection refused by 127\\.0\\.0\\.1:${down}`));
    }
    const late = await startGrpcAuthorizer(decide, { port: down });
    try {
      await allowed();
      assert.equal(late.connections(), 1);
    } finally {
      await late.stop();
    }
    await mesh!.push({ extensionProviders: [provider(authorizer.port, { timeout: '300ms' })], authorizationPolicies: [custom] });
  });

  test('the connection closes when the sidecar stops', async () => {
    await allowed();
    assert.equal(authorizer.open(), 1);
    await mesh!.close();
    mesh = undefined;
    await eventually(() => (authorizer.open() === 0 ? true : undefined), 'the authorizer\'s connection to close');
  });
});
