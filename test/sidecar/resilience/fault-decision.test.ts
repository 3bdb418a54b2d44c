import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { decideRouteFault, decideRuntimeFaults, mergeFaults } from '../../../simulator/sidecar/resilience/faultDecision';
import { seededRandom } from '../../../simulator/sidecar/routing/loadBalancer';
import type { RuntimeFault } from '../../../simulator/protocol';

const share = (n: number, f: () => boolean) => { let k = 0; for (let i = 0; i < n; i++) if (f()) k++; return k / n; };

describe('fault decision', () => {
  test('a fault without percentage affects no request', () => {
    const r = seededRandom(1);
    for (let i = 0; i < 100; i++) assert.deepEqual(decideRouteFault({ delay: { fixedDelay: '7s' }, abort: { httpStatus: 500 } }, r), {});
  });

  test('percentage 100 always delays by fixedDelay; the deprecated integer percent still works', () => {
    assert.deepEqual(decideRouteFault({ delay: { fixedDelay: '7s', percentage: { value: 100 } } }, seededRandom(2)), { delayMs: 7000, source: 'route' });
    assert.equal(decideRouteFault({ delay: { fixedDelay: '1.5s', percent: 100 } }, seededRandom(2)).delayMs, 1500);
  });

  test('a decimal percentage aborts about that share of requests, reproducibly with a seed', () => {
    const fault = { abort: { httpStatus: 503, percentage: { value: 25.5 } } };
    const r = seededRandom(42);
    const got = share(4000, () => decideRouteFault(fault, r).abort?.httpStatus === 503);
    assert.ok(Math.abs(got - 0.255) < 0.03, `share ${got}`);
    const a = seededRandom(7); const b = seededRandom(7);
    for (let i = 0; i < 50; i++) assert.deepEqual(decideRouteFault(fault, a), decideRouteFault(fault, b));
  });

  test('a grpcStatus abort answers 200 with the gRPC code', () => {
    assert.deepEqual(decideRouteFault({ abort: { grpcStatus: 'UNAVAILABLE', percentage: { value: 100 } } }, seededRandom(1)).abort, { httpStatus: 200, grpcStatus: 14 });
  });

  test('runtime faults: longest delay and first abort win; merged with the route fault', () => {
    const f = (id: string, x: Partial<RuntimeFault>): RuntimeFault => ({ id, service: 'reviews', ...x });
    const d = decideRuntimeFaults([f('a', { delay: { fixedDelayMs: 100, percentage: 100 } }), f('b', { delay: { fixedDelayMs: 300, percentage: 100 } }), f('c', { abort: { httpStatus: 502, percentage: 100 } })], seededRandom(1));
    assert.equal(d.delayMs, 300);
    assert.equal(d.abort?.httpStatus, 502);
    assert.deepEqual(mergeFaults({ delayMs: 50, source: 'route' }, { abort: { httpStatus: 503 }, source: 'x' }), { delayMs: 50, abort: { httpStatus: 503 }, source: 'x' });
  });
});
