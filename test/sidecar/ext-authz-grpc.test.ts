/**
 * AuthorizationPolicy CUSTOM with an `envoyExtAuthzGrpc` provider on HTTP
 * requests, through real sidecars with a real gRPC authorizer (grpc-js,
 * l4/grpcAuthorizer.ts), as Envoy's HTTP ext_authz filter with a
 * grpc_service does (check_request_utils createHttpCheck,
 * ext_authz_grpc_impl): the CheckRequest carries the request's attributes
 * (and its body with includeRequestBodyInCheck); an OK status lets the
 * request on with the authorizer's header changes; a denial sends its
 * status, headers and body to the client (flag UAEX); a failed call answers
 * statusOnError unless failOpen. With the authorizer on 127.0.0.1, and as a
 * Mesh service called over mTLS.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { explainRequest } from '../../simulator/explain/walk';
import type { ExtensionProvider, Resource } from '../../simulator/policy/model';
import { startAuthorizer } from './extAuthzServer';
import { ap, freePort, startMeshFromSpec, startMeshRetrying, type Policies, type TestMesh } from './fixtures';
import { eventually } from './l4/fixtures';
import { startGrpcAuthorizer, type CheckAnswer, type SeenCheck } from './l4/grpcAuthorizer';

type GrpcProvider = NonNullable<ExtensionProvider['envoyExtAuthzGrpc']>;
const grpcProvider = (name: string, service: string, port: number, extra: Partial<GrpcProvider> = {}): ExtensionProvider => ({ name, envoyExtAuthzGrpc: { service, port, ...extra } });

const custom = (provider: string, paths = ['/headers', '/post']): Resource<'AuthorizationPolicy'> =>
  ap('ext-authz', { selector: { matchLabels: { app: 'httpbin' } }, action: 'CUSTOM', provider: { name: provider }, rules: [{ to: [{ operation: { paths } }] }] });

const header = (key: string, value: string, append?: boolean) => ({ header: { key, value }, ...(append === undefined ? {} : { append: { value: append } }) });

/** Allows `x-ext-authz: allow` (adding, appending and removing headers), denies the rest with a teapot. */
function decide(check: SeenCheck): CheckAnswer {
  const headers = check.attributes.request?.http?.headers ?? {};
  if (headers['x-ext-authz'] === 'allow') {
    return {
      status: { code: 0 },
      ok_response: {
        headers: [header('x-authz-user', 'alice'), header('x-ext-authz', 'checked', true), header('x-overwritten', 'by-authz', false)],
        headers_to_remove: ['x-secret'],
        response_headers_to_add: [header('x-authz-decision', 'allowed')],
      },
    };
  }
  return {
    status: { code: 7, message: 'no' },
    denied_response: { status: { code: 418 }, headers: [header('x-deny-reason', 'not a teapot owner')], body: 'no tea for you' },
  };
}

const SLEEP_ID = 'spiffe://cluster.local/ns/default/sa/sleep';
const HTTPBIN_ID = 'spiffe://cluster.local/ns/default/sa/httpbin';

