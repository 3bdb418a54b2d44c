/**
 * The control plane's per-rule counters (what the editor's code lenses will
 * show over each rule): samples from sidecars folded into requests per
 * minute, error share, p99, last hit, the edges a rule sent traffic over and
 * its recent traces, on a clock the test moves.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RuleWindow, RULE_WINDOW_MS } from '../../simulator/control/telemetry/ruleWindow';
import type { RuleSample } from '../../simulator/telemetry-protocol';

const ROUTE = 'VirtualService/default/reviews/0';
const AUTHZ = 'AuthorizationPolicy/default/ratings-viewer/0';
const T0 = 1_700_000_000_000;
const MIN = 60_000;

function sample(rule: string, o: Partial<RuleSample> = {}): RuleSample {
  return { rule, peer: 'reviews-v2', side: 'source', requests: 1, errors: 0, latenciesMs: [10], traces: [], ...o };
}

describe('per-rule counters', () => {
  test('requests in the last minute and in the window, error share, p99 and total', () => {
    const w = new RuleWindow();
    w.add('productpage-v1', sample(ROUTE, { requests: 90, errors: 0, latenciesMs: Array.from({ length: 90 }, (_, i) => i + 1) }), T0);
    w.add('productpage-v1', sample(ROUTE, { requests: 10, errors: 10, latenciesMs: Array.from({ length: 10 }, () => 500) }), T0 + 5 * MIN);
    const [r] = w.view(T0 + 5 * MIN + 1);
    assert.equal(r.rule, ROUTE);
    assert.equal(r.requestsPerMinute, 10);
    assert.equal(r.requests, 100);
    assert.equal(r.errorRate, 0.1);
    assert.equal(r.p99Ms, 500);
    assert.equal(r.total, 100);
    assert.equal(r.lastHit, T0 + 5 * MIN);
  });

  test('after the window with no hit a rule is still listed, with nothing in the window and when it last matched', () => {
    const w = new RuleWindow();
    w.add('productpage-v1', sample(ROUTE, { requests: 3 }), T0);
    const [r] = w.view(T0 + RULE_WINDOW_MS + 20_000);
    assert.deepEqual([r.requests, r.requestsPerMinute, r.p99Ms, r.errorRate, r.total, r.lastHit], [0, 0, null, 0, 3, T0]);
    assert.deepEqual(r.edges, []);
  });

  test('a route rule counts caller -> the workload it sent to, an authorization rule the caller -> the workload that decided', () => {
    const w = new RuleWindow();
    w.add('productpage-v1', sample(ROUTE, { peer: 'reviews-v2', side: 'source' }), T0);
    w.add('productpage-v1', sample(ROUTE, { peer: 'reviews-v3', side: 'source', requests: 2 }), T0);
    w.add('ratings-v1', sample(AUTHZ, { peer: 'reviews-v2', side: 'destination' }), T0);
    const byRule = Object.fromEntries(w.view(T0).map((r) => [r.rule, r.edges.map((e) => `${e.source}>${e.destination} ${e.requests}`).sort()]));
    assert.deepEqual(byRule, { [ROUTE]: ['productpage-v1>reviews-v2 1', 'productpage-v1>reviews-v3 2'], [AUTHZ]: ['reviews-v2>ratings-v1 1'] });
    const edge = w.view(T0, { edge: 'reviews-v2>ratings-v1' });
    assert.deepEqual(edge.map((r) => r.rule), [AUTHZ]);
    assert.deepEqual(w.view(T0, { rule: ROUTE }).map((r) => r.rule), [ROUTE]);
  });

  test('an authorization rule says how many of the requests it decided were TCP connections', () => {
    const w = new RuleWindow();
    w.add('tcp-echo-v1', sample(AUTHZ, { side: 'destination', requests: 3, connections: 3 }), T0);
    w.add('tcp-echo-v1', sample(AUTHZ, { side: 'destination', requests: 2 }), T0 + MIN);
    const [r] = w.view(T0 + MIN);
    assert.deepEqual([r.requests, r.connections], [5, 3]);
  });

  test('rules with more requests in the window come first', () => {
    const w = new RuleWindow();
    w.add('a', sample(AUTHZ, { requests: 1 }), T0);
    w.add('a', sample(ROUTE, { requests: 5 }), T0);
    assert.deepEqual(w.view(T0).map((r) => r.rule), [ROUTE, AUTHZ]);
  });

  test('traces are kept newest first, once each, at most twenty', () => {
    const w = new RuleWindow();
    for (let i = 0; i < 25; i++) w.add('a', sample(ROUTE, { traces: [`t${i}`, `t${i}`] }), T0 + i);
    w.add('a', sample(ROUTE, { traces: ['t24'] }), T0 + 30);
    const [r] = w.view(T0 + 31);
    assert.equal(r.traces.length, 20);
    assert.deepEqual(r.traces.slice(0, 2), ['t24', 't23']);
    assert.ok(!r.traces.includes('t4'));
  });
});
