import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffMs, retriable, retryPolicyFor } from '../../../simulator/sidecar/resilience/retryPolicy';
import { routeTimeoutMs } from '../../../simulator/sidecar/resilience/timeoutPolicy';
import { seededRandom } from '../../../simulator/sidecar/routing/loadBalancer';

describe('retry policy', () => {
  test('no retries on the rule gives Istio\'s default: 2 retries on connect-failure, refused-stream, 503 and gRPC unavailable/cancelled', () => {
    const p = retryPolicyFor({ route: [] })!;
    assert.equal(p.retries, 2);
    assert.equal(p.origin, 'default');
    assert.ok(retriable(p, { kind: 'error', flag: 'UF', reason: 'upstream-connect-failure' }));
    assert.ok(retriable(p, { kind: 'error', flag: 'UC', reason: 'refused-stream' }));
    assert.ok(retriable(p, { kind: 'response', status: 503 }));
    assert.ok(retriable(p, { kind: 'response', status: 200, grpcStatus: 14 }));
    assert.ok(!retriable(p, { kind: 'response', status: 500 }));
    assert.ok(!retriable(p, { kind: 'response', status: 504 }));
    assert.ok(!retriable(p, { kind: 'error', flag: 'UC', reason: 'upstream-reset' }));
    assert.ok(p.ignorePreviousHosts);
  });

  test('a fault on the rule, or attempts 0, means no retries; a fault also means no timeout', () => {
    assert.equal(retryPolicyFor({ fault: { abort: { httpStatus: 500 } }, retries: { attempts: 3 } }), undefined);
    assert.equal(retryPolicyFor({ retries: { attempts: 0 } }), undefined);
    assert.equal(routeTimeoutMs({ fault: { delay: { fixedDelay: '1s' } }, timeout: '1s' }, {}), undefined);
  });

  test('retryOn conditions as Envoy reads them, bare codes becoming retriable status codes', () => {
    const p = retryPolicyFor({ retries: { attempts: 3, retryOn: 'gateway-error,retriable-4xx,reset,418' } })!;
    assert.ok(retriable(p, { kind: 'response', status: 502 }));
    assert.ok(retriable(p, { kind: 'response', status: 504 }));
    assert.ok(!retriable(p, { kind: 'response', status: 500 }));
    assert.ok(retriable(p, { kind: 'response', status: 409 }));
    assert.ok(retriable(p, { kind: 'response', status: 418 }));
    assert.ok(retriable(p, { kind: 'error', flag: 'UC', reason: 'upstream-reset' }));
    assert.ok(retriable(p, { kind: 'error', flag: 'UT', reason: 'upstream-per-try-timeout' }));
    assert.ok(!retriable(p, { kind: 'error', flag: 'UO', reason: 'upstream-overflow' }), 'overflow is never retried');
    const fivexx = retryPolicyFor({ retries: { attempts: 1, retryOn: '5xx', perTryTimeout: '250ms' } })!;
    assert.ok(retriable(fivexx, { kind: 'response', status: 500 }));
    assert.ok(retriable(fivexx, { kind: 'error', flag: 'UF', reason: 'x' }));
    assert.equal(fivexx.perTryTimeoutMs, 250);
  });

  test('backoff is jittered exponential from 25 ms, capped at 250 ms', () => {
    const p = retryPolicyFor({})!;
    const r = seededRandom(3);
    for (let n = 1; n <= 8; n++) {
      const cap = Math.min(25 * 2 ** (n - 1), 250);
      for (let i = 0; i < 200; i++) {
        const b = backoffMs(p, n, r);
        assert.ok(b >= 0 && b < cap, `retry ${n}: ${b} not in [0, ${cap})`);
      }
    }
    assert.equal(backoffMs(p, 1, () => 0.999), 24);
  });

  test('route timeout: off by default, from the rule, overridden by x-envoy-upstream-rq-timeout-ms (0 = off)', () => {
    assert.equal(routeTimeoutMs({}, {}), undefined);
    assert.equal(routeTimeoutMs({ timeout: '0.5s' }, {}), 500);
    assert.equal(routeTimeoutMs({ timeout: '0s' }, {}), undefined);
    assert.equal(routeTimeoutMs({ timeout: '0.5s' }, { 'x-envoy-upstream-rq-timeout-ms': '120' }), 120);
    assert.equal(routeTimeoutMs({ timeout: '0.5s' }, { 'x-envoy-upstream-rq-timeout-ms': '0' }), undefined);
    assert.equal(routeTimeoutMs({ timeout: '0.5s' }, { 'x-envoy-upstream-rq-timeout-ms': 'soon' }), 500);
  });
});
