/**
 * HTTP/1.1 keep-alive to the app on 127.0.0.1 (issue 19): a `net` socket and
 * Node's own llhttp binding (`_http_common`'s HTTPParser, the parser Node's
 * ClientRequest runs), without ClientRequest, IncomingMessage and the
 * Agent's bookkeeping around them — ~12-14 % less sidecar CPU per request
 * without a body (BENCHMARKS.md, und12), ~7-15 % less per 1 KiB POST
 * (body13). What the Agent does for a kept-alive socket, this does too: LIFO
 * reuse, at most 256 idle per port, TCP keep-alive, unref while idle, closed
 * 1 s before the app's announced `Keep-Alive: timeout`. A request body is
 * written as ClientRequest writes a piped one (writeBody); the connection is
 * free again once the body is written and the response has ended, as Node's
 * client waits for both. An `expect` header, a HEAD with a body, a body of a
 * GET/DELETE/OPTIONS/TRACE with no content-length (Node sends it until the
 * connection closes), a header or path Node would refuse go through
 * forwardHttp1 (http.request) as before, decided per request.
 */
import type { Agent, IncomingHttpHeaders } from 'node:http';
import * as net from 'node:net';
import { Readable } from 'node:stream';
import type { RequestContext } from '../context';
import { hasBody } from './hopByHop';
import { BODY_BY_DEFAULT, forwardHttp1, headerLines, markServiceTime, requestFailure, type Attempt } from './http1';

interface Parser {
  initialize(type: number, resource: object, maxHeaderSize: number, lenient: number): void;
  execute(data: Buffer): number | Error;
  finish(): number | Error | undefined;
  close(): void;
  [k: number]: unknown;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const common = require('_http_common') as {
  HTTPParser: { new (): Parser; RESPONSE: number; kOnHeaders: number; kOnHeadersComplete: number; kOnBody: number; kOnMessageComplete: number };
  _checkIsHttpToken(s: string): boolean;
  _checkInvalidHeaderChar(s: string): boolean;
};
const { HTTPParser } = common;

/** Node's own limits, as ClientRequest checks them: a header name is a token, a value has no CR/LF/NUL, a path no control or space. */
const INVALID_PATH = /[^\u0021-\u00ff]/;
const MAX_FREE_PER_PORT = 256;

/** One exchange on a connection: what the parser found, for the request that owns it. */
interface Exchange {
  head(status: number, headers: IncomingHttpHeaders): void;
  body(chunk: Buffer): void;
  complete(trailers: IncomingHttpHeaders | undefined): void;
  error(err: NodeJS.ErrnoException, reused: boolean): void;
}

class Connection {
  readonly socket: net.Socket;
  private readonly parser: Parser;
  /** Responses this connection carried to their end: more than none makes it a reused connection. */
  private served = 0;
  exchange: Exchange | undefined;
  private pending: string[] = [];
  private headersDone = false;
  private informational = false;
  private skipBody = false;
  private keepAlive = false;
  private keepAliveHint: string | undefined;
  /** The app answered when no request was out: the connection is being closed. */
  private unsolicited = false;
  /** The request body still going out: the connection goes back to the idle list only once it is written, as Node's client waits for both its request's finish and its response's end. */
  writer: { stop(): void } | undefined;
  private releaseWhenWritten = false;

