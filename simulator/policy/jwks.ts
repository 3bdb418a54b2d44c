/**
 * JSON Web Key Sets and where a JWTRule takes them from, pure. The checks
 * follow Envoy's JWKS reader (google/jwt_verify_lib): a key it cannot use is
 * skipped, a set with no usable key is "Jwks doesn't have any valid public
 * key", and the messages are Envoy's own, so a validate error and a runtime
 * 401 body say the same thing. The cryptographic check of each key (is this
 * modulus a key at all?) happens when the sidecar imports it.
 */
import type { JWTRule } from './model';

/** Where a jwtRule's keys come from. */
export type JwksSource =
  | { kind: 'inline'; text: string }
  /** `path` as written: relative to the policy file, absolute, or a `file:` URL. */
  | { kind: 'file'; path: string }
  | { kind: 'url'; url: string; loopback: boolean }
  | { kind: 'none' }
  | { kind: 'invalid'; problem: string };

export function jwksUriOf(rule: JWTRule): string | undefined {
  return rule.jwksUri ?? rule.jwks_uri;
}

export function jwksSourceOf(rule: JWTRule): JwksSource {
  if (typeof rule.jwks === 'string' && rule.jwks !== '') return { kind: 'inline', text: rule.jwks };
  const uri = jwksUriOf(rule);
  if (typeof uri !== 'string' || uri === '') return { kind: 'none' };
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(uri)?.[1]?.toLowerCase();
  if (scheme === undefined || (scheme.length === 1 && /^[a-zA-Z]:[\\/]/.test(uri))) return { kind: 'file', path: uri };
  if (scheme === 'file') return { kind: 'file', path: uri };
  if (scheme !== 'http' && scheme !== 'https') return { kind: 'invalid', problem: `"${scheme}:" is not a scheme a JWKS is fetched with: use an http(s):// URL or a file path` };
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return { kind: 'invalid', problem: `"${uri}" is not a valid URL` };
  }
  return { kind: 'url', url: uri, loopback: isLoopbackHost(url.hostname) };
}

export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/**
 * An absolute `file://` URL for a file jwksUri written in `policyFile` (a
 * path or a file: URI, as the workspace knows the file).
 */
export function resolveJwksFile(path: string, policyFile: string): string {
  if (/^file:/i.test(path)) return new URL(path).href;
  const base = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(policyFile) ? policyFile : `file://${encodePath(policyFile)}`;
  return new URL(encodePath(path), base).href;
}

/** A file path as URL path segments (`#`, `?` and `%` in names stay names). */
function encodePath(path: string): string {
  return path.replace(/\\/g, '/').split('/').map(encodeURIComponent).join('/');
}

/** Envoy's JWKS statuses (jwt_verify_lib status.cc), as text. */
export const JWKS_STATUS = {
  parseError: 'Jwks is an invalid JSON',
  noKeys: 'Jwks does not have [keys] field',
  badKeys: '[keys] in Jwks is not an array',
  noValidKeys: 'Jwks doesn\'t have any valid public key',
} as const;

export interface JwkProblem {
  /** Index of the key in `keys`. */
  index: number;
  message: string;
}

export interface JwksCheck {
  /** The keys Envoy would keep (shape-valid), with their index in `keys`. */
  keys: { index: number; jwk: Record<string, unknown> }[];
  /** Why the set as a whole is unusable (one of JWKS_STATUS), if it is. */
  error?: string;
  /** Keys skipped, and why. */
  skipped: JwkProblem[];
  /** Indexes of keys that carry private material (`d`, or a symmetric `k`): only public keys belong in a JWKS. */
  privateKeys: number[];
}

const B64URL = /^[A-Za-z0-9_-]+={0,2}$/;
const EC_CURVES: Record<string, string> = { 'P-256': 'ES256', 'P-384': 'ES384', 'P-521': 'ES512' };

