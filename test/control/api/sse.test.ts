import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { SseParser } from '../../../simulator/control/api/sse';

test('events split across chunks come out whole, with id, type and multi-line data', () => {
  const p = new SseParser();
  assert.deepEqual(p.push('retry: 1000\n\nid: 7\nevent: process.crashed\nda'), []);
  assert.deepEqual(p.push('ta: {"a":1}\ndata: {"b":2}\n\n: keep-alive\n\n'), [{ id: '7', event: 'process.crashed', data: '{"a":1}\n{"b":2}' }]);
  assert.equal(p.lastEventId, '7');
  assert.equal(p.retryMs, 1000);
});

test('CRLF and CR line endings work, also when a CRLF is split between chunks', () => {
  const p = new SseParser();
  assert.deepEqual(p.push('data: x\r'), []);
  assert.deepEqual(p.push('\n\r\ndata:y\r\r\n'), [{ event: 'message', data: 'x' }, { event: 'message', data: 'y' }]);
});

test('an event with no data is not dispatched and does not leak its type into the next', () => {
  const p = new SseParser();
  assert.deepEqual(p.push('event: ping\n\ndata: z\n\n'), [{ event: 'message', data: 'z' }]);
});
