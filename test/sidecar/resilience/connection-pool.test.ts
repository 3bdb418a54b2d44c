import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConnectionPoolState, poolLimits, UNLIMITED } from '../../../simulator/sidecar/resilience/connectionPool';
import { resolveDefaults } from '../../../simulator/policy/defaults';

/** Istio's defaults (policy/defaults), what a DestinationRule leaves unset falls back on. */
const D = resolveDefaults();

describe('connection pool (circuit breaker)', () => {
  test('Istio defaults never trip', () => {
    const l = poolLimits(undefined, D.connectionPool);
    assert.equal(l.maxConnections, UNLIMITED);
    assert.equal(l.connectTimeoutMs, 10_000);
    const p = new ConnectionPoolState();
    for (let i = 0; i < 100; i++) assert.equal(p.admit(l, 0).kind, 'wait');
  });

  test('maxConnections 1, http1MaxPendingRequests 1: one in flight, one waiting, the third overflows', () => {
    const l = poolLimits({ tcp: { maxConnections: 1 }, http: { http1MaxPendingRequests: 1 } }, D.connectionPool);
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
    const l = poolLimits({ http: { http2MaxRequests: 1, maxRetries: 1 } }, D.connectionPool);
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
    const l = poolLimits({ http: { maxRequestsPerConnection: 2, idleTimeout: '1s' } }, D.connectionPool);
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

describe('connection pools per Envoy worker, limits per cluster', () => {
  const task = poolLimits({ tcp: { maxConnections: 1 }, http: { http1MaxPendingRequests: 1, maxRequestsPerConnection: 1 } }, D.connectionPool);
  const opened = (a: ReturnType<ConnectionPoolState['admit']>) => (a.kind === 'wait' ? a.opened : undefined);

  test('a worker without a connection opens one past maxConnections, so each worker has its own', () => {
    const p = new ConnectionPoolState();
    const a = p.admit(task, 0, 0);
    p.established(opened(a)!, 1);
    assert.ok(p.dequeue(0));
    const b = p.admit(task, 2, 1);
    assert.ok(opened(b), 'worker 1 opens its own connection although the cluster has 1 already');
    assert.equal(opened(b)!.worker, 1);
    assert.equal(p.connections.length, 2);
  });

  test('the pending limit is shared: both workers connecting at once overflow the second', () => {
    const p = new ConnectionPoolState();
    assert.ok(opened(p.admit(task, 0, 0)));
    assert.deepEqual(p.admit(task, 0, 1), { kind: 'overflow', reason: 'pending' });
  });

  test('one worker after the other: no overflow, each request waits only for its own connection', () => {
    const p = new ConnectionPoolState();
    const a = p.admit(task, 0, 0);
    p.established(opened(a)!, 1);
    const ca = p.dequeue(0)!;
    const b = p.admit(task, 2, 1);
    p.established(opened(b)!, 3);
    const cb = p.dequeue(1)!;
    assert.equal(cb.worker, 1);
    assert.equal(p.release(ca, task, 4).closed, true, 'maxRequestsPerConnection 1 closes it');
    assert.equal(p.counters.upstream_rq_pending_overflow, 0);
    assert.equal(p.release(cb, task, 5).closed, true);
  });

  test('two clients on one worker: the second waits for the worker\'s only connection and holds the pending slot', () => {
    const p = new ConnectionPoolState();
    const a = p.admit(task, 0, 0);
    p.established(opened(a)!, 1);
    const ca = p.dequeue(0)!;
    const b = p.admit(task, 2, 0);
    assert.equal(b.kind, 'wait');
    assert.equal(opened(b), undefined, 'no second connection: the cluster is at maxConnections and the worker has one');
    assert.deepEqual(p.admit(task, 3, 1), { kind: 'overflow', reason: 'pending' }, 'the other worker overflows meanwhile');
    const r = p.release(ca, task, 20);
    assert.ok(r.opened && r.opened.worker === 0, 'the closed connection is replaced for the waiting request');
    p.established(r.opened, 21);
    assert.ok(p.dequeue(0));
    assert.equal(p.pending, 0);
  });

  test('a gRPC/HTTP/2 destination multiplexes: with maxConnections 1 every request of the worker rides the one connection', () => {
    const l = poolLimits({ tcp: { maxConnections: 1 }, http: { http1MaxPendingRequests: 1 } }, D.connectionPool, true);
    const p = new ConnectionPoolState();
    const first = p.admit(l, 0);
    assert.ok(first.kind === 'wait' && first.opened);
    p.established(first.opened!, 1);
    const c = p.dequeue(0, l)!;
    for (let i = 0; i < 10; i++) assert.deepEqual(p.admit(l, 2), { kind: 'go', connection: c }, `request ${i + 2}`);
    assert.equal(p.active, 11);
    assert.equal(p.connections.length, 1);
    assert.equal(p.counters.upstream_rq_pending_overflow, 0);
  });

  test('a multiplexed connection that served maxRequestsPerConnection drains: no new requests, closed after its last one', () => {
    const l = poolLimits({ http: { maxRequestsPerConnection: 2 } }, D.connectionPool, true);
    const p = new ConnectionPoolState();
    const a = p.admit(l, 0);
    if (a.kind === 'wait') p.established(a.opened!, 0);
    const c = p.dequeue(0, l)!;
    const second = p.admit(l, 1);
    assert.equal(second.kind, 'go');
    const third = p.admit(l, 2);
    assert.ok(third.kind === 'wait' && third.opened, 'its quota is used: the next request waits for a new connection');
    assert.equal(p.release(c, l, 3).closed, false, 'one request still on it');
    assert.equal(p.release(c, l, 4).closed, true);
    assert.deepEqual(p.connections, [third.opened]);
  });
});
