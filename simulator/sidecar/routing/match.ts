/**
 * One HTTPMatchRequest, compiled, and the attributes of a request it is
 * tested against. All conditions inside one match are ANDed; the matches of
 * a rule are ORed (see `select.ts`). Pure: no sockets, no clock.
 */
import type { HTTPMatchRequest } from '../../policy/model';
import { claimAt, routingClaimPath, type RequestAuth } from '../security/requestAuthentication';
import { compileStringMatch, type ValueMatcher } from './stringMatch';

export interface RequestAttributes {
  method: string;
  /** Path without the query string. */
  path: string;
  /** Parsed query parameters (first value wins, as in Envoy). */
  query: Record<string, string>;
  /** Host header / :authority as received, possibly with a port. */
  authority: string;
  headers: Record<string, string | string[] | undefined>;
  /** Destination port the caller addressed. */
  port: number;
  /** Labels of the calling workload (the ingress's labels at the edge). */
  sourceLabels: Record<string, string>;
  sourceNamespace?: string;
  /** `mesh` at a sidecar; the qualified gateway name (`ns/name`) at the ingress. */
  gateway: string;
  /** The verified JWT's end user, for `@request.auth.claims` matches (only the ingress has one). */
  auth?: RequestAuth;
  /** `https` on a Gateway API HTTPS listener; `http` otherwise. */
  scheme?: 'http' | 'https';
  /** On a Gateway API listener: its port (which redirects derive theirs from). */
  listenerPort?: number;
}

export interface CompiledMatch {
  source: HTTPMatchRequest;
  test(a: RequestAttributes): boolean;
}

/**
 * @param vsNamespace namespace of the VirtualService, to qualify `gateways` entries
 * @param vsGateways the VirtualService's own gateways, which a match-level `gateways` overrides
 */
export function compileMatch(m: HTTPMatchRequest, vsNamespace: string): CompiledMatch {
  const checks: ((a: RequestAttributes) => boolean)[] = [];
  if (m.uri) {
    const uri = compileStringMatch(m.uri, m.ignoreUriCase === true);
    checks.push((a) => uri(a.path));
  }
  if (m.method) {
    const method = compileStringMatch(m.method);
    checks.push((a) => method(a.method));
  }
  if (m.authority) {
    // Envoy matches :authority as sent; accept the bare host too so that
    // `exact: reviews` matches a caller that wrote `reviews:9080`.
    const authority = compileStringMatch(m.authority);
    checks.push((a) => authority(a.authority) || authority(hostOnly(a.authority)));
  }
  if (m.scheme) {
    const scheme = compileStringMatch(m.scheme);
    checks.push(() => scheme('http'));
  }
  for (const [name, sm] of Object.entries(m.headers ?? {})) {
    const key = name.toLowerCase();
    const hm = compileStringMatch(sm);
    const claim = routingClaimPath(name);
    checks.push(claim ? (a) => claimMatch(a, claim, hm) : (a) => hm(headerValue(a.headers[key])));
  }
  for (const [name, sm] of Object.entries(m.withoutHeaders ?? {})) {
    const key = name.toLowerCase();
    const hm = compileStringMatch(sm);
    const claim = routingClaimPath(name);
    checks.push(claim ? (a) => !claimMatch(a, claim, hm) : (a) => !hm(headerValue(a.headers[key])));
  }
  for (const [name, sm] of Object.entries(m.queryParams ?? {})) {
    const qm = compileStringMatch(sm);
    checks.push((a) => qm(a.query[name]));
  }
  if (m.port !== undefined) {
    const port = m.port;
    checks.push((a) => a.port === port);
  }
  if (m.sourceLabels) {
    const wanted = Object.entries(m.sourceLabels);
    checks.push((a) => wanted.every(([k, v]) => a.sourceLabels[k] === v));
  }
  if (m.sourceNamespace !== undefined) {
    const ns = m.sourceNamespace;
    checks.push((a) => a.sourceNamespace === ns);
  }
  if (m.gateways && m.gateways.length > 0) {
    const gws = new Set(m.gateways.map((g) => qualifyGateway(g, vsNamespace)));
    checks.push((a) => gws.has(a.gateway));
  }
  return { source: m, test: (a) => checks.every((c) => c(a)) };
}

/** `mesh` stays `mesh`; `name` becomes `<vsNamespace>/name`; `ns/name` stays. */
export function qualifyGateway(name: string, namespace: string): string {
  if (name === 'mesh' || name.includes('/')) return name;
  return `${namespace}/${name}`;
}

/**
 * `@request.auth.claims.<name>` (Istio's claim-based routing, a metadata
 * match on the verified JWT): a string claim, or one item of a list claim.
 * Without a token nothing matches.
 */
function claimMatch(a: RequestAttributes, path: string[], m: ValueMatcher): boolean {
  const v = a.auth ? claimAt(a.auth.claims, path) : undefined;
  if (Array.isArray(v)) return v.some((item) => typeof item === 'string' && m(item));
  return typeof v === 'string' && m(v);
}

/** Repeated headers are joined with `,` as HTTP allows (set-cookie never reaches here). */
function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(',') : v;
}

function hostOnly(authority: string): string {
  const colon = authority.lastIndexOf(':');
  return colon > 0 && !authority.endsWith(']') ? authority.slice(0, colon) : authority;
}

/** Splits `/a/b?x=1&y=2` into the path and its first-value query map. */
export function splitPath(pathWithQuery: string): { path: string; query: Record<string, string> } {
  const q = pathWithQuery.indexOf('?');
  if (q < 0) return { path: pathWithQuery, query: {} };
  const query: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(pathWithQuery.slice(q + 1))) if (!(k in query)) query[k] = v;
  return { path: pathWithQuery.slice(0, q), query };
}
