import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConnectionPoolState, poolLimits, UNLIMITED } from '../../../simulator/sidecar/resilience/connectionPool';

describe('connection pool (circuit breaker)', () => {
  test('Istio defaults never trip', () => {
    const l = poolLimits(undefined);
    assert.equal(l.maxConnections, UNLIMITED);
    assert.equal(l.connectTimeoutMs, 10_000);
    const p = new ConnectionPoolState();
    for (let i = 0; i < 100; i++) assert.equal(p.admit(l, 0).kind, 'wait');
  });

  test('maxConnections 1, http1MaxPendingRequests 1: one in flight, one waiting, the third overflows', () => {
    const l = poolLimits({ tcp: { maxConnections: 1 }, http: { http1MaxPendingRequests: 1 } });
    const p = new ConnectionPoolState();
    const first = p.admit(l, 0);
    assert.equal(first.kind, 'wait');
    assert.ok(first.kind === 'wait' && first.opened, 'a connection is opened');
    // While it connects the first request is the one pending: a second overflows at once.
    assert.deepEqual(p.admit(l, 0), { kind: 'overflow', reason: 'pending' });
    p.established(first.kind === 'wait' ? first.opened! : (undefined as never), 1);
    const c = p.dequeue()!;
    assert.ok(c);
    assert.equal(p.active, 1);
    assert.equal(p.admit(l, 2).kind, 'wait', 'busy connection: the next one waits');
    assert.deepEqual(p.admit(l, 2), { kind: 'overflow', reason: 'pending' });
    p.release(c, l, 3);
    assert.equal(p.dequeue(), c, 'the waiting request takes the freed connection');
    assert.equal(p.counters.upstream_rq_pending_overflow, 2);
  });

  test('http2MaxRequests caps requests in flight; maxRetries caps retries', () => {
    const l = poolLimits({ http: { http2MaxRequests: 1, maxRetries: 1 } });
    const p = new ConnectionPoolState();
    const a = p.admit(l, 0);
    if (a.kind === 'wait') p.established(a.opened!, 0);
    assert.ok(p.dequeue());
    assert.deepEqual(p.admit(l, 0), { kind: 'overflow', reason: 'requests' });
    assert.equal(p.startRetry(l), true);
    assert.equal(p.startRetry(l), false);
    p.endRetry();
    assert.equal(p.startRetry(l), true);
  });

  test('maxRequestsPerConnection closes a connection after its quota; idleTimeout closes idle ones', () => {
    const l = poolLimits({ http: { maxRequestsPerConnection: 2, idleTimeout: '1s' } });
    const p = new ConnectionPoolState();
    const a = p.admit(l, 0);
    if (a.kind === 'wait') p.established(a.opened!, 0);
    const c = p.dequeue()!;
    assert.equal(p.release(c, l, 10).closed, false);
    const again = p.admit(l, 20);
    assert.equal(again.kind, 'go');
    assert.equal(p.release(c, l, 30).closed, true);
    assert.equal(p.connections.length, 0);
    const b = p.admit(l, 40);
    if (b.kind === 'wait') p.established(b.opened!, 40);
    p.release(p.dequeue()!, l, 50);
    assert.equal(p.connections.length, 1);
    p.admit(l, 50 + 1000);
    assert.equal(p.counters.upstream_cx_idle_timeout, 1);
  });
});
