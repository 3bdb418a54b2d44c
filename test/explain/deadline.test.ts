/**
 * The odds of a route timeout passing during retry backoffs, against the
 * sidecar's own backoff draws (retryPolicy.ts backoffMs) from a seeded source.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { pastDeadline } from '../../simulator/explain/deadline';
import { backoffCeilingMs, backoffMs } from '../../simulator/sidecar/resilience/retryPolicy';
import { seededRandom } from '../../simulator/random';

describe('explain: a route timeout against jittered backoffs', () => {
  test('no waits: the deadline passes exactly when the fixed time reaches it', () => {
    assert.equal(pastDeadline(100, [], 100), 1);
    assert.equal(pastDeadline(99, [], 100), 0);
  });

  test('one wait uniform in [0, 100): 40 % of them outlast a deadline 60 ms away', () => {
    assert.ok(Math.abs(pastDeadline(0, [100], 60) - 0.4) < 1e-12);
    assert.equal(pastDeadline(0, [100], 100), 0);
    assert.equal(pastDeadline(10, [100], 5), 1);
  });

  test('two waits: the sum is triangular (P(S <= 50) = 1/8 of two [0, 100) draws)', () => {
    assert.ok(Math.abs(pastDeadline(0, [100, 100], 50) - 0.875) < 1e-12);
    assert.ok(Math.abs(pastDeadline(0, [100, 100], 100) - 0.5) < 1e-12);
  });

  test('the odds match the sidecar\'s own draws for Istio\'s 25 ms base over four retries', () => {
    const policy = { backoffBaseMs: 25, backoffMaxMs: 250 };
    const ceilings = [1, 2, 3, 4].map((n) => backoffCeilingMs(policy, n));
    assert.deepEqual(ceilings, [25, 75, 175, 250]);
    const random = seededRandom(7);
    const rounds = 20_000;
    for (const deadline of [60, 200, 400]) {
      let past = 0;
      for (let i = 0; i < rounds; i++) {
        const waited = [1, 2, 3, 4].reduce((a, n) => a + backoffMs(policy, n, random), 0);
        if (10 + waited >= deadline) past++;
      }
      // Three standard errors of a proportion from 20 000 draws (the draws are whole ms: a little under).
      assert.ok(Math.abs(past / rounds - pastDeadline(10, ceilings, deadline)) < 0.012, `deadline ${deadline}: ${past / rounds} vs ${pastDeadline(10, ceilings, deadline)}`);
    }
  });
});
