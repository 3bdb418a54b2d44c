/**
 * Decision records shared by the exchanges that decided alike
 * (sharedRecords.ts): one frozen object per distinct decision of a tables
 * snapshot, and a record of its own wherever a request's decision says more.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { recordsOf } from '../../simulator/sidecar/decisions';
import type { RequestContext } from '../../simulator/sidecar/context';
import { ctxOf } from '../observability/exchanges';

const plan = { kind: 'forward', host: 'reviews.default.svc.cluster.local', port: 9080, subset: 'v2', routeName: 'reviews', origin: { kind: 'VirtualService', namespace: 'default', name: 'reviews', rule: 0 }, requestHeaderOps: [], responseHeaderOps: [] } as unknown as RequestContext['plan'];
const exchange = (over: Partial<RequestContext> = {}) => ctxOf({ plan, endpoint: undefined, notes: { attempts: [{ endpoint: 'reviews-v2', result: '200', retried: false }] }, ...over });

describe('shared decision records', () => {
  test('two requests that decided alike get the same frozen records', () => {
    const a = recordsOf('outbound', exchange(), 200);
    const b = recordsOf('outbound', exchange(), 200);
    assert.deepEqual(a.map((r) => r.step), ['request', 'route', 'attempt']);
    a.forEach((r, i) => assert.equal(r, b[i]));
    assert.ok(a.every((r) => Object.isFrozen(r)));
    assert.throws(() => { (a[1] as { route: string }).route = 'changed'; });
  });

  test('a different attempt or subset is a different record', () => {
    const a = recordsOf('outbound', exchange(), 200);
    const failed = recordsOf('outbound', exchange({ notes: { attempts: [{ endpoint: 'reviews-v2', result: 'UF', retried: true }] } }), 503);
    const v3 = recordsOf('outbound', exchange({ plan: { ...plan, subset: 'v3' } as RequestContext['plan'] }), 200);
    assert.notEqual(failed[2], a[2]);
    assert.deepEqual(failed[2], { step: 'attempt', n: 1, endpoint: 'reviews-v2', result: 'UF', retried: true });
    assert.notEqual(v3[1], a[1]);
    assert.equal((v3[1] as { subset?: string }).subset, 'v3');
    assert.equal(v3[0], a[0], 'the request record does not depend on the route');
  });

  test('a request carrying a header the config reads gets a request record of its own', () => {
    const plain = recordsOf('outbound', exchange(), 200);
    const timed = recordsOf('outbound', exchange({ downstream: { headers: { 'x-envoy-upstream-rq-timeout-ms': '50' }, body: null as never, httpVersion: '1.1' } }), 200);
    assert.notEqual(timed[0], plain[0]);
    assert.deepEqual(timed[0], { step: 'request', config: plain[0].step === 'request' ? plain[0].config : -1, headers: { 'x-envoy-upstream-rq-timeout-ms': '50' } });
  });
});
