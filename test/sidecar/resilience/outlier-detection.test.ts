import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { OutlierDetector, outlierSettings } from '../../../simulator/sidecar/resilience/outlierDetection';
import { resolveDefaults } from '../../../simulator/policy/defaults';

/** Istio's defaults (policy/defaults), what a DestinationRule leaves unset falls back on. */
const D = resolveDefaults();

const hosts = ['a', 'b', 'c'];
const fail = (d: OutlierDetector, h: string, n: number, now: number, status = 503) => {
  let e;
  for (let i = 0; i < n; i++) e = d.record(h, { kind: 'response', status }, hosts, now) ?? e;
  return e;
};

describe('outlier detection', () => {
  test('defaults: 5 consecutive 5xx, 10s interval, 30s base ejection, 10% max ejection', () => {
    const s = outlierSettings({}, D.outlierDetection);
    assert.deepEqual([s.consecutive5xx, s.intervalMs, s.baseEjectionMs, s.maxEjectionPercent, s.consecutiveGateway], [5, 10_000, 30_000, 10, 0]);
  });

  test('the fifth consecutive 5xx ejects the host at once; a success in between resets the count', () => {
    const d = new OutlierDetector(outlierSettings({}, D.outlierDetection), 0);
    assert.equal(fail(d, 'a', 4, 0), undefined);
    d.record('a', { kind: 'response', status: 200 }, hosts, 0);
    assert.equal(fail(d, 'a', 4, 0), undefined);
    const e = fail(d, 'a', 1, 0);
    assert.deepEqual(e, { host: 'a', reason: 'consecutive_5xx', until: 30_000 });
    assert.deepEqual(d.eligible(hosts.map((name) => ({ name })), 1).map((h) => h.name), ['b', 'c']);
  });

  test('local failures count as 5xx; consecutiveGatewayErrors counts only 502/503/504', () => {
    const d = new OutlierDetector(outlierSettings({ consecutive5xxErrors: 0, consecutiveGatewayErrors: 2 }, D.outlierDetection), 0);
    d.record('a', { kind: 'response', status: 500 }, hosts, 0);
    d.record('a', { kind: 'response', status: 500 }, hosts, 0);
    assert.equal(d.isEjected('a'), false);
    d.record('a', { kind: 'local', timeout: false }, hosts, 0);
    assert.equal(d.record('a', { kind: 'response', status: 502 }, hosts, 0)?.reason, 'consecutive_gateway_failure');
  });

  test('the ejection lasts baseEjectionTime x times ejected, ending at an interval sweep', () => {
    const d = new OutlierDetector(outlierSettings({ consecutive5xxErrors: 1, interval: '1s', baseEjectionTime: '3s', maxEjectionPercent: 100 }, D.outlierDetection), 0);
    fail(d, 'a', 1, 0);
    assert.ok(d.isEjected('a'));
    d.sweep(2_999);
    assert.ok(d.isEjected('a'));
    d.sweep(3_000);
    assert.ok(!d.isEjected('a'), 'back at the sweep after 3 s');
    assert.equal(fail(d, 'a', 1, 3_000)?.until, 3_000 + 6_000, 'second ejection: twice as long');
    d.sweep(9_000);
    // Healthy sweeps lower the multiplier: after 2 healthy intervals it is back to 0.
    d.sweep(11_000);
    assert.equal(d.hosts.get('a')!.ejections, 0);
    assert.equal(fail(d, 'a', 1, 11_000)?.until, 14_000);
  });

  test('maxEjectionPercent: with 10% of 3 hosts one host may go, not a second', () => {
    const d = new OutlierDetector(outlierSettings({ consecutive5xxErrors: 1 }, D.outlierDetection), 0);
    assert.ok(fail(d, 'a', 1, 0));
    assert.equal(fail(d, 'b', 1, 0), undefined);
    assert.equal(d.counters.ejections_overflow, 1);
  });

  test('below minHealthPercent healthy hosts, every host is eligible again (panic)', () => {
    const d = new OutlierDetector(outlierSettings({ consecutive5xxErrors: 1, maxEjectionPercent: 100, minHealthPercent: 50 }, D.outlierDetection), 0);
    fail(d, 'a', 1, 0);
    assert.deepEqual(d.eligible(hosts.map((name) => ({ name })), 0).map((h) => h.name), ['b', 'c']);
    fail(d, 'b', 1, 0);
    assert.equal(d.eligible(hosts.map((name) => ({ name })), 0).length, 3);
  });
});
