/**
 * RequestAuthentication as Istio turns it into Envoy's jwt_authn filter, pure
 * (pilot's policy_applier.go and Envoy's extractor/verifier):
 *
 * - Which policies apply: those of the proxy's namespace whose selector
 *   matches (or that have none), and those of the root namespace, which
 *   select in every namespace (not those attached by targetRefs).
 * - Every jwtRule of them is one provider; providers are ordered by issuer.
 * - Where a provider looks for tokens: its fromHeaders (value after the
 *   prefix), fromParams and fromCookies, or by default `Authorization:
 *   Bearer` and the `access_token` query parameter.
 * - What the request needs: one provider `{P or allow_missing}`; several
 *   `{P1 or P2 ... or all of {Pi or allow_missing}}`: a token found must
 *   verify, a request with none passes without a principal.
 * - What a verified token gives the request: its principal `iss/sub`, its
 *   claims for AuthorizationPolicy (`scope`, `permission` and the
 *   spaceDelimitedClaims split into lists), the payload and claim headers,
 *   and — unless forwardOriginalToken — the token's header removed.
 */
import type { JWTRule, Resource } from '../../policy/model';
import { jwksSourceOf, type JwksSource } from '../../policy/jwks';
import { parseDuration } from '../../policy/duration';
import type { JwtStatus } from './jwtStatus';
import { ROOT_NAMESPACE } from './peerAuthentication';
import { selects, type PolicyTarget } from './policySelection';

export type TokenLocation =
  | { kind: 'header'; name: string; prefix: string }
  | { kind: 'param'; name: string }
  | { kind: 'cookie'; name: string };

export interface JwtProvider {
  /** `origins-<i>`, as pilot names them. */
  name: string;
  /** `ns/name` of the RequestAuthentication it comes from. */
  policy: string;
  issuer: string;
  audiences: string[];
  locations: TokenLocation[];
  jwks: JwksSource;
  /** How long a JWKS fetch may take (jwtRule.timeout, default 5 s). */
  fetchTimeoutMs: number;
  forwardOriginalToken: boolean;
  outputPayloadToHeader?: string;
  outputClaimToHeaders: { header: string; claim: string }[];
  spaceDelimitedClaims: string[];
}

/** A token found in a request, and the place to remove it from. */
export interface FoundToken {
  token: string;
  location: TokenLocation;
}

/** What a verified token makes known about the request. */
export interface RequestAuth {
  iss: string;
  sub: string;
  /** `iss/sub`: Istio's request principal. */
  principal: string;
  /** The payload, with space-delimited claims turned into lists. */
  claims: Record<string, unknown>;
}

export function providersFor(all: readonly Resource<'RequestAuthentication'>[], target: PolicyTarget, defaultNamespace: string, rootNamespace = ROOT_NAMESPACE): JwtProvider[] {
  const rules: { rule: JWTRule; policy: string }[] = [];
  for (const p of all) {
    if (!selects(p, target, defaultNamespace, rootNamespace)) continue;
    for (const rule of p.spec.jwtRules ?? []) rules.push({ rule, policy: `${p.metadata.namespace ?? defaultNamespace}/${p.metadata.name}` });
  }
  // Pilot sorts the rules by issuer so the generated config is stable; the order decides whose payload wins.
  rules.sort((a, b) => ((a.rule.issuer ?? '') < (b.rule.issuer ?? '') ? -1 : (a.rule.issuer ?? '') > (b.rule.issuer ?? '') ? 1 : 0));
  return rules.map(({ rule, policy }, i) => compileProvider(rule, `origins-${i}`, policy));
}

function compileProvider(rule: JWTRule, name: string, policy: string): JwtProvider {
  const locations: TokenLocation[] = [
    ...(rule.fromHeaders ?? []).map((h): TokenLocation => ({ kind: 'header', name: h.name.toLowerCase(), prefix: h.prefix ?? '' })),
    ...(rule.fromParams ?? []).map((name): TokenLocation => ({ kind: 'param', name })),
    ...(rule.fromCookies ?? []).map((name): TokenLocation => ({ kind: 'cookie', name })),
  ];
  if (locations.length === 0) locations.push({ kind: 'header', name: 'authorization', prefix: 'Bearer ' }, { kind: 'param', name: 'access_token' });
  return {
    name,
    policy,
    issuer: rule.issuer ?? '',
    audiences: rule.audiences ?? [],
    locations,
    jwks: jwksSourceOf(rule),
    fetchTimeoutMs: (rule.timeout ? parseDuration(rule.timeout) : undefined) ?? 5_000,
    forwardOriginalToken: rule.forwardOriginalToken === true,
    outputPayloadToHeader: rule.outputPayloadToHeader?.toLowerCase() || undefined,
    outputClaimToHeaders: (rule.outputClaimToHeaders ?? []).map((c) => ({ header: c.header.toLowerCase(), claim: c.claim })),
    spaceDelimitedClaims: ['permission', 'scope', ...(rule.spaceDelimitedClaims ?? [])],
  };
}