  constructor(readonly port: number, private readonly pool: AppConnections) {
    const socket = (this.socket = net.connect({ host: '127.0.0.1', port }));
    socket.setNoDelay(true);
    const parser = (this.parser = new HTTPParser());
    parser.initialize(HTTPParser.RESPONSE, {}, 0, 0);
    // Header lines the parser hands over before the head is complete (a long head), or trailers after the body.
    parser[HTTPParser.kOnHeaders] = (lines: string[]) => { this.pending = this.pending.concat(lines); };
    parser[HTTPParser.kOnHeadersComplete] = (_major: number, _minor: number, lines: string[] | undefined, _method: unknown, _url: unknown, status: number, _message: unknown, _upgrade: unknown, keepAlive: boolean) => {
      const raw = lines ?? this.pending;
      this.pending = [];
      // An answer with no request out (a 408 the app sends on an idle kept-alive connection, say): nobody's
      // answer, and the connection is out of step; closed (its idle-list place goes with it) before anyone takes it.
      if (this.exchange === undefined) {
        this.unsolicited = true;
        socket.destroy();
        return 1;
      }
      // 1xx (103 Early Hints, an unasked 100): not the answer; the parser goes on to the real one.
      this.informational = status < 200;
      if (this.informational) return 0;
      this.headersDone = true;
      this.keepAlive = keepAlive;
      const headers = headersOf(raw);
      this.keepAliveHint = headers['keep-alive'] as string | undefined;
      this.exchange?.head(status, headers);
      // A HEAD's response has no body whatever its content-length says.
      return this.skipBody ? 1 : 0;
    };
    parser[HTTPParser.kOnBody] = (chunk: Buffer) => this.exchange?.body(chunk);
    parser[HTTPParser.kOnMessageComplete] = () => {
      if (this.informational) {
        this.informational = false;
        return;
      }
      if (this.unsolicited) return;
      const ex = this.exchange;
      const trailers = this.pending.length > 0 ? headersOf(this.pending) : undefined;
      this.exchange = undefined;
      this.pending = [];
      this.headersDone = false;
      this.served++;
      if (this.keepAlive) {
        // Answered before the app read the whole body (an early 413, say): the rest still goes out, then the connection is free.
        if (this.writer) this.releaseWhenWritten = true;
        else this.pool.release(this, this.keepAliveHint);
      } else if (this.writer) {
        // The app closes: the body stops where it is, what is queued goes out, then the connection ends (Node's destroySoon).
        this.writer.stop();
        this.writer = undefined;
        socket.destroySoon();
      } else socket.destroy();
      ex?.complete(trailers);
    };
    socket.on('data', (d: Buffer) => {
      const r = parser.execute(d);
      if (r instanceof Error) socket.destroy(r);
    });
    // A body that runs to the connection's end (no length, not chunked) completes at it.
    socket.on('end', () => {
      if (this.headersDone) parser.finish();
      socket.destroy();
    });
    socket.on('timeout', () => socket.destroy());
    socket.on('error', (err) => this.fail(err));
    socket.on('close', () => {
      this.writer?.stop();
      this.writer = undefined;
      this.pool.forget(this);
      parser.close();
      this.fail(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
    });
  }

  send(head: string, skipBody: boolean, ex: Exchange): void {
    this.exchange = ex;
    this.skipBody = skipBody;
    this.socket.write(head, 'latin1');
  }

  /** A request with a body: the head goes out with its first bytes (as Node's client sends it), framed by length or in chunks. */
  sendWithBody(head: string, body: Readable, chunked: boolean, ex: Exchange, gone: () => void): { stop(): void } {
    this.exchange = ex;
    this.skipBody = false;
    return (this.writer = writeBody(this, head, body, chunked, gone));
  }

  /** The request body's last bytes are queued: the connection is free once its response has ended too. */
  written(): void {
    this.writer = undefined;
    if (!this.releaseWhenWritten) return;
    this.releaseWhenWritten = false;
    this.pool.release(this, this.keepAliveHint);
  }

  private fail(err: NodeJS.ErrnoException): void {
    const ex = this.exchange;
    this.exchange = undefined;
    ex?.error(err, this.served > 0);
  }
}

/**
 * Streams a request body onto the connection as Node's ClientRequest does
 * for a piped body: the head with the first chunk, each chunk framed
 * (`len\r\n`, chunk, `\r\n`) when chunked, `0\r\n\r\n` at the end, the
 * writes of one tick corked into one, the body paused while the socket's
 * buffer is full. The downstream's trailers are not sent (neither did the
 * pipe into http.request). `stop()`: the connection is closing; the body is
 * left paused, as a pipe into a destroyed request leaves it. A body that
 * closes before its end closes the connection (`gone` first).
 */
function writeBody(conn: Connection, head: string, body: Readable, chunked: boolean, gone: () => void): { stop(): void } {
  const socket = conn.socket;
  let headPending = true;
  let corked = false;
  const uncork = () => {
    corked = false;
    socket.uncork();
  };
  const out = () => {
    if (!corked) {
      corked = true;
      socket.cork();
      process.nextTick(uncork);
    }
    if (headPending) {
      headPending = false;
      socket.write(head, 'latin1');
    }
  };
  let waiting = false;
  const onDrain = () => {
    waiting = false;
    body.resume();
  };
  const onData = (chunk: Buffer) => {
    if (chunk.length === 0) return;
    out();
    let ok: boolean;
    if (chunked) {
      socket.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
      socket.write(chunk);
      ok = socket.write('\r\n', 'latin1');
    } else ok = socket.write(chunk);
    if (!ok && !waiting) {
      waiting = true;
      body.pause();
      socket.once('drain', onDrain);
    }
  };
  // A body that closes before its end (the caller went away, its stream was reset): half a request is on the
  // connection, which can never carry another; closed, so the app sees the request cut short.
  const onClose = () => {
    gone();
    socket.destroy();
  };
  const detach = () => {
    body.removeListener('data', onData);
    body.removeListener('end', onEnd);
    body.removeListener('close', onClose);
    socket.removeListener('drain', onDrain);
  };
  let stopped = false;
  const onEnd = () => {
    if (stopped) return;
    out();
    if (chunked) socket.write('0\r\n\r\n', 'latin1');
    detach();
    conn.written();
  };
  // A body already read to its end (as a pipe would, the request still goes out, ended).
  if (body.readableEnded) process.nextTick(onEnd);
  else {
    body.on('data', onData);
    body.once('end', onEnd);
    body.once('close', onClose);
    body.resume();
  }
  return {
    stop() {
      stopped = true;
      detach();
      body.pause();
    },
  };
}

/** The kept-alive connections to the app's ports (what newKeepAliveAgent is for http.request). */
export class AppConnections {
  private readonly idle = new Map<number, Connection[]>();
  private readonly all = new Set<Connection>();

