/**
 * Connection-specific headers never cross a proxy (RFC 9110 7.6.1), and
 * HTTP/2 forbids them outright (RFC 9113 8.2.2) — Node's http2 throws on them.
 * `host` becomes `:authority` on HTTP/2 and comes back from it on HTTP/1.1.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { Http2Stream } from 'node:http2';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'proxy-authenticate', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'http2-settings', 'host']);

/**
 * Copies request headers minus hop-by-hop ones, names listed in `Connection`,
 * and pseudo-headers. With `raw` (the request's rawHeaders), a header that
 * came in several lines stays several values, as Envoy keeps them: Node joins
 * them into one `a, b` in `headers`, and an app that reads each value (Go's
 * `Header["X"]`) would see one.
 */
export function endToEndHeaders(src: IncomingHttpHeaders | OutgoingHttpHeaders, raw?: readonly string[]): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  const connection = src.connection;
  const extra = typeof connection === 'string' && connection.length > 0 ? new Set(connection.toLowerCase().split(',').map((s) => s.trim())) : undefined;
  let names = 0;
  for (const name in src) {
    names++;
    if (name.charCodeAt(0) === 58 /* ':' */ || HOP_BY_HOP.has(name) || extra?.has(name)) continue;
    const v = src[name];
    if (v !== undefined) out[name] = v;
  }
  // More raw lines than names: some header came more than once.
  if (raw && raw.length / 2 > names) {
    const seen = new Map<string, string[]>();
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i].toLowerCase();
      if (!(name in out) || name === 'cookie') continue;
      const list = seen.get(name);
      if (list) list.push(raw[i + 1]);
      else seen.set(name, [raw[i + 1]]);
    }
    for (const [name, values] of seen) if (values.length > 1) out[name] = values;
  }
  // `te: trailers` is the one TE value HTTP/2 allows (gRPC needs it).
  if (typeof src.te === 'string' && src.te.toLowerCase() === 'trailers') out.te = 'trailers';
  return out;
}

/** Same for response headers; `host` is not a response header, so only the hop-by-hop list applies. */
export function endToEndResponseHeaders(src: IncomingHttpHeaders | OutgoingHttpHeaders): OutgoingHttpHeaders {
  const out = endToEndHeaders(src);
  delete out.te;
  return out;
}

/**
 * Whether a downstream request has a body to stream (so the upstream request
 * must stay open, and a retry has something to replay): HTTP/2 unless its
 * HEADERS frame ended the stream (the server stream's `endAfterHeaders`);
 * HTTP/1.1 by content-length or chunking. `body`: the stream an attempt sends
 * instead of the downstream's own (a replayed copy).
 */
export function hasBody(d: { headers: IncomingHttpHeaders; httpVersion: string; body: unknown; chunked?: boolean }, body: unknown = d.body): boolean {
  if (d.httpVersion.startsWith('2')) return !endedWithHeaders(body);
  const cl = d.headers['content-length'];
  if (cl !== undefined) return cl !== '0';
  return d.chunked === true || d.headers['transfer-encoding'] !== undefined;
}

/** Whether a downstream body is an HTTP/2 request stream whose HEADERS frame ended it (it has no body, and never emits 'end' unless read). */
export function endedWithHeaders(body: unknown): boolean {
  return (body as { endAfterHeaders?: boolean }).endAfterHeaders === true;
}

/**
 * Calls `cb` with a response body's trailers if it has any: an HTTP/2
 * stream's 'trailers' event, or an HTTP/1.1 message's `trailers` once it has
 * ended. Register it before piping the body, so it runs before the pipe ends
 * the destination.
 */
export function onTrailers(body: NodeJS.EventEmitter, cb: (trailers: IncomingHttpHeaders) => void): void {
  if (isHttp2Stream(body)) {
    // on(), not once() around a closure: Node emits 'trailers' at most once per stream (a second
    // trailing HEADERS frame is a protocol error), and once() wraps and unwraps a listener per call.
    body.on('trailers', cb);
    return;
  }
  const message = body as { trailers?: IncomingHttpHeaders };
  if (message.trailers !== undefined) body.once('end', () => { if (Object.keys(message.trailers!).length > 0) cb(message.trailers!); });
}

/**
 * Whether a response body can end with trailers: an HTTP/2 stream can, an
 * HTTP/1.1 message only when chunked (a content-length rules it out), and
 * nothing else. An HTTP/2 answer waits for trailers only then: waiting
 * costs a frame of its own (an empty DATA frame with END_STREAM when none
 * come) and a callback per response.
 */
export function mayHaveTrailers(body: NodeJS.EventEmitter, headers: IncomingHttpHeaders | OutgoingHttpHeaders): boolean {
  if (isHttp2Stream(body)) return true;
  return (body as { trailers?: unknown }).trailers !== undefined && headers['content-length'] === undefined;
}

/** Whether a body is an HTTP/2 stream (it has trailers and an RST_STREAM code), not an HTTP/1.1 message or a buffer replay. */
export function isHttp2Stream(body: unknown): body is Http2Stream {
  return typeof (body as { rstCode?: unknown }).rstCode === 'number' && typeof (body as { sentHeaders?: unknown }).sentHeaders === 'object';
}
