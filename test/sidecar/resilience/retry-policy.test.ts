/**
 * Retry and timeout decisions as pilot makes the Envoy route
 * (istio/istio@release-1.30 pilot/pkg/networking/core/route/retry/retry.go,
 * route/route.go) and Envoy's router applies it (Envoy docs, router filter).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffMs, retriable, retryPolicyFor } from '../../../simulator/sidecar/resilience/retryPolicy';
import { routeTimeoutMs } from '../../../simulator/sidecar/resilience/timeoutPolicy';
import { seededRandom } from '../../../simulator/sidecar/routing/loadBalancer';
import { resolveDefaults } from '../../../simulator/policy/defaults';

const D = resolveDefaults();
const D123 = resolveDefaults({ compatibilityVersion: '1.23' });

describe('retry policy', () => {
  test('no retries on the rule: 2 retries on connect-failure, refused-stream and gRPC unavailable/cancelled, and an app\'s 503 is not retried (retry.go:36-50, since 1.24)', () => {
    const p = retryPolicyFor({ route: [] }, D)!;
    assert.equal(p.retries, 2);
    assert.equal(p.origin, 'default');
    assert.ok(retriable(p, { kind: 'error', flag: 'UF', reason: 'upstream-connect-failure' }));
    assert.ok(retriable(p, { kind: 'error', flag: 'UC', reason: 'refused-stream' }));
    assert.ok(retriable(p, { kind: 'response', status: 200, grpcStatus: 14 }));
    assert.ok(!retriable(p, { kind: 'response', status: 503 }));
    assert.ok(!retriable(p, { kind: 'response', status: 500 }));
    assert.ok(!retriable(p, { kind: 'error', flag: 'UC', reason: 'upstream-reset' }));
    assert.ok(p.ignorePreviousHosts);
  });

  test('compatibilityVersion 1.23 brings back the 503 in the default policy (EXCLUDE_UNSAFE_503_FROM_DEFAULT_RETRY=false)', () => {
    assert.ok(retriable(retryPolicyFor(undefined, D123)!, { kind: 'response', status: 503 }));
    assert.ok(retriable(retryPolicyFor({ retries: { attempts: 3 } }, D123)!, { kind: 'response', status: 503 }));
  });

  test('attempts without retryOn keeps the default conditions: still no 503 (retry.go:111-124)', () => {
    const p = retryPolicyFor({ retries: { attempts: 3 } }, D)!;
    assert.equal(p.retries, 3);
    assert.equal(p.origin, 'route');
    assert.ok(!retriable(p, { kind: 'response', status: 503 }));
    assert.ok(retriable(p, { kind: 'error', flag: 'UF', reason: 'x' }));
  });

  test('attempts 0 or unset disables retries (retry.go:105); a fault on the rule does not (pilot sets retries regardless)', () => {
    assert.equal(retryPolicyFor({ retries: { attempts: 0 } }, D), undefined);
    assert.equal(retryPolicyFor({ retries: { perTryTimeout: '1s' } }, D), undefined);
    assert.equal(retryPolicyFor({ fault: { abort: { httpStatus: 500 } }, retries: { attempts: 3 } }, D)?.retries, 3);
    assert.equal(routeTimeoutMs({ fault: { delay: { fixedDelay: '1s' } }, timeout: '1s' }, {}), 1000);
  });

  test('meshConfig.defaultHttpRetryPolicy stands in for rules without retries (route.go:680-684)', () => {
    const d = resolveDefaults({ meshConfig: { defaultHttpRetryPolicy: { attempts: 4, retryOn: '5xx' } } });
    const p = retryPolicyFor({ route: [] }, d)!;
    assert.equal(p.retries, 4);
    assert.equal(p.origin, 'meshConfig');
    assert.ok(retriable(p, { kind: 'response', status: 500 }));
    assert.equal(retryPolicyFor({ retries: { attempts: 1 } }, d)?.retries, 1);
    assert.equal(retryPolicyFor(undefined, resolveDefaults({ meshConfig: { defaultHttpRetryPolicy: { attempts: 0 } } })), undefined);
  });

  test('retries try other hosts, except on a consistently hashed single destination unless retryIgnorePreviousHosts says so (retry.go:52-57, 131-137)', () => {
    assert.equal(retryPolicyFor({}, D, true)!.ignorePreviousHosts, false);
    assert.equal(retryPolicyFor({ retries: { attempts: 2 } }, D, true)!.ignorePreviousHosts, false);
    assert.equal(retryPolicyFor({ retries: { attempts: 2, retryIgnorePreviousHosts: true } }, D, true)!.ignorePreviousHosts, true);
    assert.equal(retryPolicyFor({ retries: { attempts: 2, retryIgnorePreviousHosts: false } }, D)!.ignorePreviousHosts, false);
  });

  test('retryOn conditions as Envoy reads them, bare codes becoming retriable status codes', () => {
    const p = retryPolicyFor({ retries: { attempts: 3, retryOn: 'gateway-error,retriable-4xx,reset,418' } }, D)!;
    assert.ok(retriable(p, { kind: 'response', status: 502 }));
    assert.ok(retriable(p, { kind: 'response', status: 504 }));
    assert.ok(!retriable(p, { kind: 'response', status: 500 }));
    assert.ok(retriable(p, { kind: 'response', status: 409 }));
    assert.ok(retriable(p, { kind: 'response', status: 418 }));
    assert.ok(retriable(p, { kind: 'error', flag: 'UC', reason: 'upstream-reset' }));
    assert.ok(retriable(p, { kind: 'error', flag: 'UT', reason: 'upstream-per-try-timeout' }));
    assert.ok(!retriable(p, { kind: 'error', flag: 'UO', reason: 'upstream-overflow' }), 'overflow is never retried');
    const fivexx = retryPolicyFor({ retries: { attempts: 1, retryOn: '5xx', perTryTimeout: '250ms' } }, D)!;
    assert.ok(retriable(fivexx, { kind: 'response', status: 500 }));
    assert.ok(retriable(fivexx, { kind: 'error', flag: 'UF', reason: 'x' }));
    assert.equal(fivexx.perTryTimeoutMs, 250);
  });

  test('backoff: retry N waits in [0, (2^N - 1) x 25 ms), capped at 250 ms (Envoy router docs: 0-24, 0-74, 0-174 ms)', () => {
    const p = retryPolicyFor({}, D)!;
    const r = seededRandom(3);
    for (let n = 1; n <= 8; n++) {
      const cap = Math.min(25 * (2 ** n - 1), 250);
      let most = 0;
      for (let i = 0; i < 300; i++) {
        const b = backoffMs(p, n, r);
        assert.ok(b >= 0 && b < cap, `retry ${n}: ${b} not in [0, ${cap})`);
        most = Math.max(most, b);
      }
      assert.ok(most >= cap * 0.8, `retry ${n} never waited near its cap ${cap} (most ${most})`);
    }
    assert.equal(backoffMs(p, 1, () => 0.999), 24);
    assert.equal(backoffMs(p, 2, () => 0.999), 74);
    assert.equal(backoffMs(p, 3, () => 0.999), 174);
  });

  test('route timeout: off by default, from the rule, overridden by x-envoy-upstream-rq-timeout-ms (0 = off)', () => {
    assert.equal(routeTimeoutMs({}, {}, D.routeTimeoutMs), undefined);
    assert.equal(routeTimeoutMs({ timeout: '0.5s' }, {}), 500);
    assert.equal(routeTimeoutMs({ timeout: '0s' }, {}), undefined);
    assert.equal(routeTimeoutMs({ timeout: '0.5s' }, { 'x-envoy-upstream-rq-timeout-ms': '120' }), 120);
    assert.equal(routeTimeoutMs({ timeout: '0.5s' }, { 'x-envoy-upstream-rq-timeout-ms': '0' }), undefined);
    assert.equal(routeTimeoutMs({ timeout: '0.5s' }, { 'x-envoy-upstream-rq-timeout-ms': 'soon' }), 500);
  });
});