  take(port: number): Connection {
    const c = this.idle.get(port)?.pop();
    if (c) {
      c.socket.ref();
      c.socket.setTimeout(0);
      return c;
    }
    const fresh = new Connection(port, this);
    this.all.add(fresh);
    return fresh;
  }

  /** Back to the idle list (most recent first out), or closed when the app's keep-alive hint leaves no time or the list is full. */
  release(c: Connection, keepAliveHint: string | undefined): void {
    const hint = keepAliveHint === undefined ? undefined : /^timeout=(\d+)/.exec(keepAliveHint)?.[1];
    // As Node's Agent: let the idle timer expire 1 s before the app's own.
    const idleMs = hint === undefined ? 0 : Number(hint) * 1000 - 1000;
    let list = this.idle.get(c.port);
    if (!list) this.idle.set(c.port, (list = []));
    if ((hint !== undefined && idleMs <= 0) || list.length >= MAX_FREE_PER_PORT) {
      c.socket.destroy();
      return;
    }
    const s = c.socket;
    // A body left paused by backpressure at its last chunk: the next response must be read.
    if (s.isPaused()) s.resume();
    s.setKeepAlive(true, 1000);
    if (idleMs > 0) s.setTimeout(idleMs);
    s.unref();
    list.push(c);
  }

  forget(c: Connection): void {
    this.all.delete(c);
    const list = this.idle.get(c.port);
    const i = list ? list.lastIndexOf(c) : -1;
    if (i >= 0) list!.splice(i, 1);
  }

