/**
 * The HTTP/2 client sessions a pool keeps, one per key (a peer sidecar, an
 * app's port): the live one for a key, and how they all end — GOAWAY, so
 * streams in flight finish (`close`), or cut (`destroy`). After either, the
 * pool opens no new session.
 */
import type * as http2 from 'node:http2';

/** Marks a session whose connection came up: a later failure is a reset (UC), not a connect failure (UF). */
const CONNECTED = Symbol('devmesh.h2.connected');

export abstract class SessionSet<K> {
  protected readonly sessions = new Map<K, http2.ClientHttp2Session>();
  protected closed = false;

  /** The session for `key` if it can still take streams; throws once the pool is closed. */
  protected live(key: K, what: string): http2.ClientHttp2Session | undefined {
    const existing = this.sessions.get(key);
    if (existing && !existing.closed && !existing.destroyed) return existing;
    if (this.closed) throw new Error(`${what} is closed`);
    return undefined;
  }

  /** Whether a session's connection is up (TLS handshake done for mTLS, TCP for h2c). */
  static connected(session: http2.ClientHttp2Session): boolean {
    return (session as unknown as Record<symbol, boolean>)[CONNECTED] === true;
  }

  /**
   * Keeps a new session for `key` until it receives GOAWAY, errors or
   * closes (the next request then opens another); it does not hold the
   * process open. Requests on it finish or fail on their own: each stream
   * reports a failed connection to its request, so the session's 'error' is
   * only listened to here, never thrown.
   */
  protected keep(key: K, session: http2.ClientHttp2Session): http2.ClientHttp2Session {
    session.once('connect', () => { (session as unknown as Record<symbol, boolean>)[CONNECTED] = true; });
    const forget = () => this.forget(key, session);
    session.once('goaway', forget);
    session.once('close', forget);
    session.on('error', forget);
    session.unref();
    this.sessions.set(key, session);
    return session;
  }

  /** Forgets `session` if it is still the one for `key` (a replacement may already be there). */
  protected forget(key: K, session: http2.ClientHttp2Session): void {
    if (this.sessions.get(key) === session) this.sessions.delete(key);
  }

  /** GOAWAY on every session and forget them all (new certificates, or shutting down). */
  protected drainAll(): void {
    for (const s of this.sessions.values()) drain(s);
    this.sessions.clear();
  }

  get size(): number {
    return this.sessions.size;
  }

  close(): void {
    this.closed = true;
    this.drainAll();
  }

  destroy(): void {
    this.closed = true;
    for (const s of this.sessions.values()) s.destroy();
    this.sessions.clear();
  }
}

/**
 * Closes a session gracefully once it has connected and sent the requests
 * made on it (they are written on the next turn of the event loop): Node
 * fails requests waiting for a session that closes while connecting ("New
 * streams cannot be created after receiving a GOAWAY"), and nghttp2 refuses
 * streams queued behind the GOAWAY.
 */
function drain(session: http2.ClientHttp2Session): void {
  const close = () => setImmediate(() => session.close());
  if (session.connecting) session.once('connect', close);
  else close();
}