// base64url characters plus the dot: what Envoy collects as the token after a header prefix.
const TOKEN_CHARS = /[A-Za-z0-9_.-]+/;

/**
 * The tokens a provider finds in a request, headers first, then query
 * parameters, then cookies. After a header prefix (found anywhere in the
 * value, case-sensitively) the token is the run of base64url characters and
 * dots that follows; a header without the prefix holds no token.
 */
export function extractTokens(p: JwtProvider, req: { headers: Record<string, string | string[] | undefined>; query: Record<string, string> }): FoundToken[] {
  const found: FoundToken[] = [];
  for (const location of p.locations) {
    if (location.kind === 'header') {
      const raw = req.headers[location.name];
      if (raw === undefined) continue;
      let value = Array.isArray(raw) ? raw.join(',') : raw;
      if (location.prefix !== '') {
        const at = value.indexOf(location.prefix);
        if (at < 0) continue;
        const rest = value.slice(at + location.prefix.length);
        value = TOKEN_CHARS.exec(rest)?.[0] ?? value;
      }
      found.push({ token: value, location });
    } else if (location.kind === 'param') {
      const v = req.query[location.name];
      if (v !== undefined) found.push({ token: v, location });
    } else {
      const v = cookie(req.headers.cookie, location.name);
      if (v !== undefined) found.push({ token: v, location });
    }
  }
  return found;
}

function cookie(header: string | string[] | undefined, name: string): string | undefined {
  const all = Array.isArray(header) ? header.join('; ') : header;
  if (!all) return undefined;
  for (const part of all.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
  }
  return undefined;
}

/**
 * The requirement pilot builds, over each provider's own status (`JwtMissed`
 * when it found no token). Envoy's rule for a group of alternatives: a
 * success wins; else the first failure that is neither "missing" nor
 * "unknown issuer", else "unknown issuer", else "missing".
 */
export function requirementStatus(statuses: readonly JwtStatus[]): JwtStatus {
  const allowMissing = (s: JwtStatus): JwtStatus => (s === 'JwtMissed' ? 'Ok' : s);
  if (statuses.length === 0) return 'Ok';
  if (statuses.length === 1) return allowMissing(statuses[0]);
  if (statuses.includes('Ok')) return 'Ok';
  const all = statuses.map(allowMissing).find((s) => s !== 'Ok') ?? 'Ok';
  if (all === 'Ok') return 'Ok';
  let final: JwtStatus = 'JwtMissed';
  for (const s of [...statuses, all]) {
    if ((s !== 'JwtMissed' && s !== 'JwtUnknownIssuer') || final === 'JwtMissed') final = s;
  }
  return final;
}

/** Claims as the RBAC filter sees them: the space-delimited ones as lists. */
export function normalizeClaims(payload: Record<string, unknown>, spaceDelimited: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = structuredClone(payload);
  for (const name of spaceDelimited) {
    const path = name.split('.');
    let parent: Record<string, unknown> | undefined = out;
    for (const seg of path.slice(0, -1)) {
      const next: unknown = parent?.[seg];
      parent = typeof next === 'object' && next !== null && !Array.isArray(next) ? (next as Record<string, unknown>) : undefined;
    }
    const last = path[path.length - 1];
    const v = parent?.[last];
    if (parent && typeof v === 'string') parent[last] = v.split(' ').filter((s) => s !== '');
  }
  return out;
}

export function requestAuthOf(payload: Record<string, unknown>, spaceDelimited: readonly string[]): RequestAuth {
  const iss = typeof payload.iss === 'string' ? payload.iss : '';
  const sub = typeof payload.sub === 'string' ? payload.sub : '';
  return { iss, sub, principal: `${iss}/${sub}`, claims: normalizeClaims(payload, spaceDelimited) };
}

