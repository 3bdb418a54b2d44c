/**
 * An `envoyExtAuthzHttp` provider with includeRequestBodyInCheck, as Envoy's
 * HTTP ext_authz with with_request_body: the check request carries the
 * buffered request body (Content-Length its size) up to maxRequestBytes; a
 * larger body is answered 413 without asking (even with failOpen) unless
 * allowPartialMessage, which sends its start; x-envoy-auth-partial-body
 * goes with it when includeRequestHeadersInCheck names it. The app always
 * gets the whole body. A real HTTP authorizer that decides on the body, on
 * 127.0.0.1 and as a Mesh service.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ExtensionProvider, Resource } from '../../simulator/policy/model';
import { ap, startMeshRetrying, type TestMesh } from './fixtures';

type HttpProvider = NonNullable<ExtensionProvider['envoyExtAuthzHttp']>;
interface SeenCheck { method: string; url: string; headers: http.IncomingHttpHeaders; body: string }

/** Allows a request whose body says "please"; denies the rest with 403 and a body that says why. */
async function startBodyAuthorizer(): Promise<{ port: number; checks: SeenCheck[]; stop: () => Promise<void> }> {
  const checks: SeenCheck[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      checks.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      if (body.includes('please')) return res.writeHead(200, { 'x-body-checked': 'yes' }).end();
      res.writeHead(403, { 'content-type': 'text/plain' }).end('no magic word in the body');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (server.address() as AddressInfo).port,
    checks,
    stop: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

describe('CUSTOM with an envoyExtAuthzHttp provider that includes the request body', () => {
  let mesh: TestMesh;
  let authorizer: Awaited<ReturnType<typeof startBodyAuthorizer>>;
  const custom: Resource<'AuthorizationPolicy'> = ap('ext-authz', { selector: { matchLabels: { app: 'httpbin' } }, action: 'CUSTOM', provider: { name: 'body-authz' }, rules: [{ to: [{ operation: { paths: ['/post', '/headers'] } }] }] });
  const use = (service: string, port: number, extra: Partial<HttpProvider>) => mesh.push({ extensionProviders: [{ name: 'body-authz', envoyExtAuthzHttp: { service, port, ...extra } }], authorizationPolicies: [custom] });
  const local = (extra: Partial<HttpProvider>) => use('127.0.0.1', authorizer.port, extra);
  const post = (body: string) => mesh.request('sleep-v1', { url: 'http://httpbin:8000/post', method: 'POST', headers: { 'content-type': 'text/plain' }, body });
  const last = () => authorizer.checks.at(-1)!;

  before(async () => {
    authorizer = await startBodyAuthorizer();
    mesh = await startMeshRetrying([
      { name: 'httpbin', port: 8000, workloads: [{ name: 'httpbin-v1', labels: { app: 'httpbin' } }] },
      { name: 'sleep', port: 80, workloads: [{ name: 'sleep-v1', labels: { app: 'sleep' } }] },
      { name: 'ext-authz', port: 8000, workloads: [{ name: 'ext-authz-v1', labels: { app: 'ext-authz' }, appPort: authorizer.port }] },
    ], { extensionProviders: [{ name: 'body-authz', envoyExtAuthzHttp: { service: '127.0.0.1', port: authorizer.port, includeRequestBodyInCheck: { maxRequestBytes: 1024 } } }], authorizationPolicies: [custom] });
  });
  after(async () => {
    await mesh.close();
    await authorizer.stop();
  });

  test('the authorizer decides on the body: the check carries it with its Content-Length, and an allowed request reaches the app whole', async () => {
    await local({ includeRequestBodyInCheck: { maxRequestBytes: 1024 } });
    const ok = await post('please let me in');
    assert.equal(ok.status, 200);
    assert.equal(ok.json().bodyBytes, 'please let me in'.length);
    assert.equal(last().method, 'POST');
    assert.equal(last().url, '/post');
    assert.equal(last().body, 'please let me in');
    assert.equal(last().headers['content-length'], String('please let me in'.length));
    assert.equal(last().headers['x-envoy-auth-partial-body'], undefined, 'not named in includeRequestHeadersInCheck');
    const denied = await post('let me in');
    assert.equal(denied.status, 403);
    assert.equal(denied.text, 'no magic word in the body');
    assert.equal(denied.headers['x-devmesh-proxy-error'], 'ext-authz-denied');
  });

  test('without includeRequestBodyInCheck the check has no body (Content-Length 0)', async () => {
    await local({});
    const r = await post('please let me in');
    assert.equal(r.status, 403);
    assert.equal(last().body, '');
    assert.equal(last().headers['content-length'], '0');
  });

  test('a request without a body is checked without one, and without x-envoy-auth-partial-body', async () => {
    await local({ includeRequestBodyInCheck: { maxRequestBytes: 1024 }, includeRequestHeadersInCheck: ['x-envoy-auth-partial-body'] });
    const asked = authorizer.checks.length;
    assert.equal((await mesh.request('sleep-v1', { url: 'http://httpbin:8000/headers' })).status, 403);
    assert.equal(authorizer.checks.length, asked + 1);
    assert.equal(last().method, 'GET');
    assert.equal(last().body, '');
    assert.equal(last().headers['content-length'], '0');
    assert.equal(last().headers['x-envoy-auth-partial-body'], undefined);
  });

  test('a body over maxRequestBytes with allowPartialMessage: the check gets its start (x-envoy-auth-partial-body: true when named), the app all of it', async () => {
    await local({ includeRequestBodyInCheck: { maxRequestBytes: 100, allowPartialMessage: true }, includeRequestHeadersInCheck: ['x-envoy-auth-partial-body'] });
    const body = `please ${'x'.repeat(10_000)}`;
    const r = await post(body);
    assert.equal(r.status, 200);
    assert.equal(r.json().bodyBytes, body.length);
    assert.equal(last().body, body.slice(0, 100));
    assert.equal(last().headers['content-length'], '100');
    assert.equal(last().headers['x-envoy-auth-partial-body'], 'true');
    // The magic word past the first 100 bytes is not seen.
    assert.equal((await post(`${'x'.repeat(200)} please`)).status, 403);
    assert.equal((await post('please, a short one')).status, 200);
    assert.equal(last().headers['x-envoy-auth-partial-body'], 'false');
  });

  test('a body over maxRequestBytes without allowPartialMessage: 413 without asking, even with failOpen', async () => {
    for (const failOpen of [false, true]) {
      await local({ includeRequestBodyInCheck: { maxRequestBytes: 100 }, failOpen });
      const asked = authorizer.checks.length;
      const r = await post(`please ${'x'.repeat(10_000)}`);
      assert.equal(r.status, 413);
      assert.equal(authorizer.checks.length, asked, 'not asked');
    }
    // At the limit it is asked.
    assert.equal((await post(`please ${'x'.repeat(93)}`)).status, 200);
  });

  test('an authorizer that is a Mesh service gets the body through the mesh', async () => {
    await use('ext-authz.default.svc.cluster.local', 8000, { includeRequestBodyInCheck: { maxRequestBytes: 1024 } });
    const r = await post('please, through the mesh');
    assert.equal(r.status, 200);
    assert.equal(last().body, 'please, through the mesh');
    assert.equal(last().headers['content-length'], String('please, through the mesh'.length));
    assert.ok(last().headers['x-forwarded-client-cert'], 'it came through the authorizer\'s sidecar');
    assert.equal((await post('no magic word')).status, 403);
  });
});
