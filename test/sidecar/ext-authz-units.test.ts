/**
 * The pure decisions of external authorization: which provider a name means,
 * the check request, how the answer is read, and when CUSTOM asks at all.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ExtensionProvider } from '../../simulator/policy/model';
import { customDecision, type AuthzRequest } from '../../simulator/sidecar/security/authorization';
import { checkRequest, checkVerdict, headerNameMatches, resolveProviders, type ResolvedProvider } from '../../simulator/sidecar/security/extAuthz';
import { grpcCheckVerdict, httpCheckAttributes } from '../../simulator/sidecar/security/extAuthzGrpc';
import { extAuthzRoot } from '../../simulator/sidecar/security/extAuthzProto';
import { compileTables } from '../../simulator/sidecar/tables';
import { ap, snapshotOf } from './fixtures';

const tables = compileTables(snapshotOf([
  { name: 'ext-authz', port: 8000, workloads: [{ name: 'ext-authz-v1' }] },
  { name: 'httpbin', port: 8000, workloads: [{ name: 'httpbin-v1' }] },
]), null);

const resolve = (...providers: ExtensionProvider[]) => resolveProviders(providers, tables);
const usable = (name: string, providers: ExtensionProvider[]): ResolvedProvider => {
  const r = resolve(...providers).get(name);
  assert.ok(r && 'provider' in r, JSON.stringify(r));
  return r.provider;
};

describe('which authorizer a provider names', () => {
  test('a Mesh service by its full name (optionally ns/), or a loopback address', () => {
    const p = usable('a', [{ name: 'a', envoyExtAuthzHttp: { service: 'ext-authz.default.svc.cluster.local', port: '8000' } }]);
    assert.deepEqual([p.target.kind, p.target.port, p.statusOnError, p.timeoutMs], ['mesh', 8000, 403, 600_000]);
    assert.equal(usable('b', [{ name: 'b', envoyExtAuthzHttp: { service: 'default/ext-authz.default.svc.cluster.local', port: 8000 } }]).target.kind, 'mesh');
    assert.deepEqual(usable('c', [{ name: 'c', envoyExtAuthzHttp: { service: 'localhost', port: 9000 } }]).target, { kind: 'local', host: '127.0.0.1', port: 9000 });
  });

  test('a short name, a missing port, a bad status or a lone "*" make the provider unusable, with pilot\'s reason', () => {
    const problems = resolve(
      { name: 'short', envoyExtAuthzHttp: { service: 'ext-authz', port: 8000 } },
      { name: 'port', envoyExtAuthzHttp: { service: 'ext-authz.default.svc.cluster.local', port: 9000 } },
      { name: 'status', envoyExtAuthzHttp: { service: '127.0.0.1', port: 9000, statusOnError: 'abc' } },
      { name: 'star', envoyExtAuthzHttp: { service: '127.0.0.1', port: 9000, includeRequestHeadersInCheck: ['*'] } },
      { name: 'zipkin', zipkin: { service: 'z', port: 9411 } },
    );
    const why = (n: string) => (problems.get(n) as { problem: string }).problem;
    assert.match(why('short'), /could not find service ext-authz in the mesh/);
    assert.match(why('port'), /has no port 9000 \(it has 8000\)/);
    assert.match(why('status'), /invalid statusOnError "abc"/);
    assert.match(why('star'), /a single wildcard/);
    assert.match(why('zipkin'), /not an external authorizer/);
  });

  test('header lists take exact, prefix* and *suffix names, case-insensitively', () => {
    assert.ok(headerNameMatches(['x-ext-authz'], 'X-Ext-Authz'));
    assert.ok(headerNameMatches(['x-auth-*'], 'x-auth-user'));
    assert.ok(headerNameMatches(['*-token'], 'id-token'));
    assert.ok(!headerNameMatches(['x-auth-*'], 'x-other'));
  });
});

describe('the check request and the verdict', () => {
  const p = usable('a', [{ name: 'a', envoyExtAuthzHttp: {
    service: '127.0.0.1', port: 9000, pathPrefix: '/check', includeRequestHeadersInCheck: ['x-ext-authz'],
    includeAdditionalHeadersInCheck: { 'X-Tenant': 'blue' }, headersToUpstreamOnAllow: ['x-user'], headersToDownstreamOnDeny: ['x-reason'],
  } }]);

  test('carries method, prefixed path with query, Host, Authorization and the listed headers, without a body', () => {
    const c = checkRequest(p, { method: 'POST', path: '/admin?x=1', authority: 'httpbin:8000', headers: { authorization: 'Bearer t', 'x-ext-authz': 'allow', cookie: 'c=1', 'content-length': '12' } });
    assert.deepEqual(c, { method: 'POST', path: '/check/admin?x=1', authority: 'httpbin:8000', headers: { authorization: 'Bearer t', 'x-ext-authz': 'allow', 'x-tenant': 'blue', 'content-length': '0' } });
  });

  test('with a buffered body: the body and its size, and x-envoy-auth-partial-body only when the provider lists it', () => {
    const head = Buffer.from('hello');
    const c = checkRequest(p, { method: 'POST', path: '/p', authority: 'h', headers: { 'x-ext-authz': 'allow' } }, { head, complete: false });
    assert.deepEqual(c.headers, { 'x-ext-authz': 'allow', 'x-tenant': 'blue', 'content-length': '5' });
    assert.equal(c.body, head);
    const listed = usable('c', [{ name: 'c', envoyExtAuthzHttp: { service: '127.0.0.1', port: 9000, includeRequestHeadersInCheck: ['x-envoy-auth-*'], includeRequestBodyInCheck: { maxRequestBytes: 5 } } }]);
    assert.equal(listed.requestBody?.maxBytes, 5);
    assert.equal(checkRequest(listed, { method: 'POST', path: '/p', authority: 'h', headers: {} }, { head, complete: false }).headers['x-envoy-auth-partial-body'], 'true');
    assert.equal(checkRequest(listed, { method: 'POST', path: '/p', authority: 'h', headers: {} }, { head, complete: true }).headers['x-envoy-auth-partial-body'], 'false');
    // maxRequestBytes 0 or unset never sends the whole body (Envoy refuses it; validate says so).
    for (const b of [{ maxRequestBytes: 0 }, {}]) {
      assert.equal(usable('z', [{ name: 'z', envoyExtAuthzHttp: { service: '127.0.0.1', port: 9000, includeRequestBodyInCheck: b } }]).requestBody?.maxBytes, 0);
    }
    // An empty body sends none: Content-Length 0.
    const empty = checkRequest(listed, { method: 'POST', path: '/p', authority: 'h', headers: {} }, { head: Buffer.alloc(0), complete: true });
    assert.equal(empty.body, undefined);
    assert.equal(empty.headers['content-length'], '0');
  });

  test('200 allows with the listed headers; another status denies with its body; 5xx and no answer are errors', () => {
    assert.deepEqual(checkVerdict(p, { status: 200, headers: { 'x-user': 'alice', 'x-other': 'no' }, body: '' }), { kind: 'allow', upstream: { 'x-user': 'alice' }, downstream: {} });
    assert.deepEqual(checkVerdict(p, { status: 401, headers: { 'x-reason': 'r', 'www-authenticate': 'Basic', 'x-other': 'no' }, body: 'who are you' }),
      { kind: 'deny', status: 401, headers: { 'x-reason': 'r', 'www-authenticate': 'Basic' }, body: 'who are you' });
    assert.equal(checkVerdict(p, { status: 503, headers: {}, body: '' }).kind, 'error');
    assert.deepEqual(checkVerdict(p, { error: 'connection refused' }), { kind: 'error', why: 'connection refused' });
  });

  test('without headersToDownstreamOnDeny every header of the denial goes back, but the ones of its own transfer', () => {
    const q = usable('b', [{ name: 'b', envoyExtAuthzHttp: { service: '127.0.0.1', port: 9000 } }]);
    const v = checkVerdict(q, { status: 403, headers: { 'x-ext-authz-check-result': 'denied', 'content-length': '5', date: 'now' }, body: 'nope!' });
    assert.deepEqual(v, { kind: 'deny', status: 403, headers: { 'x-ext-authz-check-result': 'denied' }, body: 'nope!' });
  });
});

describe('when CUSTOM asks', () => {
  const req: AuthzRequest = { method: 'GET', path: '/headers', host: 'httpbin', port: 8000, headers: {} };
  const custom = (name: string, provider: string, paths: string[], annotations?: Record<string, string>) => {
    const p = ap(name, { action: 'CUSTOM', provider: { name: provider }, rules: [{ to: [{ operation: { paths } }] }] });
    if (annotations) p.metadata.annotations = annotations;
    return p;
  };
  const ok = () => undefined;

  test('only when a rule matches, and only enforced policies', () => {
    assert.deepEqual(customDecision([custom('a', 'p', ['/ip'])], req, 'default', ok), { kind: 'none' });
    assert.deepEqual(customDecision([custom('a', 'p', ['/headers'])], req, 'default', ok), { kind: 'ask', provider: 'p', policies: ['default/a'] });
    assert.deepEqual(customDecision([custom('a', 'p', ['/headers'], { 'istio.io/dry-run': 'true' })], req, 'default', ok), { kind: 'none' });
  });

  test('an unusable provider, or two providers on one proxy, deny what the rules match', () => {
    assert.deepEqual(customDecision([custom('a', 'p', ['/headers'])], req, 'default', () => 'gone'), { kind: 'deny', policy: 'default/a', why: 'gone' });
    const two = customDecision([custom('a', 'p', ['/headers']), custom('b', 'q', ['/other'])], req, 'default', ok);
    assert.equal(two.kind, 'deny');
  });
});

describe('the gRPC check of an HTTP request', () => {
  const CheckResponse = extAuthzRoot().lookupType('envoy.service.auth.v3.CheckResponse');
  const answer = (o: Record<string, unknown>) => ({ grpcStatus: 0, message: Buffer.from(CheckResponse.encode(CheckResponse.fromObject(o)).finish()) });
  const request = { requestId: 'r1', method: 'POST', path: '/a?b=1', authority: 'httpbin:8000', scheme: 'http', httpVersion: '1.1', source: {}, destination: {} };

  test('the attributes: pseudo-headers as Envoy\'s map has them, no host, repeated values joined, size from Content-Length (-1 unknown)', () => {
    const a = httpCheckAttributes({ ...request, headers: { host: 'httpbin:8000', 'content-length': '5', 'x-a': ['1', '2'] } }).http!;
    assert.deepEqual(a.headers, { ':authority': 'httpbin:8000', ':method': 'POST', ':path': '/a?b=1', ':scheme': 'http', 'content-length': '5', 'x-a': '1,2' });
    assert.equal(a.size, 5);
    assert.equal(a.protocol, 'HTTP/1.1');
    assert.equal(httpCheckAttributes({ ...request, httpVersion: '2.0', headers: {} }).http!.size, -1);
    assert.equal(httpCheckAttributes({ ...request, httpVersion: '2.0', headers: {} }).http!.protocol, 'HTTP/2');
  });

  test('a body included says whether it is all of it', () => {
    const a = httpCheckAttributes({ ...request, headers: {}, body: { head: Buffer.from('abc'), complete: false, asBytes: false } }).http!;
    assert.equal(a.headers['x-envoy-auth-partial-body'], 'true');
    assert.deepEqual(a.body, { data: Buffer.from('abc'), asBytes: false });
  });

  test('OK: ok_response\'s headers (append unset = overwrite), removals (lower-cased) and response headers', () => {
    const v = grpcCheckVerdict(answer({ status: { code: 0 }, ok_response: {
      headers: [{ header: { key: 'X-User', value: 'a' } }, { header: { key: 'x-tag', value: 't' }, append: { value: true } }],
      headers_to_remove: ['X-Secret'],
      response_headers_to_add: [{ header: { key: 'x-r', value: '1' } }],
    } }));
    assert.deepEqual(v, { kind: 'allow', upstream: [{ name: 'x-user', value: 'a', append: false }, { name: 'x-tag', value: 't', append: true }], remove: ['x-secret'], downstream: [{ name: 'x-r', value: '1', append: false }] });
  });

  test('a denial: denied_response\'s status, else 403', () => {
    const v = grpcCheckVerdict(answer({ status: { code: 16 }, denied_response: { status: { code: 401 }, headers: [{ header: { key: 'www-authenticate', value: 'Bearer' } }], body: 'who?' } }));
    assert.deepEqual(v, { kind: 'deny', code: 16, message: '', status: 401, headers: [{ name: 'www-authenticate', value: 'Bearer', append: false }], body: 'who?' });
    assert.equal((grpcCheckVerdict(answer({ status: { code: 7 } })) as { status: number }).status, 403);
  });
});
