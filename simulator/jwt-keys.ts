/**
 * Test tokens without an identity provider (`devmesh jwt keys|mint`): a key
 * pair as a public JWKS (what a RequestAuthentication's jwksUri names) and a
 * private JWK, and signed JWTs with the claims a policy is about. Signing is
 * jose's; this module only decides what goes into the token.
 */
import { createPrivateKey, randomUUID, type KeyObject } from 'node:crypto';
import { exportJWK, generateKeyPair, importJWK, SignJWT, type CryptoKey, type JWK } from 'jose';
import { parseDuration } from './policy/duration';

export const KEY_ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'ES256', 'ES384', 'EdDSA'] as const;
export type KeyAlg = (typeof KEY_ALGS)[number];

export interface KeyPair {
  /** `{"keys": [<public JWK>]}`, with kid, alg and use. */
  jwks: { keys: JWK[] };
  /** The private key as a JWK (kid and alg included), for `mint`. */
  privateJwk: JWK;
}

export async function generateKeys(alg: KeyAlg = 'RS256', kid: string = randomUUID()): Promise<KeyPair> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true, ...(alg.startsWith('RS') || alg.startsWith('PS') ? { modulusLength: 2048 } : {}) });
  const pub = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  const priv = { ...(await exportJWK(privateKey)), kid, alg, use: 'sig' };
  return { jwks: { keys: [pub] }, privateJwk: priv };
}

export interface SigningKey {
  key: KeyObject | CryptoKey | Uint8Array;
  alg: string;
  kid?: string;
}

/** A private key file: a JWK (as `devmesh jwt keys` writes) or a PEM private key (RSA, EC or Ed25519). */
export async function loadSigningKey(text: string, algOverride?: string): Promise<SigningKey> {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    const jwk = JSON.parse(trimmed) as JWK;
    if (!jwk.d && jwk.kty !== 'oct') throw new Error('this JWK has no private part ("d"): pass the private key, not the JWKS');
    const alg = algOverride ?? jwk.alg ?? defaultAlg(jwk.kty, jwk.crv);
    return { key: (await importJWK(jwk, alg)) as CryptoKey | Uint8Array, alg, kid: jwk.kid };
  }
  if (!trimmed.includes('PRIVATE KEY')) throw new Error('not a private key: expected a JWK (JSON) or a PEM "PRIVATE KEY"');
  const key = createPrivateKey(trimmed);
  const details = key.asymmetricKeyDetails;
  const alg = algOverride ?? defaultAlg(key.asymmetricKeyType === 'rsa' ? 'RSA' : key.asymmetricKeyType === 'ec' ? 'EC' : 'OKP', details?.namedCurve === 'prime256v1' ? 'P-256' : details?.namedCurve === 'secp384r1' ? 'P-384' : undefined);
  return { key, alg };
}

function defaultAlg(kty: string | undefined, crv: string | undefined): string {
  if (kty === 'RSA') return 'RS256';
  if (kty === 'EC') return crv === 'P-384' ? 'ES384' : crv === 'P-521' ? 'ES512' : 'ES256';
  if (kty === 'OKP') return 'EdDSA';
  if (kty === 'oct') return 'HS256';
  throw new Error(`cannot tell the algorithm of a ${kty ?? 'key'} key: pass --alg`);
}

export interface MintOptions {
  iss?: string;
  sub?: string;
  aud?: string[];
  /** `name=value` pairs; a value that parses as JSON is taken as JSON, else as a string; a repeated name makes a list. */
  claims?: string[];
  /** Lifetime from now, an Istio duration (`1h`, `30m`); a leading `-` puts exp in the past. Default 1h; `none` for no exp. */
  exp?: string;
  /** Not valid until now + this duration. */
  nbf?: string;
  /** Epoch millis (tests fix it). */
  now?: number;
}

export async function mint(key: SigningKey, o: MintOptions): Promise<string> {
  const now = Math.floor((o.now ?? Date.now()) / 1000);
  const payload: Record<string, unknown> = {};
  for (const c of o.claims ?? []) {
    const { name, value } = parseClaim(c);
    const prev = payload[name];
    payload[name] = prev === undefined ? value : Array.isArray(prev) && !Array.isArray(value) ? [...prev, value] : [prev, value];
  }
  if (o.iss !== undefined) payload.iss = o.iss;
  if (o.sub !== undefined) payload.sub = o.sub;
  if (o.aud && o.aud.length > 0) payload.aud = o.aud.length === 1 ? o.aud[0] : o.aud;
  payload.iat = now;
  if (o.exp !== 'none') payload.exp = now + seconds(o.exp ?? '1h', '--exp');
  if (o.nbf !== undefined) payload.nbf = now + seconds(o.nbf, '--nbf');
  return new SignJWT(payload).setProtectedHeader({ alg: key.alg, typ: 'JWT', ...(key.kid ? { kid: key.kid } : {}) }).sign(key.key);
}

export function parseClaim(text: string): { name: string; value: unknown } {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new Error(`--claim "${text}": write NAME=VALUE, e.g. groups=admin`);
  const name = text.slice(0, eq);
  const raw = text.slice(eq + 1);
  try {
    return { name, value: JSON.parse(raw) };
  } catch {
    return { name, value: raw };
  }
}

function seconds(d: string, flag: string): number {
  const negative = d.startsWith('-');
  const ms = parseDuration(negative ? d.slice(1) : d);
  if (ms === undefined) throw new Error(`${flag} "${d}" is not a duration: use e.g. 1h, 30m, 90s (a leading "-" for the past)`);
  return Math.round((negative ? -ms : ms) / 1000);
}