/** The value of a (nested) claim, or undefined. */
export function claimAt(claims: Record<string, unknown>, path: readonly string[]): unknown {
  let v: unknown = claims;
  for (const seg of path) {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
    v = (v as Record<string, unknown>)[seg];
  }
  return v;
}

/** What outputClaimToHeaders writes for a claim: strings, integers and booleans; nested with `.`. */
export function claimHeaderValue(payload: Record<string, unknown>, claim: string): string | undefined {
  const v = claimAt(payload, claim.split('.'));
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return String(v);
  if (typeof v === 'number' && Number.isInteger(v)) return String(v);
  return undefined;
}

// ---------- matching, for AuthorizationPolicy and VirtualService claim routes ----------

/**
 * Istio's string forms for claims: `*` = any non-empty value, `abc*` prefix,
 * `*abc` suffix, else exact. A list claim matches when one of its items does;
 * numbers and booleans never match (the RBAC filter compares strings).
 */
export function claimMatches(value: unknown, pattern: string): boolean {
  if (Array.isArray(value)) return value.some((v) => typeof v === 'string' && stringForm(pattern, v));
  return typeof value === 'string' && stringForm(pattern, value);
}

function stringForm(pattern: string, value: string): boolean {
  if (pattern === '*') return value.length > 0;
  if (pattern.startsWith('*')) return value.endsWith(pattern.slice(1));
  if (pattern.endsWith('*')) return value.startsWith(pattern.slice(0, -1));
  return value === pattern;
}

/**
 * One requestPrincipals entry against a verified token, as pilot builds the
 * matcher: split at the last `/` (issuers are often URLs); `*` needs a
 * non-empty iss and sub; `*x` / `x*` are suffix / prefix on the part they
 * touch. A request without a token matches nothing.
 */
export function requestPrincipalMatches(pattern: string, auth: RequestAuth | undefined): boolean {
  if (!auth) return false;
  const any = (s: string) => s.length > 0;
  const slash = pattern.lastIndexOf('/');
  const found = slash >= 0;
  const iss = found ? pattern.slice(0, slash) : pattern;
  const sub = found ? pattern.slice(slash + 1) : '';
  if (pattern === '*') return any(auth.iss) && any(auth.sub);
  if (pattern.startsWith('*')) {
    if (!found) return any(auth.iss) && auth.sub.endsWith(pattern.slice(1));
    return (iss === '*' ? any(auth.iss) : auth.iss.endsWith(iss.slice(1))) && auth.sub === sub;
  }
  if (pattern.endsWith('*')) {
    if (!found) return auth.iss.startsWith(pattern.slice(0, -1)) && any(auth.sub);
    return auth.iss === iss && (sub === '*' ? any(auth.sub) : auth.sub.startsWith(sub.slice(0, -1)));
  }
  return auth.iss === iss && auth.sub === sub;
}

/**
 * `request.auth.claims[a][b]` -> ['a', 'b']; undefined when the key is not
 * that form. A name with `[` inside a bracket is read as Istio does: the
 * whole rest as one name.
 */
export function claimPath(key: string): string[] | undefined {
  const m = /^request\.auth\.claims(\[.+\])$/.exec(key);
  if (!m) return undefined;
  const s = m[1];
  const names: string[] = [];
  for (let begin = 0; begin < s.length;) {
    const end = s[begin] === '[' ? s.indexOf(']', begin + 1) : -1;
    if (end < 0 || s.slice(begin + 1, end).includes('[')) return [s.slice(1, -1)];
    names.push(s.slice(begin + 1, end));
    begin = end + 1;
  }
  return names.length > 0 && names.every((n) => n !== '') ? names : undefined;
}

/**
 * `@request.auth.claims.a.b` or `@request.auth.claims[a][b]` (a VirtualService
 * header match on a claim, Istio's gateway-only routing) -> ['a', 'b'].
 */
export function routingClaimPath(headerName: string): string[] | undefined {
  const prefix = '@request.auth.claims';
  if (!headerName.toLowerCase().startsWith(prefix)) return undefined;
  const rest = headerName.slice(prefix.length);
  if (rest.startsWith('.') && rest.length > 1) return rest.slice(1).split('.');
  if (rest.startsWith('[') && rest.endsWith(']') && rest.length > 2) return rest.slice(1, -1).split('][');
  return undefined;
}