describe('CUSTOM with an envoyExtAuthzGrpc provider on 127.0.0.1, on HTTP requests', () => {
  let mesh: TestMesh;
  let authorizer: Awaited<ReturnType<typeof startGrpcAuthorizer>>;
  let downPort: number;
  const get = (p: string, headers: Record<string, string> = {}) => mesh.request('sleep-v1', { url: `http://httpbin:8000${p}`, headers });
  const use = (provider: ExtensionProvider) => mesh.push({ extensionProviders: [provider], authorizationPolicies: [custom(provider.name)] });
  const lastCheck = () => authorizer.checks.at(-1)!.attributes.request!.http!;

  before(async () => {
    authorizer = await startGrpcAuthorizer(decide);
    downPort = await freePort();
    mesh = await startMeshRetrying([
      { name: 'httpbin', port: 8000, workloads: [{ name: 'httpbin-v1', labels: { app: 'httpbin' } }] },
      { name: 'sleep', port: 80, workloads: [{ name: 'sleep-v1', labels: { app: 'sleep' } }] },
    ], { extensionProviders: [grpcProvider('grpc-authz', '127.0.0.1', authorizer.port)], authorizationPolicies: [custom('grpc-authz')] });
  });
  after(async () => {
    await mesh.close();
    await authorizer.stop();
  });

  test('an allowed request reaches the app with the headers the authorizer set, appended and removed; the client gets its response headers', async () => {
    await use(grpcProvider('grpc-authz', '127.0.0.1', authorizer.port));
    const r = await get('/headers', { 'x-ext-authz': 'allow', 'x-secret': 'hunter2', 'x-overwritten': 'by-client' });
    assert.equal(r.status, 200);
    const seen = r.json().headers;
    assert.equal(seen['x-authz-user'], 'alice');
    assert.equal(seen['x-ext-authz'], 'allow,checked', 'append: true adds to the client\'s value');
    assert.equal(seen['x-overwritten'], 'by-authz', 'append: false overwrites');
    assert.equal(seen['x-secret'], undefined, 'headers_to_remove');
    assert.equal(r.headers['x-authz-decision'], 'allowed');
    assert.equal(mesh.sidecars.get('httpbin-v1')!.stats.get('ext_authz.ok') >= 1, true);
  });

  test('the CheckRequest carries the request\'s attributes and both principals', async () => {
    await get('/headers?x=1', { 'x-ext-authz': 'allow', 'X-Mixed-Case': 'v' });
    const check = authorizer.checks.at(-1)!;
    const http = lastCheck();
    assert.equal(http.method, 'GET');
    assert.equal(http.path, '/headers?x=1');
    assert.equal(http.host, 'httpbin:8000');
    // The hop from sleep's sidecar to httpbin's is HTTP/2 (the protocol httpbin's sidecar received).
    assert.equal(http.protocol, 'HTTP/2');
    assert.equal(http.headers['x-mixed-case'], 'v');
    assert.equal(http.headers[':authority'], 'httpbin:8000');
    assert.ok(http.id);
    assert.equal(http.body, undefined, 'no body unless includeRequestBodyInCheck');
    assert.equal(check.attributes.source?.principal, SLEEP_ID);
    assert.equal(check.attributes.destination?.principal, HTTPBIN_ID);
  });

  test('a denied request gets the authorizer\'s status, headers and body, flag UAEX; the app never sees it', async () => {
    const r = await get('/headers', { 'x-ext-authz': 'deny' });
    assert.equal(r.status, 418);
    assert.equal(r.text, 'no tea for you');
    assert.equal(r.headers['x-deny-reason'], 'not a teapot owner');
    assert.equal(r.headers['x-devmesh-response-flags'], 'UAEX');
    assert.equal(r.headers['x-devmesh-proxy-error'], 'ext-authz-denied');
    assert.equal(r.headers['x-app'], undefined);
    const entry = await eventually(() => mesh.sidecars.get('httpbin-v1')!.accessLog.tail().reverse().find((e) => e.listener === 'inbound' && e.response_code === 418), 'httpbin\'s entry');
    assert.equal(entry.response_flags, 'UAEX');
    assert.equal(mesh.sidecars.get('httpbin-v1')!.stats.get('ext_authz.denied') >= 1, true);
  });

  test('devmesh explain asks the gRPC provider, with its answer assumed', async () => {
    await use(grpcProvider('grpc-authz', '127.0.0.1', authorizer.port));
    const walk = (extAuthz: 'allow' | 'deny') => explainRequest(mesh.snapshot, { from: 'sleep-v1', method: 'GET', url: 'http://httpbin:8000/headers', headers: {}, appStatus: 200, extAuthz }, {});
    const denied = walk('deny');
    const step = denied.destinations.flatMap((d) => d.at).find((a) => a.workload === 'httpbin-v1')!;
    assert.equal(step.custom?.provider, 'grpc-authz');
    assert.equal(step.custom?.address, `127.0.0.1:${authorizer.port}`);
    assert.equal(step.refusedBy, 'CUSTOM');
    assert.deepEqual(denied.outcomes.map((o) => o.kind), ['refused']);
    assert.deepEqual(walk('allow').outcomes.map((o) => o.kind), ['answered']);
  });

  test('a path the rules do not match is not checked', async () => {
    const asked = authorizer.checks.length;
    assert.equal((await get('/ip')).status, 200);
    assert.equal(authorizer.checks.length, asked);
  });

  test('an authorizer that cannot be reached: statusOnError (403 by default), flag UAEX; failOpen lets the request through', async () => {
    await use(grpcProvider('down', '127.0.0.1', downPort));
    const r = await get('/headers');
    assert.equal(r.status, 403);
    assert.equal(r.headers['x-devmesh-response-flags'], 'UAEX');
    assert.equal(r.headers['x-devmesh-proxy-error'], 'ext-authz-error');
    await use(grpcProvider('down', '127.0.0.1', downPort, { statusOnError: '503' }));
    assert.equal((await get('/headers')).status, 503);
    await use(grpcProvider('down', '127.0.0.1', downPort, { failOpen: true }));
    const open = await get('/headers');
    assert.equal(open.status, 200);
    assert.equal(open.headers['x-app'], 'httpbin-v1');
  });

  test('includeRequestBodyInCheck sends the body in the check, and the app still gets all of it', async () => {
    await use(grpcProvider('grpc-authz', '127.0.0.1', authorizer.port, { includeRequestBodyInCheck: { maxRequestBytes: 1024 } }));
    const r = await mesh.request('sleep-v1', { url: 'http://httpbin:8000/post', method: 'POST', headers: { 'x-ext-authz': 'allow', 'content-type': 'text/plain' }, body: 'hello authorizer' });
    assert.equal(r.status, 200);
    assert.equal(r.json().bodyBytes, 'hello authorizer'.length);
    assert.equal(lastCheck().body, 'hello authorizer');
    assert.equal(lastCheck().size, 'hello authorizer'.length);
    assert.equal(lastCheck().headers['x-envoy-auth-partial-body'], 'false');
  });

  test('a body over maxRequestBytes: its start with allowPartialMessage (the app gets all of it), else 413', async () => {
    const body = 'x'.repeat(10_000);
    const post = () => mesh.request('sleep-v1', { url: 'http://httpbin:8000/post', method: 'POST', headers: { 'x-ext-authz': 'allow' }, body });
    await use(grpcProvider('grpc-authz', '127.0.0.1', authorizer.port, { includeRequestBodyInCheck: { maxRequestBytes: 100, allowPartialMessage: true } }));
    const partial = await post();
    assert.equal(partial.status, 200);
    assert.equal(partial.json().bodyBytes, body.length);
    assert.equal(lastCheck().body, 'x'.repeat(100));
    assert.equal(lastCheck().headers['x-envoy-auth-partial-body'], 'true');
    await use(grpcProvider('grpc-authz', '127.0.0.1', authorizer.port, { includeRequestBodyInCheck: { maxRequestBytes: 100 } }));
    const asked = authorizer.checks.length;
    assert.equal((await post()).status, 413);
    assert.equal(authorizer.checks.length, asked, 'not asked');
  });

  test('packAsBytes sends the body as raw_body', async () => {
    await use(grpcProvider('grpc-authz', '127.0.0.1', authorizer.port, { includeRequestBodyInCheck: { maxRequestBytes: 1024, packAsBytes: true } }));
    await mesh.request('sleep-v1', { url: 'http://httpbin:8000/post', method: 'POST', headers: { 'x-ext-authz': 'allow' }, body: 'bytes' });
    assert.equal(Buffer.from(lastCheck().raw_body!).toString(), 'bytes');
    assert.equal(lastCheck().body, undefined);
  });
});

