import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { faultTargetOf, isFaultSpec, isHostMessage, isPageMessage, noticeOf, sanitizePageState } from '../../webview/protocol';
import { bookinfo } from './fixtures';

test('host messages are recognised by type and malformed ones are refused', () => {
  assert.ok(isHostMessage({ type: 'topology', topology: bookinfo(), at: 1 }));
  assert.ok(isHostMessage({ type: 'state', state: 'running' }));
  assert.ok(isHostMessage({ type: 'details', details: { selection: { kind: 'node', id: 'reviews-v1' } } }));
  assert.ok(isHostMessage({ type: 'result', requestId: 1, ok: false, message: 'no fault routes' }));
  assert.ok(isHostMessage({ type: 'notice', notice: { time: 1, kind: 'crash', message: 'm', workloads: ['a'] } }));
  assert.ok(!isHostMessage({ type: 'notice', notice: { time: 1, kind: 'boom', message: 'm', workloads: [] } }));
  assert.ok(!isHostMessage({ type: 'topology', topology: { services: [] }, at: 1 }), 'a topology needs workloads');
  assert.ok(!isHostMessage({ type: 'state', state: 'exploded' }));
  assert.ok(!isHostMessage({ type: 'eval', code: 'alert(1)' }));
  assert.ok(!isHostMessage(null));
  assert.ok(!isHostMessage('topology'));
});

test('page messages are recognised by type and malformed ones are refused', () => {
  assert.ok(isPageMessage({ type: 'ready' }));
  assert.ok(isPageMessage({ type: 'select', selection: null }));
  assert.ok(isPageMessage({ type: 'select', selection: { kind: 'edge', id: 'a->b' } }));
  assert.ok(isPageMessage({ type: 'injectFault', requestId: 1, target: { service: 'reviews', workload: 'reviews-v2' }, fault: { abort: { httpStatus: 503, percentage: 50 } } }));
  assert.ok(isPageMessage({ type: 'clearFaults', requestId: 2 }));
  assert.ok(isPageMessage({ type: 'openTrace', traceId: '4bf92f3577b34da6a3ce929d0e0e4736' }));
  assert.ok(!isPageMessage({ type: 'select', selection: { kind: 'service', id: 'x' } }));
  assert.ok(!isPageMessage({ type: 'injectFault', requestId: 1, target: { service: '' }, fault: { abort: { httpStatus: 503, percentage: 50 } } }));
  assert.ok(!isPageMessage({ type: 'openTrace', traceId: '../../etc/passwd' }));
  assert.ok(isPageMessage({ type: 'openRule', rule: 'VirtualService/default/reviews/0' }));
  assert.ok(isPageMessage({ type: 'openRule', rule: 'VirtualService/default/tcp-echo/tcp/1' }));
  assert.ok(isPageMessage({ type: 'openRule', rule: 'AuthorizationPolicy/foo/allow-nothing/3' }));
  assert.ok(!isPageMessage({ type: 'openRule', rule: 'VirtualService/default/reviews' }), 'no rule index');
  assert.ok(!isPageMessage({ type: 'openRule', rule: '../../etc/passwd/0' }));
  assert.ok(!isPageMessage({ type: 'openRule', rule: 'VirtualService/default/re views/0' }));
  assert.ok(!isPageMessage({ type: 'runCommand', command: 'workbench.action.terminal.new' }));
});

test('a fault must abort with an HTTP status or delay, with an Istio percentage', () => {
  assert.ok(isFaultSpec({ delay: { fixedDelayMs: 2000, percentage: 100 } }));
  assert.ok(isFaultSpec({ abort: { httpStatus: 503, percentage: 0.5 }, delay: { fixedDelayMs: 10, percentage: 1 } }));
  assert.ok(!isFaultSpec({}), 'a fault that does nothing');
  assert.ok(!isFaultSpec({ abort: { httpStatus: 503, percentage: 150 } }));
  assert.ok(!isFaultSpec({ abort: { httpStatus: 42, percentage: 10 } }));
  assert.ok(!isFaultSpec({ delay: { fixedDelayMs: -1, percentage: 10 } }));
});

test('restored page state keeps only well-formed positions, dragged nodes, zoom and selection', () => {
  const s = sanitizePageState({
    positions: { a: { x: 1, y: 2 }, b: { x: 'no', y: 2 }, c: null },
    pinned: ['a', 'b', 7, 'gone'],
    transform: { x: 3, y: 4, k: 0 },
    selection: { kind: 'node', id: 'a' },
  });
  assert.deepEqual(s, { positions: { a: { x: 1, y: 2 } }, pinned: ['a'], selection: { kind: 'node', id: 'a' } });
  assert.deepEqual(sanitizePageState(undefined), { positions: {} });
  assert.deepEqual(sanitizePageState({ transform: { x: 1, y: 1, k: 2 } }).transform, { x: 1, y: 1, k: 2 });
});

test('a node targets its own workload and an edge adds the caller', () => {
  const serviceOf = (w: string) => ({ 'reviews-v2': 'reviews', 'productpage-v1': 'productpage' } as Record<string, string>)[w];
  assert.deepEqual(faultTargetOf({ kind: 'node', id: 'reviews-v2' }, serviceOf), { service: 'reviews', workload: 'reviews-v2' });
  assert.deepEqual(faultTargetOf({ kind: 'edge', id: 'productpage-v1->reviews-v2' }, serviceOf), { service: 'reviews', workload: 'reviews-v2', source: 'productpage-v1' });
  assert.equal(faultTargetOf({ kind: 'node', id: 'istio-ingressgateway' }, serviceOf), undefined);
});

test('a crash of the shared sidecar process is a notice naming every workload it took down; routine events are not', () => {
  const crash = noticeOf({ id: 3, time: 1000, type: 'process.crashed', workload: 'sidecars (2)', process: 'sidecar',
    message: 'sidecars (2) (pid 9) exited (SIGKILL): the sidecars of a-v1, b-v1 are down; restarting in 100 ms',
    data: { pid: 9, signal: 'SIGKILL', restartInMs: 100, sidecars: ['a-v1', 'b-v1'] } });
  assert.deepEqual(crash, { time: 1000, kind: 'crash', message: 'sidecars (2) (pid 9) exited (SIGKILL): the sidecars of a-v1, b-v1 are down; restarting in 100 ms', workloads: ['a-v1', 'b-v1'] });
  assert.deepEqual(noticeOf({ id: 4, time: 2000, type: 'process.restarted', workload: 'ratings-v1', process: 'app', message: 'app of ratings-v1 restarted (restart 1) as pid 10' })?.workloads, ['ratings-v1']);
  assert.equal(noticeOf({ id: 5, time: 3000, type: 'config.applied', message: 'config v2 applied to 7/7 sidecars in 3 ms' }), undefined);
});
