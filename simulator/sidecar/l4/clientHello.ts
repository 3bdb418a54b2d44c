/**
 * The server name (SNI) of a TLS ClientHello, read from the first bytes of a
 * connection as Envoy's tls_inspector listener filter reads it: without
 * decrypting anything, so TLS passthrough (tls[] routes) can route by it and
 * still hand the untouched bytes to the destination. Pure.
 */

/** The most a ClientHello may take before we give up waiting (Envoy's tls_inspector reads at most 64 KiB). */
export const MAX_CLIENT_HELLO = 64 * 1024;

export type ClientHelloRead =
  /** Not enough bytes yet. */
  | { kind: 'more' }
  /** The connection does not start with a TLS handshake. */
  | { kind: 'not-tls' }
  /** A ClientHello; `sni` when it names a server. */
  | { kind: 'hello'; sni?: string };

const HANDSHAKE = 0x16;
const CLIENT_HELLO = 0x01;
const SERVER_NAME = 0x0000;

export function readClientHello(buf: Buffer): ClientHelloRead {
  if (buf.length === 0) return { kind: 'more' };
  if (buf[0] !== HANDSHAKE) return { kind: 'not-tls' };
  // The handshake message may span several records: join their payloads.
  const parts: Buffer[] = [];
  let at = 0;
  let have = 0;
  let need = -1;
  while (need < 0 || have < need) {
    if (at + 5 > buf.length) return buf.length >= MAX_CLIENT_HELLO ? { kind: 'not-tls' } : { kind: 'more' };
    if (buf[at] !== HANDSHAKE || buf[at + 1] !== 0x03) return { kind: 'not-tls' };
    const len = buf.readUInt16BE(at + 3);
    if (at + 5 + len > buf.length) return buf.length >= MAX_CLIENT_HELLO ? { kind: 'not-tls' } : { kind: 'more' };
    parts.push(buf.subarray(at + 5, at + 5 + len));
    have += len;
    at += 5 + len;
    if (need < 0 && have >= 4) {
      const first = Buffer.concat(parts);
      if (first[0] !== CLIENT_HELLO) return { kind: 'not-tls' };
      need = 4 + first.readUIntBE(1, 3);
    }
  }
  const hello = Buffer.concat(parts).subarray(4, need);
  try {
    return { kind: 'hello', sni: serverName(hello) };
  } catch {
    return { kind: 'not-tls' };
  }
}

/** Walks a ClientHello body to the server_name extension; throws on a truncated one. */
function serverName(h: Buffer): string | undefined {
  let p = 2 + 32; // client_version, random
  const need = (n: number) => { if (p + n > h.length) throw new Error('truncated ClientHello'); };
  need(1); p += 1 + h[p]; // session_id
  need(2); p += 2 + h.readUInt16BE(p); // cipher_suites
  need(1); p += 1 + h[p]; // compression_methods
  if (p === h.length) return undefined; // no extensions
  need(2);
  const end = p + 2 + h.readUInt16BE(p);
  p += 2;
  while (p + 4 <= end) {
    const type = h.readUInt16BE(p);
    const len = h.readUInt16BE(p + 2);
    p += 4;
    need(len);
    if (type === SERVER_NAME) {
      let q = p + 2;
      const listEnd = p + 2 + h.readUInt16BE(p);
      while (q + 3 <= listEnd) {
        const nameType = h[q];
        const nameLen = h.readUInt16BE(q + 1);
        if (nameType === 0) return h.subarray(q + 3, q + 3 + nameLen).toString('ascii').toLowerCase();
        q += 3 + nameLen;
      }
      return undefined;
    }
    p += len;
  }
  return undefined;
}