describe('CUSTOM with an envoyExtAuthzGrpc provider that is a Mesh service, on HTTP requests', () => {
  let mesh: TestMesh;
  let authorizer: Awaited<ReturnType<typeof startGrpcAuthorizer>>;
  const policies: Policies = { authorizationPolicies: [custom('mesh-authz')], extensionProviders: [grpcProvider('mesh-authz', 'ext-authz.default.svc.cluster.local', 9191)] };

  before(async () => {
    authorizer = await startGrpcAuthorizer(decide);
    mesh = await startMeshFromSpec({
      services: [
        { name: 'httpbin', port: 8000, workloads: [{ name: 'httpbin-v1', labels: { app: 'httpbin' } }] },
        { name: 'sleep', port: 80, workloads: [{ name: 'sleep-v1', labels: { app: 'sleep' } }] },
        { name: 'ext-authz', ports: [{ name: 'grpc', port: 9191 }], workloads: [{ name: 'ext-authz-v1', labels: { app: 'ext-authz' }, ports: { '9191': 1 } }] },
      ],
    }, policies, { served: { 'ext-authz-v1:9191': authorizer.port } });
  });
  after(async () => {
    await mesh?.close();
    await authorizer?.stop();
  });

  test('the check goes through the mesh over mTLS (the authorizer\'s sidecar sees httpbin\'s identity) and decides', async () => {
    const ok = await mesh.request('sleep-v1', { url: 'http://httpbin:8000/headers', headers: { 'x-ext-authz': 'allow' } });
    assert.equal(ok.status, 200);
    assert.equal(ok.json().headers['x-authz-user'], 'alice');
    assert.equal(authorizer.checks.at(-1)!.attributes.source?.principal, SLEEP_ID);
    const denied = await mesh.request('sleep-v1', { url: 'http://httpbin:8000/headers' });
    assert.equal(denied.status, 418);
    // The authorizer's own sidecar took the Check over mTLS from httpbin's sidecar.
    const entry = await eventually(() => mesh.sidecars.get('ext-authz-v1')!.accessLog.tail().find((e) => e.listener === 'inbound' && e.path === '/envoy.service.auth.v3.Authorization/Check'), 'the authorizer\'s sidecar logged the Check');
    assert.equal(entry.downstream_peer, HTTPBIN_ID);
  });
});

