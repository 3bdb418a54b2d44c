/**
 * What a plaintext client on the inbound listener speaks, from its first
 * bytes, as Envoy's http_inspector tells HTTP from the rest: an HTTP/1.x
 * request line (`GET /x HTTP/1.1`, `CONNECT host:port HTTP/1.1`) or the
 * HTTP/2 preface is HTTP; anything else (a Redis client's `*1\r\n$4\r\nPING`)
 * is opaque TCP. Pure.
 */

/** Bytes of a request line we wait for at most before calling it TCP. */
const MAX_REQUEST_LINE = 8 * 1024;

export type Sniffed = 'http' | 'tcp' | 'more';

export function sniffPlaintext(buf: Buffer): Sniffed {
  const text = buf.subarray(0, MAX_REQUEST_LINE).toString('latin1');
  const eol = text.indexOf('\n');
  if (eol >= 0) {
    const line = text.slice(0, eol).replace(/\r$/, '');
    return /^[A-Z][A-Z_-]* \S+ HTTP\/\d(\.\d)?$/.test(line) ? 'http' : 'tcp';
  }
  if (buf.length >= MAX_REQUEST_LINE) return 'tcp';
  // Still on the first line: more bytes can only make it HTTP if it can still become a request line.
  return /^[A-Z][A-Z_-]*( \S*( (H(T(T(P(\/\d?(\.\d?)?)?)?)?)?)?)?)?\r?$/.test(text) ? 'more' : 'tcp';
}