  destroy(): void {
    for (const c of this.all) c.socket.destroy();
  }
}

/** A response body: pushed as the parser reads it; a full buffer pauses the socket, reading resumes it (while the exchange lasts). */
class AppBody extends Readable {
  trailers: IncomingHttpHeaders = {};
  socket: net.Socket | undefined;
  override _read(): void {
    this.socket?.resume();
  }
}

/** The request head as Node's client would write it, or undefined where Node would refuse it (forwardHttp1 then throws or sends as before). */
function requestHead(method: string, path: string, lines: string[], chunked = false): string | undefined {
  if (INVALID_PATH.test(path)) return undefined;
  let head = `${method} ${path} HTTP/1.1\r\n`;
  for (let i = 0; i < lines.length; i += 2) {
    const name = lines[i];
    const v = lines[i + 1] as unknown;
    if (!common._checkIsHttpToken(name)) return undefined;
    if (Array.isArray(v)) {
      for (const one of v) {
        if (common._checkInvalidHeaderChar(String(one))) return undefined;
        head += `${name}: ${String(one)}\r\n`;
      }
    } else {
      if (common._checkInvalidHeaderChar(String(v))) return undefined;
      head += `${name}: ${String(v)}\r\n`;
    }
  }
  // Node's order: the caller's headers, its Connection, then the framing it adds itself.
  return chunked ? `${head}Connection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n` : `${head}Connection: keep-alive\r\n\r\n`;
}

export function forwardToApp(ctx: RequestContext, port: number, connections: AppConnections, agent: Agent, who: string, attempt: Attempt = {}): void {
  const body = attempt.body ?? ctx.downstream.body;
  const headers = ctx.headers;
  const withBody = hasBody(ctx.downstream, body);
  // Node frames a body by its content-length, else in chunks for the methods it sends a body for by default; a
  // body of another method without a length (sent until the connection closes), a HEAD's body, and `expect` stay with it.
  const chunked = withBody && headers['content-length'] === undefined;
  if (headers.expect !== undefined || (withBody && (ctx.method === 'HEAD' || (chunked && !BODY_BY_DEFAULT(ctx.method))))) return forwardHttp1(ctx, port, agent, undefined, who, attempt);
  headers.host = ctx.authority;
  const head = requestHead(ctx.method, ctx.path, headerLines(headers, ctx.method, withBody), chunked);
  if (head === undefined) return forwardHttp1(ctx, port, agent, undefined, who, attempt);
  const fail = attempt.fail ?? ctx.fail;
  const conn = connections.take(port);
  const sent = performance.now();
  let response: AppBody | undefined;
  let cancelled = false;
  /** Whether the connection still carries this exchange (after its end it may carry another request's). */
  let mine = true;
  const exchange: Exchange = {
    head(status, h) {
      markServiceTime(ctx, h, sent);
      response = new AppBody();
      response.socket = conn.socket;
      ctx.respond(status, h, response);
    },
    body(chunk) {
      if (!response!.push(chunk)) conn.socket.pause();
    },
    complete(trailers) {
      mine = false;
      // The connection may carry another exchange now: this body no longer resumes it.
      response!.socket = undefined;
      if (trailers) response!.trailers = trailers;
      response!.push(null);
    },
    error(err, reused) {
      mine = false;
      // Cut short after the head: the body errors, and the downstream cuts its response short (UR).
      if (response) return void response.destroy(cancelled ? undefined : err);
      // Our own cancel (the downstream went away): nobody is left to answer, nothing to retry.
      if (cancelled) return;
      fail(requestFailure(err, who, reused));
    },
  };
  // The body gone before its end is the caller gone: as its abort, nothing is left to answer or retry.
  const writer = withBody ? conn.sendWithBody(head, body as Readable, chunked, exchange, () => { cancelled = true; }) : undefined;
  if (!withBody) conn.send(head, ctx.method === 'HEAD', exchange);
  ctx.onAbort(() => {
    cancelled = true;
    // A caller gone while its (complete) response still drains downstream leaves the connection to whoever has it now,
    // unless its request body is still going out on it (answered early): half a body, the connection cannot be reused.
    if (mine || (writer !== undefined && conn.writer === writer)) conn.socket.destroy();
  });
}

/** Node's IncomingMessage header rules: lower-case names, a repeated set-cookie a list, cookie joined by '; ', the singletons' first value kept, the rest joined by ', '. */
function headersOf(raw: string[]): IncomingHttpHeaders {
  const h: Record<string, string | string[]> = {};
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    const value = raw[i + 1];
    const prev = h[name];
    if (prev === undefined) h[name] = name === 'set-cookie' ? [value] : value;
    else if (name === 'set-cookie') (prev as string[]).push(value);
    else if (SINGLETONS.has(name)) continue;
    else h[name] = `${prev as string}${name === 'cookie' ? '; ' : ', '}${value}`;
  }
  return h;
}

/** The headers IncomingMessage keeps the first of when repeated (Node's matchKnownFields). */
const SINGLETONS = new Set(['content-type', 'content-length', 'user-agent', 'referer', 'host', 'authorization', 'proxy-authorization', 'if-modified-since', 'if-unmodified-since', 'from', 'location', 'max-forwards', 'retry-after', 'etag', 'last-modified', 'server', 'age', 'expires']);
