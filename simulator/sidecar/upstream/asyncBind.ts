/**
 * `AsyncResource.prototype.bind` as Node 24 has it, for the Node 20/22 a
 * sidecar process may run on: every HTTP/2 client stream costs one bind
 * (`ClientHttp2Session.request()` binds its `requestOnConnect` to a fresh
 * `AsyncResource('PendingRequest')`), and a gRPC call opens two client
 * streams per sidecar pair (to the peer's sidecar, to the app over h2c).
 *
 * On Node 20 that bind wraps the getter and setter of the bound function's
 * deprecated `asyncResource` property (DEP0172) in `util.deprecate()`, which
 * makes a fresh closure the prototype of each wrapper
 * (`Object.setPrototypeOf`). V8 turns an object into a prototype by giving it
 * a map of its own and invalidating what its inline caches knew: measured at
 * ~16 µs of CPU per HTTP/2 request and response (both ends in one process,
 * ~25 % of Node's cost for one) and ~7 % of a gRPC call through a sidecar
 * pair (BENCHMARKS.md, grpc9 branch). Node 24 stopped setting that prototype
 * (nodejs/node#59195) and Node 25 removed the property (nodejs/node#58618).
 *
 * The replacement is Node's own bind minus that prototype change: the same
 * function runs in the resource's async scope with the same `this`, the bound
 * function has `fn`'s length, and `asyncResource` still reads and writes the
 * resource with a DEP0172 DeprecationWarning (once, as Node warns; silenced
 * by `--no-deprecation`, thrown by `--throw-deprecation`). Installed once per
 * process by the sidecar process's entry (main.ts), and only where a bound
 * function still has the property.
 */
import { AsyncResource } from 'node:async_hooks';

const DEP0172 = 'The asyncResource property on bound functions is deprecated';
let warned = false;
function warnDep0172(): void {
  if (warned) return;
  warned = true;
  process.emitWarning(DEP0172, 'DeprecationWarning', 'DEP0172');
}

let installed = false;

/**
 * Installs the bind without the prototype change; returns whether this
 * process now has it (false where Node's bound functions carry no
 * `asyncResource` any more: nothing to avoid there).
 */
export function installAsyncBind(): boolean {
  if (installed) return true;
  const nodeBind = AsyncResource.prototype.bind as unknown as (this: AsyncResource, fn: unknown, thisArg?: unknown) => object;
  if (!('asyncResource' in nodeBind.call(new AsyncResource('devmesh.probe'), () => undefined))) return false;
  AsyncResource.prototype.bind = function bind(this: AsyncResource, fn: unknown, thisArg?: unknown): object {
    // Node's own argument errors (ERR_INVALID_ARG_TYPE) for anything but a function.
    if (typeof fn !== 'function') return nodeBind.call(this, fn, thisArg);
    const resource = this;
    const run = fn as (...a: unknown[]) => unknown;
    let bound: (...args: unknown[]) => unknown;
    if (thisArg === undefined) {
      bound = function (this: unknown, ...args: unknown[]) {
        return resource.runInAsyncScope(run, this, ...args);
      };
    } else bound = resource.runInAsyncScope.bind(resource, run, thisArg);
    // What the deprecated property reads and writes (as in Node, writing it does not change the scope the function runs in).
    let self: AsyncResource = resource;
    Object.defineProperties(bound, {
      length: { configurable: true, enumerable: false, value: fn.length, writable: false },
      asyncResource: {
        configurable: true,
        enumerable: true,
        get() { warnDep0172(); return self; },
        set(value: AsyncResource) { warnDep0172(); self = value; },
      },
    });
    return bound;
  } as unknown as typeof AsyncResource.prototype.bind;
  installed = true;
  return true;
}
