import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizePath } from '../../../simulator/sidecar/security/pathNormalize';
import { authorize, type AuthzRequest } from '../../../simulator/sidecar/security/authorization';
import type { Resource } from '../../../simulator/policy/model';

const ap = (name: string, spec: Resource<'AuthorizationPolicy'>['spec'], annotations?: Record<string, string>): Resource<'AuthorizationPolicy'> =>
  ({ apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name, namespace: 'default', annotations }, spec });
const req = (x: Partial<AuthzRequest> = {}): AuthzRequest => ({ peer: 'spiffe://cluster.local/ns/default/sa/productpage', peerNamespace: 'default', method: 'GET', path: '/', host: 'reviews:9080', port: 9182, altPorts: [9080], headers: {}, ...x });

describe('path normalization (meshConfig.pathNormalization, Envoy normalize_path)', () => {
  test('BASE, Istio\'s default: dot segments, unreserved escapes and backslashes, but repeated slashes and %2F stay', () => {
    const base = (p: string) => normalizePath(p, 'BASE');
    assert.equal(base('/admin/../admin'), '/admin');
    assert.equal(base('/public/%2e%2e/admin'), '/admin');
    assert.equal(base('/%2E%2E/%2e/admin'), '/admin');
    assert.equal(base('/a\\..\\admin'), '/admin');
    assert.equal(base('/%61dmin'), '/admin');
    assert.equal(base('/a/./b/.'), '/a/b/');
    assert.equal(base('/../../x?q=/../y'), '/x?q=/../y');
    assert.equal(base('/Admin%20x'), '/Admin%20x', 'case and reserved escapes kept');
    assert.equal(base('//admin///x'), '//admin///x');
    assert.equal(base('/admin%2fx'), '/admin%2Fx');
  });
  test('MERGE_SLASHES merges them; DECODE_AND_MERGE_SLASHES also decodes %2F and %5C first; NONE leaves the path alone', () => {
    assert.equal(normalizePath('//admin///x', 'MERGE_SLASHES'), '/admin/x');
    assert.equal(normalizePath('/admin%2Fx', 'MERGE_SLASHES'), '/admin%2Fx');
    assert.equal(normalizePath('/admin%2Fx', 'DECODE_AND_MERGE_SLASHES'), '/admin/x');
    assert.equal(normalizePath('/a%5C..%5Cadmin', 'DECODE_AND_MERGE_SLASHES'), '/admin');
    assert.equal(normalizePath('/a/../b//c', 'NONE'), '/a/../b//c');
  });
});

describe('authorization policy semantics', () => {
  const denyAdmin = ap('deny-admin', { action: 'DENY', rules: [{ to: [{ operation: { paths: ['/admin', '/admin/*'] } }] }] });
  test('DENY on exact and prefix paths; a trailing slash does not dodge it; case is significant', () => {
    assert.equal(authorize([denyAdmin], req({ path: '/admin' }), 'default').allowed, false);
    assert.equal(authorize([denyAdmin], req({ path: '/admin/' }), 'default').allowed, false);
    assert.equal(authorize([denyAdmin], req({ path: '/admin/users' }), 'default').allowed, false);
    assert.equal(authorize([denyAdmin], req({ path: '/Admin' }), 'default').allowed, true);
    assert.equal(authorize([denyAdmin], req({ path: '/administrator' }), 'default').allowed, true);
  });

  test('suffix paths, methods, ports (workload or service port), hosts case-insensitive, not-variants', () => {
    const p = ap('p', { rules: [{ to: [{ operation: { paths: ['*.json'], methods: ['GET'], ports: ['9080'], hosts: ['Reviews:9080'], notPaths: ['/secret.json'] } }] }] });
    assert.equal(authorize([p], req({ path: '/x.json' }), 'default').allowed, true);
    assert.equal(authorize([p], req({ path: '/secret.json' }), 'default').allowed, false);
    assert.equal(authorize([p], req({ path: '/x.json', method: 'POST' }), 'default').allowed, false);
    assert.equal(authorize([p], req({ path: '/x.json', port: 1, altPorts: [] }), 'default').allowed, false);
  });

  test('from.source: principals, notPrincipals, namespaces, notNamespaces, ipBlocks', () => {
    const p = ap('p', { rules: [{ from: [{ source: { principals: ['cluster.local/ns/default/sa/*'], notPrincipals: ['cluster.local/ns/default/sa/ratings'], notNamespaces: ['evil'] } }] }] });
    assert.equal(authorize([p], req(), 'default').allowed, true);
    assert.equal(authorize([p], req({ peer: 'spiffe://cluster.local/ns/default/sa/ratings' }), 'default').allowed, false);
    assert.equal(authorize([p], req({ peerNamespace: 'evil' }), 'default').allowed, false);
    const ips = ap('ips', { rules: [{ from: [{ source: { ipBlocks: ['10.0.0.0/8'] } }] }] });
    assert.equal(authorize([ips], req({ sourceIp: '::ffff:10.1.2.3' }), 'default').allowed, true);
    assert.equal(authorize([ips], req({ sourceIp: '127.0.0.1' }), 'default').allowed, false);
  });

  test('when: request.headers, source.principal, destination.port; request.auth.* is never present', () => {
    const p = ap('p', { rules: [{ when: [{ key: 'request.headers[x-tenant]', values: ['a*'] }, { key: 'destination.port', values: ['9080'] }, { key: 'source.principal', notValues: ['*/sa/ratings'] }] }] });
    assert.equal(authorize([p], req({ headers: { 'x-tenant': 'acme' } }), 'default').allowed, true);
    assert.equal(authorize([p], req({ headers: { 'x-tenant': 'zeta' } }), 'default').allowed, false);
    const jwt = ap('jwt', { rules: [{ when: [{ key: 'request.auth.claims[iss]', values: ['https://issuer'] }] }] });
    assert.equal(authorize([jwt], req(), 'default').allowed, false);
  });

  test('AUDIT never decides but is reported; dry-run policies are reported, not enforced', () => {
    const audit = ap('audit-all', { action: 'AUDIT', rules: [{}] });
    const d = authorize([audit], req(), 'default');
    assert.equal(d.allowed, true);
    assert.deepEqual(d.audited, ['default/audit-all']);
    const dry = ap('deny-dry', { action: 'DENY', rules: [{}] }, { 'istio.io/dry-run': 'true' });
    const dd = authorize([dry], req(), 'default');
    assert.equal(dd.allowed, true);
    assert.deepEqual(dd.dryRun, { allowed: false, policy: 'default/deny-dry' });
  });
});
