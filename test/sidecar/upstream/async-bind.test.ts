/**
 * The sidecar process's AsyncResource bind (upstream/asyncBind.ts): what
 * Node's bind does, without making a fresh function the prototype of
 * another on every HTTP/2 client stream. A bound function runs in the async
 * context it was bound in, with its caller's `this` and arguments (or the
 * given `this`) and its function's length; the deprecated `asyncResource`
 * property still reads the resource and warns DEP0172 once; an HTTP/2
 * request (the bind Node makes in `session.request()`) still completes in
 * its caller's context.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { AsyncLocalStorage, AsyncResource } from 'node:async_hooks';
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { installAsyncBind } from '../../../simulator/sidecar/upstream/asyncBind';

const applies = installAsyncBind();
const noProperty = !applies && 'this Node binds without the deprecated asyncResource property';

describe('AsyncResource bind in a sidecar process', () => {
  test('a bound function runs in the async context it was bound in, with its caller\'s this and arguments', () => {
    const als = new AsyncLocalStorage<number>();
    const bound = als.run(42, () => new AsyncResource('test').bind(function (this: unknown, a: number, b: number) {
      return [als.getStore(), this, a, b];
    }));
    const caller = { name: 'caller' };
    assert.equal(als.getStore(), undefined);
    assert.deepEqual(bound.call(caller, 1, 2), [42, caller, 1, 2]);
  });

  test('a bound function with a this runs with that this, and keeps its function\'s length', () => {
    const als = new AsyncLocalStorage<string>();
    const self = { name: 'given' };
    // Node's bind takes a this (its types leave it out).
    // The context is the resource's: made where the call is.
    const resource = als.run('ctx', () => new AsyncResource('test'));
    const bindWith = resource.bind as unknown as (this: AsyncResource, fn: unknown, thisArg: unknown) => (a: number, b: number, c: number) => unknown[];
    const bound = als.run('elsewhere', () => bindWith.call(resource, function (this: unknown, a: number, b: number, c: number) {
      return [als.getStore(), this, a + b + c];
    }, self));
    assert.deepEqual(bound(1, 2, 3), ['ctx', self, 6]);
    assert.equal(bound.length, 3);
    assert.equal(new AsyncResource('test').bind((x: number) => x).length, 1);
  });

  test('a non-function is refused as Node refuses it', () => {
    assert.throws(() => new AsyncResource('test').bind('nope' as unknown as () => void), { code: 'ERR_INVALID_ARG_TYPE' });
  });

  test('the deprecated asyncResource property still reads the resource, with one DEP0172 warning', { skip: noProperty }, async () => {
    const resource = new AsyncResource('test');
    const bound = resource.bind(() => undefined) as unknown as { asyncResource: AsyncResource };
    const warning = once(process, 'warning');
    assert.equal(bound.asyncResource, resource);
    assert.equal(bound.asyncResource, resource);
    const [w] = (await warning) as [Error & { code?: string }];
    assert.equal(w.name, 'DeprecationWarning');
    assert.equal(w.code, 'DEP0172');
  });

  test('binding makes no function the prototype of another (what cost Node 20 ~16 µs a stream)', { skip: noProperty }, () => {
    const bound = new AsyncResource('test').bind(() => undefined);
    const accessor = Object.getOwnPropertyDescriptor(bound, 'asyncResource')!;
    assert.equal(Object.getPrototypeOf(bound), Function.prototype);
    assert.equal(Object.getPrototypeOf(accessor.get!), Function.prototype);
    assert.equal(Object.getPrototypeOf(accessor.set!), Function.prototype);
  });

  test('an HTTP/2 request still completes, its response heard in the context it was made in', async () => {
    const server = http2.createServer();
    server.on('stream', (stream) => stream.respond({ ':status': 204 }, { endStream: true }));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const session = http2.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    try {
      const als = new AsyncLocalStorage<string>();
      const heard = als.run('call-1', () => new Promise<[number, string | undefined]>((resolve, reject) => {
        const req = session.request({ ':path': '/' }, { endStream: true });
        req.on('response', (h) => resolve([Number(h[':status']), als.getStore()]));
        req.on('error', reject);
      }));
      assert.deepEqual(await heard, [204, 'call-1']);
    } finally {
      session.close();
      server.close();
    }
  });
});