export function checkJwks(text: string): JwksCheck {
  const out: JwksCheck = { keys: [], skipped: [], privateKeys: [] };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { ...out, error: JWKS_STATUS.parseError };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { ...out, error: JWKS_STATUS.parseError };
  const keys = (parsed as Record<string, unknown>).keys;
  if (keys === undefined) return { ...out, error: JWKS_STATUS.noKeys };
  if (!Array.isArray(keys)) return { ...out, error: JWKS_STATUS.badKeys };
  keys.forEach((key, index) => {
    if (typeof key !== 'object' || key === null || Array.isArray(key)) return;
    const jwk = key as Record<string, unknown>;
    const problem = jwkProblem(jwk);
    if (problem) out.skipped.push({ index, message: problem });
    else out.keys.push({ index, jwk });
    if (jwk.d !== undefined || jwk.kty === 'oct') out.privateKeys.push(index);
  });
  if (out.keys.length === 0) out.error = JWKS_STATUS.noValidKeys;
  return out;
}

/** Envoy's reason for skipping one key, or undefined when it keeps it. */
export function jwkProblem(jwk: Record<string, unknown>): string | undefined {
  const { kty, alg } = jwk;
  if (kty === undefined) return '[kty] is missing in [keys]';
  if (typeof kty !== 'string') return '[kty] is bad in [keys]';
  if (alg !== undefined && typeof alg !== 'string') return '[alg] is not a string';
  const member = (name: string, what: string): string | undefined => {
    const v = jwk[name];
    if (v === undefined) return `[${name}] field is missing for ${what}`;
    if (typeof v !== 'string' || !B64URL.test(v)) return `[${name}] field is not string for ${what}`;
    return undefined;
  };
  switch (kty) {
    case 'RSA':
      if (alg !== undefined && !/^(RS|PS)/.test(alg as string)) return '[alg] is not started with [RS] or [PS] for an RSA key';
      return member('n', 'a RSA key') ?? member('e', 'a RSA key');
    case 'EC': {
      if (alg !== undefined && !/^ES/.test(alg as string)) return '[alg] is not started with [ES] for an EC key';
      const crv = jwk.crv;
      if (crv !== undefined && typeof crv !== 'string') return '[crv] field is not string for an EC key';
      const curve = (crv as string | undefined) ?? Object.keys(EC_CURVES).find((c) => EC_CURVES[c] === alg) ?? 'P-256';
      if (!EC_CURVES[curve]) return '[crv] or [alg] field is not supported for an EC key';
      if (alg !== undefined && EC_CURVES[curve] !== alg) return '[crv] field specified is not compatible with [alg] for an EC key';
      return member('x', 'an EC key') ?? member('y', 'an EC key');
    }
    case 'oct':
      if (alg !== undefined && !/^HS/.test(alg as string)) return '[alg] does not start with [HS] for an HMAC key';
      return member('k', 'an HMAC key');
    case 'OKP':
      if (alg !== undefined && alg !== 'EdDSA') return '[alg] is not [EdDSA] for an OKP key';
      if (jwk.crv === undefined) return '[crv] field is missing for an OKP key';
      if (typeof jwk.crv !== 'string') return '[crv] field is not string for an OKP key';
      if (jwk.crv !== 'Ed25519') return '[crv] field is not supported for an OKP key';
      return member('x', 'an OKP key');
    default:
      return '[kty] is not supported in [keys]';
  }
}

/**
 * What to tell about a JWKS (`what` names it: "jwks", "the JWKS file x.json"):
 * the error that makes it unusable, or warnings about keys Envoy skips and
 * private material that does not belong in it.
 */
export function jwksFindings(checked: JwksCheck, what: string): { severity: 'error' | 'warning'; message: string }[] {
  if (checked.error) return [{ severity: 'error', message: `${what}: ${checked.error}; it must hold {"keys": [<public JWK>, ...]} ("devmesh jwt keys" writes one)` }];
  return [
    ...checked.skipped.map((s) => ({ severity: 'warning' as const, message: `${what}: key at index ${s.index} is skipped: ${s.message}` })),
    ...checked.privateKeys.map((k) => ({ severity: 'warning' as const, message: `${what}: key at index ${k} contains private key material; only public keys are used for verification — publish the public half only` })),
  ];
}
