/**
 * Reading a JWT the way Envoy's jwt_authn does before any key is involved,
 * pure: the three base64url parts, the header's `alg` and `kid`, the types of
 * the registered claims, then the time window (60 s of clock skew, Envoy's
 * default) and the audiences. Each failure is Envoy's status, in Envoy's
 * order, so a bad token gets the same answer here as on a cluster. The
 * signature is checked by jose (jwtVerify.ts).
 */
import type { JwtStatus } from './jwtStatus';

/** The algorithms Envoy implements; anything else (`none` included) is "Jwt header [alg] is not supported". */
export const SUPPORTED_ALGS = new Set(['ES256', 'ES384', 'ES512', 'HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'EdDSA']);

/** Envoy's default clock_skew_seconds. */
export const CLOCK_SKEW_S = 60;

export interface ParsedJwt {
  alg: string;
  kid?: string;
  iss: string;
  sub: string;
  /** 0 when absent. */
  nbf: number;
  exp: number;
  audiences: string[];
  payload: Record<string, unknown>;
  /** The payload part as sent (base64url), what outputPayloadToHeader forwards. */
  payloadPart: string;
}

const B64URL = /^[A-Za-z0-9_-]*={0,2}$/;

function decode(part: string): Buffer | undefined {
  return B64URL.test(part) ? Buffer.from(part, 'base64url') : undefined;
}

function jsonObject(buf: Buffer): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(buf.toString('utf8'));
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** A registered time claim: absent = 0, else a non-negative number (fractions truncated). */
function uint(v: unknown, notInteger: JwtStatus, outOfRange: JwtStatus): number | JwtStatus {
  if (v === undefined) return 0;
  if (typeof v !== 'number') return notInteger;
  if (v < 0 || v >= 2 ** 64) return outOfRange;
  return Math.floor(v);
}

export function parseJwt(token: string): ParsedJwt | JwtStatus {
  const parts = token.split('.').filter((p) => p !== '');
  if (parts.length !== 3) return 'JwtBadFormat';
  const headerBytes = decode(parts[0]);
  if (!headerBytes) return 'JwtHeaderParseErrorBadBase64';
  const header = jsonObject(headerBytes);
  if (!header) return 'JwtHeaderParseErrorBadJson';
  if (typeof header.alg !== 'string') return 'JwtHeaderBadAlg';
  if (!SUPPORTED_ALGS.has(header.alg)) return 'JwtHeaderNotImplementedAlg';
  if (header.kid !== undefined && typeof header.kid !== 'string') return 'JwtHeaderBadKid';
  const payloadBytes = decode(parts[1]);
  if (!payloadBytes) return 'JwtPayloadParseErrorBadBase64';
  const payload = jsonObject(payloadBytes);
  if (!payload) return 'JwtPayloadParseErrorBadJson';
  if (payload.iss !== undefined && typeof payload.iss !== 'string') return 'JwtPayloadParseErrorIssNotString';
  if (payload.sub !== undefined && typeof payload.sub !== 'string') return 'JwtPayloadParseErrorSubNotString';
  const iat = uint(payload.iat, 'JwtPayloadParseErrorIatNotInteger', 'JwtPayloadParseErrorIatOutOfRange');
  if (typeof iat === 'string') return iat;
  const nbf = uint(payload.nbf, 'JwtPayloadParseErrorNbfNotInteger', 'JwtPayloadParseErrorNbfOutOfRange');
  if (typeof nbf === 'string') return nbf;
  const exp = uint(payload.exp, 'JwtPayloadParseErrorExpNotInteger', 'JwtPayloadParseErrorExpOutOfRange');
  if (typeof exp === 'string') return exp;
  if (payload.jti !== undefined && typeof payload.jti !== 'string') return 'JwtPayloadParseErrorJtiNotString';
  const aud = payload.aud;
  let audiences: string[] = [];
  if (typeof aud === 'string') audiences = [aud];
  else if (Array.isArray(aud) && aud.every((a) => typeof a === 'string')) audiences = aud as string[];
  else if (aud !== undefined) return 'JwtPayloadParseErrorAudNotString';
  if (!decode(parts[2])) return 'JwtSignatureParseErrorBadBase64';
  return {
    alg: header.alg, kid: header.kid as string | undefined,
    iss: (payload.iss as string | undefined) ?? '', sub: (payload.sub as string | undefined) ?? '',
    nbf, exp, audiences, payload, payloadPart: parts[1],
  };
}

/** `nbf`/`exp` against the clock (seconds since the epoch), with Envoy's skew. */
export function timeStatus(jwt: Pick<ParsedJwt, 'nbf' | 'exp'>, nowSeconds: number, skew = CLOCK_SKEW_S): JwtStatus {
  if (nowSeconds + skew < jwt.nbf) return 'JwtNotYetValid';
  if (jwt.exp && nowSeconds > jwt.exp + skew) return 'JwtExpired';
  return 'Ok';
}

/** Envoy compares audiences without a leading http(s):// and a trailing slash. */
function sanitizeAudience(a: string): string {
  return a.replace(/^https?:\/\//, '').replace(/\/$/, '');
}

/** No configured audience: any token passes; else one of the token's must be among them. */
export function audiencesAllowed(configured: readonly string[], token: readonly string[]): boolean {
  if (configured.length === 0) return true;
  const allowed = new Set(configured.map(sanitizeAudience));
  return token.some((a) => allowed.has(sanitizeAudience(a)));
}
