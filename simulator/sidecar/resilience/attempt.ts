/**
 * A derived request context for filters that must see (and maybe withhold)
 * the answer of what runs below them — retry, timeout, circuit breaker,
 * outlier detection — as an Envoy encoder filter does. The derived context
 * shares everything with its parent except `respond`/`fail` (the hooks) and
 * `onAbort`, which it keeps so the filter can cancel the work below itself.
 */
import type { OutgoingHttpHeaders, IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import type { RequestContext } from '../context';
import type { ProxyError } from '../errors';

export interface Hooks {
  respond(status: number, headers: OutgoingHttpHeaders | IncomingHttpHeaders, body: Readable | string | null): void;
  fail(err: ProxyError): void;
}

export interface Derived {
  ctx: RequestContext;
  /** Cancels the work below (the upstream request), if it registered how. */
  abort(): void;
}

export function derive(parent: RequestContext, hooks: Hooks, overrides: Partial<RequestContext> = {}): Derived {
  let onAbort: (() => void) | undefined;
  let aborted = false;
  const ctx: RequestContext = {
    ...parent,
    ...overrides,
    respond: hooks.respond,
    fail: hooks.fail,
    onAbort(cb) {
      onAbort = cb;
      if (aborted) cb();
    },
  };
  return {
    ctx,
    abort() {
      if (aborted) return;
      aborted = true;
      onAbort?.();
    },
  };
}

/** Throws away a response body we will not forward. */
export function discard(body: Readable | string | null): void {
  if (body !== null && typeof body !== 'string') body.destroy();
}
