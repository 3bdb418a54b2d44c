/**
 * Verifying a provider's tokens: Envoy's order of checks (jwtToken.ts), the
 * provider's keys from its JWKS (jwksStore.ts), and the signature checked by
 * jose. Which keys are tried is Envoy's rule: a key with a `kid` is used only
 * for a token with the same `kid` (or none), a key with an `alg` only for that
 * algorithm; no such key is "Jwks doesn't have key to match kid or alg from
 * Jwt", keys that all fail are "Jwt verification fails".
 *
 * jose is loaded at the first signature check, not at sidecar start: most
 * sidecars never see a RequestAuthentication, and its module graph costs
 * every sidecar process ~1.7 MB of RSS (issue 19's memory target).
 */
import type { JWK } from 'jose';
import type { JwksStore } from './jwksStore';
import type { JwtStatus } from './jwtStatus';
import { audiencesAllowed, parseJwt, timeStatus, type ParsedJwt } from './jwtToken';
import type { FoundToken, JwtProvider } from './requestAuthentication';

export interface ProviderResult {
  status: JwtStatus;
  /** The token that verified (status Ok). */
  found?: FoundToken;
  jwt?: ParsedJwt;
}

/**
 * A provider's verdict on the tokens found in its locations: `JwtMissed`
 * when there are none; else the first that verifies (Envoy tries the last
 * found first), or the failure of the last one tried.
 */
export async function verifyProvider(p: JwtProvider, tokens: readonly FoundToken[], store: JwksStore, nowSeconds: number): Promise<ProviderResult> {
  let last: ProviderResult = { status: 'JwtMissed' };
  for (let i = tokens.length - 1; i >= 0; i--) {
    const found = tokens[i];
    const r = await verifyToken(found.token, p, store, nowSeconds);
    if (r.status === 'Ok') return { status: 'Ok', found, jwt: r.jwt };
    last = { status: r.status };
  }
  return last;
}

export async function verifyToken(token: string, p: JwtProvider, store: JwksStore, nowSeconds: number): Promise<{ status: JwtStatus; jwt?: ParsedJwt }> {
  const jwt = parseJwt(token);
  if (typeof jwt === 'string') return { status: jwt };
  if (p.issuer !== '' && jwt.iss !== p.issuer) return { status: 'JwtUnknownIssuer' };
  const time = timeStatus(jwt, nowSeconds);
  if (time !== 'Ok') return { status: time };
  if (!audiencesAllowed(p.audiences, jwt.audiences)) return { status: 'JwtAudienceNotAllowed' };
  const keys = await store.keys(p);
  if (keys.status !== 'Ok') return { status: keys.status };
  const candidates = keys.jwks.filter((k) => !(jwt.kid && typeof k.kid === 'string' && k.kid !== jwt.kid) && !(typeof k.alg === 'string' && k.alg !== jwt.alg));
  if (candidates.length === 0) return { status: 'JwksKidAlgMismatch' };
  for (const jwk of candidates) {
    if (await signatureVerifies(token, jwk, jwt.alg)) return { status: 'Ok', jwt };
  }
  return { status: 'JwtVerificationFail' };
}

// Imported keys, per JWK object and algorithm: the store keeps a JWKS's objects while its text is unchanged.
const imported = new WeakMap<object, Map<string, Promise<unknown>>>();

async function signatureVerifies(token: string, jwk: Record<string, unknown>, alg: string): Promise<boolean> {
  const { compactVerify, importJWK } = await import('jose');
  let byAlg = imported.get(jwk);
  if (!byAlg) imported.set(jwk, (byAlg = new Map()));
  let key = byAlg.get(alg);
  if (!key) byAlg.set(alg, (key = importJWK(publicPart(jwk), alg)));
  try {
    await compactVerify(token, (await key) as Parameters<typeof compactVerify>[1], { algorithms: [alg] });
    return true;
  } catch {
    // A key of the wrong type for the algorithm, too short a key, or a bad signature: this key does not verify it.
    return false;
  }
}

/** Only the public members: a JWKS that (wrongly) carries a private key still verifies with its public half, as Envoy does. */
function publicPart(jwk: Record<string, unknown>): JWK {
  const keep: Record<string, readonly string[]> = { RSA: ['n', 'e'], EC: ['crv', 'x', 'y'], OKP: ['crv', 'x'], oct: ['k'] };
  const out: Record<string, unknown> = { kty: jwk.kty };
  for (const m of keep[jwk.kty as string] ?? []) out[m] = jwk[m];
  return out as JWK;
}
