/**
 * The public keys of each JWT provider, loaded where its rule says and kept:
 *
 * - `jwks` inline: read once per text.
 * - a file (`file://` URL in the snapshot): re-read when its mtime changes,
 *   checked at most once a second, like Envoy's watched local JWKS.
 * - an http(s) URL on loopback: fetched within the rule's timeout and cached
 *   for 5 minutes (Istio's remote JWKS cache_duration); a refresh that fails
 *   keeps the keys it had. Other hosts are not fetched: a local mesh does not
 *   reach out to the network on its own.
 *
 * Keys that cannot be had answer "Jwks remote fetch is failed", a JWKS that
 * does not parse answers Envoy's JWKS status: every token of that provider is
 * rejected, requests without one still pass — Istio's fail-closed behaviour
 * when istiod cannot fetch a JWKS.
 */
import { promises as fs } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { checkJwks, JWKS_STATUS } from '../../policy/jwks';
import type { JwtStatus } from './jwtStatus';
import type { JwtProvider } from './requestAuthentication';

export type KeysResult = { status: 'Ok'; jwks: Record<string, unknown>[] } | { status: Exclude<JwtStatus, 'Ok'> };

interface Entry {
  result?: KeysResult;
  /** When `result` was made (ms). */
  at: number;
  mtimeMs?: number;
  pending?: Promise<KeysResult>;
  /** The last failure logged, so a failing source is reported once, not per request. */
  logged?: string;
}

export interface JwksStoreOptions {
  log?: (level: 'info' | 'warn', message: string) => void;
  now?: () => number;
  /** How long fetched keys are kept (default 5 minutes). */
  cacheMs?: number;
  /** How often a JWKS file's mtime is checked, and how long a failure is remembered (default 1 s). */
  recheckMs?: number;
}

const STATUS_OF_TEXT = new Map<string, Exclude<JwtStatus, 'Ok'>>([
  [JWKS_STATUS.parseError, 'JwksParseError'],
  [JWKS_STATUS.noKeys, 'JwksNoKeys'],
  [JWKS_STATUS.badKeys, 'JwksBadKeys'],
  [JWKS_STATUS.noValidKeys, 'JwksNoValidKeys'],
]);

/** A JWKS text as the keys it holds, or Envoy's status for why it holds none. */
export function keysOf(text: string): KeysResult {
  const checked = checkJwks(text);
  if (checked.error) return { status: STATUS_OF_TEXT.get(checked.error) ?? 'JwksParseError' };
  return { status: 'Ok', jwks: checked.keys.map((k) => k.jwk) };
}

export class JwksStore {
  private readonly entries = new Map<string, Entry>();
  private readonly now: () => number;
  private readonly cacheMs: number;
  private readonly recheckMs: number;

  constructor(private readonly opts: JwksStoreOptions = {}) {
    this.now = opts.now ?? Date.now;
    this.cacheMs = opts.cacheMs ?? 5 * 60_000;
    this.recheckMs = opts.recheckMs ?? 1_000;
  }

  keys(p: JwtProvider): Promise<KeysResult> {
    const src = p.jwks;
    switch (src.kind) {
      case 'inline': return Promise.resolve(this.inline(src.text));
      case 'file': return this.cached(`file:${src.path}`, (e) => this.loadFile(src.path, e), this.recheckMs);
      case 'url':
        if (!src.loopback) return Promise.resolve(this.unavailable(`url:${src.url}`, `JWKS ${src.url} of ${p.policy} is not fetched: devmesh fetches a jwksUri only from loopback (127.0.0.1, localhost) — save the JWKS to a file or serve it locally; tokens of issuer "${p.issuer}" are rejected`));
        return this.cached(`url:${src.url}`, (e) => this.fetchUrl(src.url, p.fetchTimeoutMs, e), this.cacheMs);
      case 'none': return Promise.resolve(this.unavailable(`none:${p.policy}:${p.issuer}`, `${p.policy}: the jwtRule for issuer "${p.issuer}" has no jwks or jwksUri (OpenID discovery is not simulated); its tokens are rejected`));
      case 'invalid': return Promise.resolve(this.unavailable(`invalid:${p.policy}:${p.issuer}`, `${p.policy}: ${src.problem}; tokens of issuer "${p.issuer}" are rejected`));
    }
  }

  private inline(text: string): KeysResult {
    const key = `inline:${text}`;
    let e = this.entries.get(key);
    if (!e) this.entries.set(key, (e = { at: this.now(), result: keysOf(text) }));
    return e.result!;
  }

  private unavailable(key: string, why: string): KeysResult {
    const e = this.entries.get(key) ?? { at: this.now() };
    this.entries.set(key, e);
    this.report(e, why);
    return { status: 'JwksFetchFail' };
  }

  /** The entry's result while fresh; else one load at a time, shared by the requests that wait for it. */
  private cached(key: string, load: (e: Entry) => Promise<KeysResult>, freshMs: number): Promise<KeysResult> {
    let e = this.entries.get(key);
    if (!e) this.entries.set(key, (e = { at: 0 }));
    const entry = e;
    const fresh = entry.result && this.now() - entry.at < (entry.result.status === 'Ok' ? freshMs : this.recheckMs);
    if (fresh) return Promise.resolve(entry.result!);
    entry.pending ??= load(entry).then((r) => {
      entry.result = r;
      entry.at = this.now();
      entry.pending = undefined;
      return r;
    });
    return entry.pending;
  }

  private async loadFile(url: string, e: Entry): Promise<KeysResult> {
    try {
      const path = fileURLToPath(url);
      const stat = await fs.stat(path);
      if (e.result && e.result.status === 'Ok' && stat.mtimeMs === e.mtimeMs) return e.result;
      const result = keysOf(await fs.readFile(path, 'utf8'));
      e.mtimeMs = stat.mtimeMs;
      if (result.status !== 'Ok') this.report(e, `JWKS file ${path} is unusable: ${statusText(result.status)}`);
      else this.recovered(e, `JWKS file ${path} loaded`);
      return result;
    } catch (err) {
      this.report(e, `JWKS file ${url} cannot be read: ${(err as Error).message}; its provider's tokens are rejected`);
      return { status: 'JwksFetchFail' };
    }
  }

  private async fetchUrl(url: string, timeoutMs: number, e: Entry): Promise<KeysResult> {
    const previous = e.result?.status === 'Ok' ? e.result : undefined;
    let result: KeysResult;
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      result = keysOf(await res.text());
      if (result.status !== 'Ok') this.report(e, `JWKS ${url} is unusable: ${statusText(result.status)}`);
    } catch (err) {
      const why = (err as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message;
      result = { status: 'JwksFetchFail' };
      this.report(e, `JWKS ${url} cannot be fetched (${why})${previous ? '; keeping the keys fetched before' : '; its provider\'s tokens are rejected'}`);
    }
    if (result.status === 'Ok') this.recovered(e, `JWKS ${url} fetched`);
    return result.status === 'Ok' || !previous ? result : previous;
  }

  private report(e: Entry, message: string): void {
    if (e.logged === message) return;
    e.logged = message;
    this.opts.log?.('warn', message);
  }

  private recovered(e: Entry, message: string): void {
    if (e.logged === undefined) return;
    e.logged = undefined;
    this.opts.log?.('info', message);
  }
}

function statusText(status: JwtStatus): string {
  return [...STATUS_OF_TEXT].find(([, s]) => s === status)?.[0] ?? status;
}
