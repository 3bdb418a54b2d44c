import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mirrorTargets, shadowAuthority } from '../../../simulator/sidecar/routing/mirror';
import { corsDecision } from '../../../simulator/sidecar/routing/cors';
import { seededRandom } from '../../../simulator/sidecar/routing/loadBalancer';

describe('mirror decisions', () => {
  test('mirror without mirrorPercentage copies everything; mirrors[] each draw their own percentage', () => {
    const r = seededRandom(5);
    assert.deepEqual(mirrorTargets({ mirror: { host: 'reviews', subset: 'v2' } }, r), [{ host: 'reviews', subset: 'v2' }]);
    assert.deepEqual(mirrorTargets({ mirror: { host: 'x' }, mirrorPercentage: { value: 0 } }, r), []);
    let n = 0;
    for (let i = 0; i < 2000; i++) n += mirrorTargets({ mirrors: [{ destination: { host: 'a' }, percentage: { value: 30 } }, { destination: { host: 'b' } }] }, r).length;
    assert.ok(Math.abs(n / 2000 - 1.3) < 0.05, String(n));
  });
  test('the shadow authority keeps the port', () => {
    assert.equal(shadowAuthority('reviews:9080'), 'reviews-shadow:9080');
    assert.equal(shadowAuthority('reviews.default.svc.cluster.local'), 'reviews.default.svc.cluster.local-shadow');
  });
});

describe('CORS decisions', () => {
  const policy = { allowOrigins: [{ exact: 'https://app.example' }, { regex: 'https://.*\\.dev\\.example' }], allowMethods: ['GET', 'POST'], allowHeaders: ['x-token'], exposeHeaders: ['x-trace'], maxAge: '24h', allowCredentials: true };
  test('a preflight from an allowed origin is answered with the policy', () => {
    const d = corsDecision(policy, 'OPTIONS', { origin: 'https://a.dev.example', 'access-control-request-method': 'POST' });
    assert.deepEqual(d, { kind: 'preflight', headers: { 'access-control-allow-origin': 'https://a.dev.example', 'access-control-allow-methods': 'GET,POST', 'access-control-allow-headers': 'x-token', 'access-control-max-age': '86400', 'access-control-allow-credentials': 'true' } });
  });
  test('a preflight from another origin is forwarded (or ignored with unmatchedPreflights IGNORE)', () => {
    assert.deepEqual(corsDecision(policy, 'OPTIONS', { origin: 'https://evil.example', 'access-control-request-method': 'GET' }), { kind: 'none' });
    assert.deepEqual(corsDecision({ ...policy, unmatchedPreflights: 'IGNORE' }, 'OPTIONS', { origin: 'https://evil.example', 'access-control-request-method': 'GET' }), { kind: 'preflight', headers: {} });
  });
  test('an actual request from an allowed origin gets allow-origin, credentials and expose headers', () => {
    assert.deepEqual(corsDecision(policy, 'GET', { origin: 'https://app.example' }), { kind: 'actual', headers: { 'access-control-allow-origin': 'https://app.example', 'access-control-allow-credentials': 'true', 'access-control-expose-headers': 'x-trace' } });
    assert.deepEqual(corsDecision(policy, 'GET', {}), { kind: 'none' });
  });
});
