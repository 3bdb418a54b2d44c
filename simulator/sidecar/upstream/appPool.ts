/**
 * HTTP/1.1 to the app on 127.0.0.1 through undici's `Pool.dispatch` (issue 19):
 * the request head is written from the flat header array and the response
 * parsed by llhttp without Node's ClientRequest / IncomingMessage objects.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { PassThrough, Readable } from 'node:stream';
import * as v8 from 'node:v8';
import type { Pool as PoolType } from 'undici';

// Pool's own module, not undici's index (which loads fetch, WebSocket, the caches ...).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const Pool = require('undici/lib/dispatcher/pool') as typeof PoolType;
type Pool = PoolType;
import type { RequestContext } from '../context';
import { resetBeforeRequest, upstreamConnectFailure, upstreamReset, type ProxyError } from '../errors';
import { hasBody } from './hopByHop';
import { forwardHttp1, headerLines, markServiceTime, type Attempt } from './http1';
import type { Agent } from 'node:http';

export class AppPools {
  private readonly pools = new Map<number, Pool>();

  of(port: number): Pool {
    let pool = this.pools.get(port);
    if (!pool) {
      // llhttp (wasm) compiled by Liftoff alone: TurboFan's tier-up of it costs ~33 MB of peak RSS per process.
      if (this.pools.size === 0) v8.setFlagsFromString('--liftoff-only');
      // No cap on connections (circuit breaking is the place to limit), one request at a time on each, no timeouts of its own (the route's timeout filter bounds a request).
      pool = new Pool(`http://127.0.0.1:${port}`, { connections: null, pipelining: 1, headersTimeout: 0, bodyTimeout: 0 });
      this.pools.set(port, pool);
    }
    return pool;
  }

  destroy(): void {
    for (const pool of this.pools.values()) void pool.destroy().catch(() => undefined);
    this.pools.clear();
  }
}

/** A response body fed by undici's onData; reading it resumes the socket undici paused. */
class AppBody extends Readable {
  trailers: IncomingHttpHeaders = {};
  resumeSocket: (() => void) | undefined;
  override _read(): void {
    this.resumeSocket?.();
  }
}

export function forwardToApp(ctx: RequestContext, port: number, pools: AppPools, agent: Agent, who: string, attempt: Attempt = {}): void {
  const fail = attempt.fail ?? ctx.fail;
  const reqBody = attempt.body ?? ctx.downstream.body;
  const withBody = hasBody(ctx.downstream, reqBody);
  const headers = ctx.headers;
  headers.host = ctx.authority;
  const sent = performance.now();
  let body: AppBody | undefined;
  let abort: ((err?: Error) => void) | undefined;
  let cancelled = false;
  let done = false;
  pools.of(port).dispatch({ path: ctx.path, method: ctx.method, headers: headerLines(headers, ctx.method, withBody), body: withBody ? reqBody.pipe(new PassThrough()) : null }, {
    onConnect(a: (err?: Error) => void) {
      abort = a;
      if (cancelled) a();
    },
    onHeaders(status: number, raw: Buffer[], resume: () => void): boolean {
      const h = headersOf(raw);
      markServiceTime(ctx, h, sent);
      body = new AppBody();
      body.resumeSocket = resume;
      ctx.respond(status, h, body);
      return true;
    },
    onData(chunk: Buffer): boolean {
      return body!.push(chunk);
    },
    onComplete(trailers: Buffer[] | null): void {
      done = true;
      if (trailers && trailers.length > 0) body!.trailers = headersOf(trailers);
      body!.push(null);
    },
    onError(err: Error & { code?: string; socket?: { bytesRead?: number } }): void {
      if (done) return;
      done = true;
      if (body) {
        body.destroy(cancelled ? undefined : err);
        return;
      }
      if (cancelled) return;
      const code = err.code;
      // A request undici will not send (an expect, upgrade or transfer-encoding header, a value it rejects): Node's client as before.
      if (abort === undefined && (code === 'UND_ERR_INVALID_ARG' || code === 'UND_ERR_NOT_SUPPORTED')) return forwardHttp1(ctx, port, agent, undefined, who, attempt);
      let e: ProxyError;
      if (code === 'ECONNREFUSED' || code === 'EADDRNOTAVAIL') e = upstreamConnectFailure(`devmesh: connection to ${who} refused\n`);
      else if ((code === 'ECONNRESET' || code === 'EPIPE' || code === 'UND_ERR_SOCKET') && (err.socket?.bytesRead ?? 0) > 0) e = resetBeforeRequest(`devmesh: ${who} closed its idle connection before reading the request\n`);
      else e = upstreamReset(`devmesh: ${who} failed: ${err.message}\n`);
      fail(e);
    },
  } as never);
  ctx.onAbort(() => {
    cancelled = true;
    abort?.();
    body?.destroy();
  });
}

/** Node's IncomingMessage header rules: lower-case names, a repeated set-cookie a list, cookie joined by '; ', the singletons' first value kept, the rest joined by ', '. */
function headersOf(raw: Buffer[]): IncomingHttpHeaders {
  const h: Record<string, string | string[]> = {};
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toString('latin1').toLowerCase();
    const value = raw[i + 1].toString('latin1');
    const prev = h[name];
    if (prev === undefined) h[name] = name === 'set-cookie' ? [value] : value;
    else if (name === 'set-cookie') (prev as string[]).push(value);
    else if (SINGLETONS.has(name)) continue;
    else h[name] = `${prev as string}${name === 'cookie' ? '; ' : ', '}${value}`;
  }
  return h;
}

const SINGLETONS = new Set(['content-type', 'content-length', 'user-agent', 'referer', 'host', 'authorization', 'proxy-authorization', 'if-modified-since', 'if-unmodified-since', 'from', 'location', 'max-forwards', 'retry-after', 'etag', 'last-modified', 'server', 'age', 'expires']);
