/**
 * External authorization (AuthorizationPolicy CUSTOM) through real sidecars,
 * with a real authorizer process: examples/end-users/services/ext-authz.js,
 * which behaves as Istio's samples/extauthz. Istio's "External
 * Authorization" task (security/authorization/authz-custom), an authorizer
 * in the mesh and one on 127.0.0.1, failures, and the order CUSTOM, DENY, ALLOW.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { ExtensionProvider, MeshSpec, Resource } from '../../simulator/policy/model';
import { startAuthorizer } from './extAuthzServer';
import { ap, freePort, startMeshFromSpec, startMeshRetrying, type Policies, type TestMesh } from './fixtures';

const DENY_BODY = 'denied by ext_authz for not found header `x-ext-authz: allow` in the request';

const httpProvider = (name: string, service: string, port: number | string, extra: Partial<NonNullable<ExtensionProvider['envoyExtAuthzHttp']>> = {}): ExtensionProvider =>
  ({ name, envoyExtAuthzHttp: { service, port, includeRequestHeadersInCheck: ['x-ext-authz'], ...extra } });

const custom = (provider: string, paths = ['/headers']): Resource<'AuthorizationPolicy'> =>
  ap('ext-authz', { selector: { matchLabels: { app: 'httpbin' } }, action: 'CUSTOM', provider: { name: provider }, rules: [{ to: [{ operation: { paths } }] }] });

describe('External authorization with an authorizer in the mesh (Istio task authz-custom)', () => {
  let mesh: TestMesh;
  let authorizer: Awaited<ReturnType<typeof startAuthorizer>>;
  const providers = (extra: Partial<NonNullable<ExtensionProvider['envoyExtAuthzHttp']>> = {}) =>
    [httpProvider('sample-ext-authz-http', 'ext-authz.default.svc.cluster.local', '8000', extra)];
  const get = (p: string, headers: Record<string, string> = {}) => mesh.request('sleep-v1', { url: `http://httpbin:8000${p}`, headers });

  before(async () => {
    const port = await freePort();
    authorizer = await startAuthorizer(port);
    mesh = await startMeshRetrying([
      { name: 'httpbin', port: 8000, workloads: [{ name: 'httpbin-v1', labels: { app: 'httpbin' } }] },
      { name: 'sleep', port: 80, workloads: [{ name: 'sleep-v1', labels: { app: 'sleep' } }] },
      { name: 'ext-authz', port: 8000, workloads: [{ name: 'ext-authz-v1', labels: { app: 'ext-authz' }, appPort: port }] },
    ], { extensionProviders: providers(), authorizationPolicies: [custom('sample-ext-authz-http')] });
  });
  after(async () => {
    await mesh.close();
    await authorizer.stop();
  });

  test('a request the authorizer denies gets its 403 and body, flag UAEX', async () => {
    const r = await get('/headers', { 'x-ext-authz': 'deny' });
    assert.equal(r.status, 403);
    assert.equal(r.text, DENY_BODY);
    assert.equal(r.headers['x-devmesh-response-flags'], 'UAEX');
    assert.equal(r.headers['x-devmesh-proxy-error'], 'ext-authz-denied');
    // headersToDownstreamOnDeny is not set: the authorizer's headers go back to the client.
    assert.equal(r.headers['x-ext-authz-check-result'], 'denied');
  });

  test('a request with x-ext-authz: allow reaches the app; the check went through the mesh with httpbin\'s identity', async () => {
    const r = await get('/headers', { 'x-ext-authz': 'allow' });
    assert.equal(r.status, 200);
    assert.equal(r.json().headers['x-ext-authz'], 'allow');
    // headersToUpstreamOnAllow is not set: the app gets the request unchanged.
    assert.equal(r.json().headers['x-ext-authz-check-result'], undefined);
    const check = authorizer.checks().at(-1)!;
    assert.match(check, /^\[HTTP\]\[allowed\]: GET httpbin:8000\/headers/);
    assert.match(check, /URI=spiffe:\/\/cluster\.local\/ns\/default\/sa\/httpbin/);
    assert.match(check, /"content-length":"0"/);
  });

  test('a path the CUSTOM rules do not match is not sent to the authorizer', async () => {
    const before = authorizer.checks().length;
    assert.equal((await get('/ip')).status, 200);
    assert.equal(authorizer.checks().length, before);
  });

  test('headersToUpstreamOnAllow and headersToDownstreamOnAllow copy the authorizer\'s headers', async () => {
    await mesh.push({ extensionProviders: providers({ headersToUpstreamOnAllow: ['x-ext-authz-check-*'], headersToDownstreamOnAllow: ['x-ext-authz-check-result'] }), authorizationPolicies: [custom('sample-ext-authz-http')] });
    const r = await get('/headers', { 'x-ext-authz': 'allow' });
    assert.equal(r.status, 200);
    assert.equal(r.json().headers['x-ext-authz-check-result'], 'allowed');
    assert.ok(r.json().headers['x-ext-authz-check-received']);
    assert.equal(r.headers['x-ext-authz-check-result'], 'allowed');
  });

  test('CUSTOM runs before DENY: the authorizer\'s denial wins, and an allowed request still meets the DENY policy', async () => {
    const deny = ap('deny-headers', { selector: { matchLabels: { app: 'httpbin' } }, action: 'DENY', rules: [{ to: [{ operation: { paths: ['/headers'] } }] }] });
    await mesh.push({ extensionProviders: providers(), authorizationPolicies: [custom('sample-ext-authz-http'), deny] });
    const denied = await get('/headers', { 'x-ext-authz': 'deny' });
    assert.equal(denied.text, DENY_BODY);
    const allowed = await get('/headers', { 'x-ext-authz': 'allow' });
    assert.equal(allowed.status, 403);
    assert.equal(allowed.text, 'RBAC: access denied\n');
  });
});

describe('External authorization with a local process, and when the authorizer fails', () => {
  let mesh: TestMesh;
  let authorizer: Awaited<ReturnType<typeof startAuthorizer>>;
  let authorizerPort: number;
  let silent: net.Server;
  let silentPort: number;
  let downPort: number;
  const get = (p: string, headers: Record<string, string> = {}) => mesh.request('sleep-v1', { url: `http://httpbin:8000${p}`, headers });
  const use = (provider: ExtensionProvider, policies: Partial<Policies> = {}) =>
    mesh.push({ extensionProviders: [provider], authorizationPolicies: [custom(provider.name)], ...policies });

  before(async () => {
    authorizerPort = await freePort();
    authorizer = await startAuthorizer(authorizerPort);
    // Accepts connections and never answers: a provider that times out.
    silent = net.createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    silentPort = (silent.address() as AddressInfo).port;
    downPort = await freePort();
    mesh = await startMeshRetrying([
      { name: 'httpbin', port: 8000, workloads: [{ name: 'httpbin-v1', labels: { app: 'httpbin' } }] },
      { name: 'sleep', port: 80, workloads: [{ name: 'sleep-v1', labels: { app: 'sleep' } }] },
    ]);
  });
  after(async () => {
    await mesh.close();
    await authorizer.stop();
    silent.close();
  });

  test('a process on 127.0.0.1 decides as the same authorizer in the mesh does', async () => {
    await use(httpProvider('local-authz', '127.0.0.1', authorizerPort));
    assert.equal((await get('/headers', { 'x-ext-authz': 'deny' })).text, DENY_BODY);
    assert.equal((await get('/headers', { 'x-ext-authz': 'allow' })).status, 200);
    assert.match(authorizer.checks().at(-1)!, /^\[HTTP\]\[allowed\]: GET httpbin:8000\/headers/);
  });

  test('pathPrefix and includeAdditionalHeadersInCheck shape the check request', async () => {
    await use(httpProvider('local-authz', 'localhost', authorizerPort, { pathPrefix: '/check', includeAdditionalHeadersInCheck: { 'x-ext-authz': 'allow' } }));
    assert.equal((await get('/headers?x=1', { 'x-ext-authz': 'deny' })).status, 200);
    assert.match(authorizer.checks().at(-1)!, /GET httpbin:8000\/check\/headers\?x=1/);
  });

  test('an authorizer that cannot be reached: 403 with flag UAEX; failOpen lets the request through; statusOnError changes the status', async () => {
    await use(httpProvider('down', '127.0.0.1', downPort));
    const r = await get('/headers');
    assert.equal(r.status, 403);
    assert.equal(r.headers['x-devmesh-response-flags'], 'UAEX');
    assert.equal(r.headers['x-devmesh-proxy-error'], 'ext-authz-error');
    assert.match(r.text, /connection refused/);
    await use(httpProvider('down', '127.0.0.1', downPort, { failOpen: true }));
    assert.equal((await get('/headers')).status, 200);
    await use(httpProvider('down', '127.0.0.1', downPort, { statusOnError: '503' }));
    assert.equal((await get('/headers')).status, 503);
  });

  test('an authorizer that does not answer within its timeout is a failure too', async () => {
    await use(httpProvider('silent', '127.0.0.1', silentPort, { timeout: '200ms' }));
    const r = await get('/headers');
    assert.equal(r.status, 403);
    assert.match(r.text, /no decision within 200 ms/);
  });

  test('a CUSTOM policy naming no provider of the Mesh denies what it matches (pilot makes it a DENY), and nothing else', async () => {
    await mesh.push({ extensionProviders: [], authorizationPolicies: [custom('no-such-provider')] });
    const r = await get('/headers');
    assert.equal(r.status, 403);
    assert.equal(r.text, 'RBAC: access denied\n');
    assert.equal(r.headers['x-devmesh-proxy-error'], 'ext-authz-bad-provider');
    assert.equal((await get('/ip')).status, 200);
  });

  test('the sidecar counts its ext_authz decisions', async () => {
    const stats = mesh.sidecars.get('httpbin-v1')!.stats;
    assert.ok(stats.get('ext_authz.denied') >= 1);
    assert.ok(stats.get('ext_authz.ok') >= 1);
    assert.ok(stats.get('ext_authz.error') >= 2);
    assert.ok(stats.get('ext_authz.bad_custom_action') >= 1);
  });
});


describe('An authorizer in another namespace, on the second port of its service, for a policy in the root namespace', () => {
  let mesh: TestMesh;
  let authorizer: Awaited<ReturnType<typeof startAuthorizer>>;
  const FQDN = 'ext-authz.authz.svc.cluster.local';
  // The authorizer's first port is an echo app that answers 200 to anything: a check sent there would allow every request.
  const spec = (authorizerPort: number): MeshSpec => ({
    namespace: 'default',
    services: [
      { name: 'httpbin', port: 8000, workloads: [{ name: 'httpbin-v1', port: 1 }] },
      { name: 'sleep', namespace: 'front', port: 80, workloads: [{ name: 'sleep-v1', port: 1 }] },
      {
        name: 'ext-authz', namespace: 'authz',
        ports: [{ name: 'http', port: 8080 }, { name: 'http-check', port: 8000, targetPort: 'check' }],
        workloads: [{ name: 'ext-authz-v1', ports: { '8080': 1, check: authorizerPort } }],
      },
    ],
  });
  // Written in istio-system, the root namespace: it selects httpbin in default.
  const rootCustom = ap('ext-authz', { selector: { matchLabels: { app: 'httpbin' } }, action: 'CUSTOM', provider: { name: 'authz' }, rules: [{ to: [{ operation: { paths: ['/headers'] } }] }] }, 'istio-system');
  const get = (headers: Record<string, string> = {}) => mesh.request('sleep-v1', { url: 'http://httpbin.default:8000/headers', headers });

  before(async () => {
    const port = await freePort();
    authorizer = await startAuthorizer(port);
    mesh = await startMeshFromSpec(spec(port), { extensionProviders: [httpProvider('authz', FQDN, 8000)], authorizationPolicies: [rootCustom] }, { served: { 'ext-authz-v1:check': port } });
  });
  after(async () => {
    await mesh.close();
    await authorizer.stop();
  });

  test('the check reaches the authorizer by its FQDN and service port 8000 (targetPort check), with httpbin\'s identity', async () => {
    const denied = await get({ 'x-ext-authz': 'deny' });
    assert.equal(denied.status, 403);
    assert.equal(denied.text, DENY_BODY);
    assert.equal((await get({ 'x-ext-authz': 'allow' })).status, 200);
    assert.match(authorizer.checks().at(-1)!, /URI=spiffe:\/\/cluster\.local\/ns\/default\/sa\/httpbin/);
  });

  test('`namespace/host` names it too; a port the service lacks makes the provider unusable, so the policy denies what it matches', async () => {
    await mesh.push({ extensionProviders: [httpProvider('authz', `authz/${FQDN}`, 8000)], authorizationPolicies: [rootCustom] });
    assert.equal((await get({ 'x-ext-authz': 'deny' })).text, DENY_BODY);
    await mesh.push({ extensionProviders: [httpProvider('authz', FQDN, 9000)], authorizationPolicies: [rootCustom] });
    const r = await get({ 'x-ext-authz': 'allow' });
    assert.equal(r.status, 403);
    assert.equal(r.headers['x-devmesh-proxy-error'], 'ext-authz-bad-provider');
  });
});
