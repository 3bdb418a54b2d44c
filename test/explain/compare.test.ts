/**
 * The comparison `devmesh explain --trace` and the agreement property share:
 * a predicted outcome against the records sidecars wrote for one hop.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { describeRecord, disagreement, judge, type HopSeen } from '../../simulator/explain/compare';
import type { Outcome } from '../../simulator/explain/result';
import type { DecisionRecord } from '../../simulator/sidecar/decisions';

const rule = (n: number) => ({ kind: 'VirtualService', namespace: 'default', name: 'reviews', rule: n });
const route = (subset: string, n = 0): DecisionRecord => ({ step: 'route', proxy: 'productpage-v1', route: `reviews.${n}`, rule: rule(n), action: 'forward', host: 'reviews.default.svc.cluster.local', port: 9080, subset });
const attempt = (n: number, endpoint: string, result: string, retried = false): DecisionRecord => ({ step: 'attempt', n, endpoint, result, retried });
const allow: DecisionRecord = { step: 'authz', proxy: 'reviews-v2', allowed: true, reason: 'no ALLOW policy' };
const deny: DecisionRecord = { step: 'authz', proxy: 'reviews-v2', allowed: false, reason: 'no ALLOW policy matched (default/only-other)' };

function outcome(records: DecisionRecord[], o: Partial<Outcome> = {}): Outcome {
  return { probability: 1, kind: 'answered', summary: 'x', records, ...o };
}
function seen(outbound: DecisionRecord[], inbound: Record<string, DecisionRecord[][]> = {}, o: Partial<HopSeen> = {}): HopSeen {
  return { status: 200, flags: '-', outbound, inbound: new Map(Object.entries(inbound)), ...o };
}

describe('a prediction beside what the sidecars decided', () => {
  test('the same route, attempts, status and verdict agree', () => {
    const o = outcome([route('v2'), attempt(1, 'reviews-v2', '200'), allow], { status: 200 });
    assert.equal(disagreement(o, seen([route('v2'), attempt(1, 'reviews-v2', '200')], { 'reviews-v2': [[allow]] })), undefined);
  });

  test('an attempt the walk left to the app agrees with whatever status the app gave', () => {
    const o = outcome([route('v2'), attempt(1, 'reviews-v2', 'app')]);
    assert.equal(disagreement(o, seen([route('v2'), attempt(1, 'reviews-v2', '503')], {}, { status: 503 })), undefined);
    assert.equal(disagreement(o, seen([route('v2'), attempt(1, 'reviews-v2', 'UF')], {}, { status: 503 })), 'attempt 1 result app vs UF');
  });

  test('each difference is named: route, attempts, endpoint, retried, URX, the verdict at a workload', () => {
    const o = outcome([route('v2'), attempt(1, 'reviews-v2', '503', true), attempt(2, 'reviews-v3', '503')], { status: 503, flags: 'URX' });
    const twoTries = [route('v2'), attempt(1, 'reviews-v2', '503', true), attempt(2, 'reviews-v3', '503')];
    assert.equal(disagreement(o, seen([route('v1'), ...twoTries.slice(1)], {}, { status: 503, flags: 'URX' })), 'route');
    assert.equal(disagreement(o, seen(twoTries.slice(0, 2), {}, { status: 503, flags: 'URX' })), 'attempts 2 vs 1');
    assert.equal(disagreement(o, seen([route('v2'), attempt(1, 'reviews-v1', '503', true), twoTries[2]], {}, { status: 503, flags: 'URX' })), 'attempt 1 endpoint reviews-v2 vs reviews-v1');
    assert.equal(disagreement(o, seen(twoTries, {}, { status: 503, flags: '-' })), 'URX URX vs -');
    const allowed = outcome([route('v2'), attempt(1, 'reviews-v2', '200'), allow], { status: 200 });
    assert.equal(disagreement(allowed, seen([route('v2'), attempt(1, 'reviews-v2', '200')], { 'reviews-v2': [[deny]] })), 'authz at reviews-v2');
  });

  test('judge takes the first agreeing outcome with odds above 0, else the one that agrees furthest', () => {
    const v1 = outcome([route('v1'), attempt(1, 'reviews-v1', 'app')], { probability: 0.5, summary: 'to v1' });
    const v2 = outcome([route('v2'), attempt(1, 'reviews-v2', 'app')], { probability: 0.5, summary: 'to v2' });
    const never = outcome([route('v3'), attempt(1, 'reviews-v3', 'app')], { probability: 0, summary: 'to v3' });
    const j = judge([v1, v2, never], seen([route('v2'), attempt(1, 'reviews-v2', '200')]));
    assert.deepEqual(j.agrees && j.outcome.summary, 'to v2');
    assert.deepEqual(judge([v1, never], seen([route('v3'), attempt(1, 'reviews-v3', '200')])), { agrees: false, closest: v1, difference: 'route' });
    const wrongEndpoint = outcome([route('v2'), attempt(1, 'reviews-v3', 'app')], { probability: 0.1, summary: 'v2 route, other endpoint' });
    const j2 = judge([v1, wrongEndpoint], seen([route('v2'), attempt(1, 'reviews-v2', '200')]));
    assert.equal(!j2.agrees && j2.closest?.summary, 'v2 route, other endpoint');
  });

  test('records read as one line each', () => {
    assert.equal(describeRecord(route('v2', 1)), 'route     VirtualService default/reviews rule 1 -> reviews.default.svc.cluster.local:9080 subset v2');
    assert.equal(describeRecord({ step: 'route', proxy: 'p', route: 'default', action: 'forward', host: 'details.default.svc.cluster.local', port: 9080 }), 'route     the default route -> details.default.svc.cluster.local:9080');
    assert.equal(describeRecord(attempt(2, 'reviews-v1', 'UF', true)), 'attempt 2 reviews-v1: UF, retried');
    assert.equal(describeRecord(deny), 'authz     reviews-v2: DENIED — no ALLOW policy matched (default/only-other)');
    assert.equal(describeRecord({ step: 'fault', rule: rule(0), abort: 503, delayMs: 5 }), 'fault     delay 5 ms, abort 503 (VirtualService/default/reviews/0)');
  });
});