describe('the demo\'s sample authorizer (examples/end-users/services/ext-authz.js) over its gRPC API, as Istio\'s samples/extauthz on port 9000', () => {
  let mesh: TestMesh;
  let sample: Awaited<ReturnType<typeof startAuthorizer>>;
  const get = (headers: Record<string, string> = {}) => mesh.request('sleep-v1', { url: 'http://httpbin:8000/headers', headers });

  before(async () => {
    const [httpPort, grpcPort] = [await freePort(), await freePort()];
    // The sample allows a check without x-ext-authz from this service account (its -allow_service_account).
    sample = await startAuthorizer(httpPort, { grpcPort, env: { ALLOW_SERVICE_ACCOUNT: 'sleep' } });
    mesh = await startMeshRetrying([
      { name: 'httpbin', port: 8000, workloads: [{ name: 'httpbin-v1', labels: { app: 'httpbin' } }] },
      { name: 'sleep', port: 80, workloads: [{ name: 'sleep-v1', labels: { app: 'sleep' } }] },
    ], { extensionProviders: [grpcProvider('sample-ext-authz-grpc', '127.0.0.1', grpcPort)], authorizationPolicies: [custom('sample-ext-authz-grpc')] });
  });
  after(async () => {
    await mesh?.close();
    await sample?.stop();
  });

  test('x-ext-authz: allow goes on with the sample\'s headers; deny gets 403, its body and x-ext-authz-check-result: denied', async () => {
    const ok = await get({ 'x-ext-authz': 'allow' });
    assert.equal(ok.status, 200);
    assert.equal(ok.json().headers['x-ext-authz-check-result'], 'allowed');
    assert.equal(ok.json().headers['x-ext-authz-additional-header-override'], 'grpc-additional-header-override-value');
    const denied = await get({ 'x-ext-authz': 'deny' });
    assert.equal(denied.status, 403);
    assert.equal(denied.text, 'denied by ext_authz for not found header `x-ext-authz: allow` in the request');
    assert.equal(denied.headers['x-ext-authz-check-result'], 'denied');
    assert.equal(denied.headers['x-devmesh-response-flags'], 'UAEX');
    assert.match(sample.grpcChecks().at(-1)!, /^\[gRPCv3\]\[denied\]: GET httpbin:8000\/headers, principal: spiffe:\/\/cluster\.local\/ns\/default\/sa\/sleep/);
  });

  test('a check without x-ext-authz is decided by the source principal\'s service account', async () => {
    assert.equal((await get()).status, 200);
    assert.match(sample.grpcChecks().at(-1)!, /^\[gRPCv3\]\[allowed\]/);
  });
});
