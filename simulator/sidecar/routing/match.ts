/**
 * One HTTPMatchRequest, compiled, and the attributes of a request it is
 * tested against. All conditions inside one match are ANDed; the matches of
 * a rule are ORed (see `plan.ts`). Pure: no sockets, no clock. Explain reads
 * the same conditions back to say which one a request failed.
 */
import type { HTTPMatchRequest, StringMatch } from '../../policy/model';
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
  /** The first condition `test` finds false, said for a reader (explain); undefined when the request matches. */
  failing?(a: RequestAttributes): string | undefined;
  /** Its conditions, said for a reader. */
  describe?(): string;
}

/** One condition of a match: the test, what it asks, and what the request had. */
export interface Condition {
  test: (a: RequestAttributes) => boolean;
  what: string;
  actual: (a: RequestAttributes) => string | undefined;
}

/** A match from its conditions, ANDed: the test the sidecar runs, and the same conditions read back one by one for explain. */
export function matchOf(source: HTTPMatchRequest, conditions: readonly Condition[]): CompiledMatch {
  const tests = conditions.map((c) => c.test);
  return {
    source,
    test: (a) => {
      for (let i = 0; i < tests.length; i++) if (!tests[i](a)) return false;
      return true;
    },
    failing: (a) => {
      const c = conditions.find((x) => !x.test(a));
      if (!c) return undefined;
      const had = c.actual(a);
      return `${c.what} (the request has ${had === undefined ? 'none' : JSON.stringify(had)})`;
    },
    describe: () => (conditions.length === 0 ? 'an empty match (every request)' : conditions.map((c) => c.what).join(' and ')),
  };
}

/** `exact "jason"`, `prefix "/api"`, `regex "v[12]"`, `present`. */
export function describeStringMatch(m: StringMatch): string {
  if (m.exact !== undefined) return `exact ${JSON.stringify(m.exact)}`;
  if (m.prefix !== undefined) return `prefix ${JSON.stringify(m.prefix)}`;
  if (m.regex !== undefined) return `regex ${JSON.stringify(m.regex)}`;
  return 'present';
}

/**
 * @param vsNamespace namespace of the VirtualService, to qualify `gateways` entries
 */
export function compileMatch(m: HTTPMatchRequest, vsNamespace: string): CompiledMatch {
  const checks: Condition[] = [];
  if (m.uri) {
    const uri = compileStringMatch(m.uri, m.ignoreUriCase === true);
    checks.push({ test: (a) => uri(a.path), what: `uri ${describeStringMatch(m.uri)}${m.ignoreUriCase ? ' (ignoring case)' : ''}`, actual: (a) => a.path });
  }
  if (m.method) {
    const method = compileStringMatch(m.method);
    checks.push({ test: (a) => method(a.method), what: `method ${describeStringMatch(m.method)}`, actual: (a) => a.method });
  }
  if (m.authority) {
    // Envoy matches :authority as sent; accept the bare host too so that
    // `exact: reviews` matches a caller that wrote `reviews:9080`.
    const authority = compileStringMatch(m.authority);
    checks.push({ test: (a) => authority(a.authority) || authority(hostOnly(a.authority)), what: `authority ${describeStringMatch(m.authority)}`, actual: (a) => a.authority });
  }
  if (m.scheme) {
    const scheme = compileStringMatch(m.scheme);
    // https where the ingress terminated TLS (an Istio Gateway HTTPS server), http everywhere else.
    checks.push({ test: (a) => scheme(a.scheme ?? 'http'), what: `scheme ${describeStringMatch(m.scheme)}`, actual: (a) => a.scheme ?? 'http' });
  }
  for (const [name, sm] of Object.entries(m.headers ?? {})) {
    const key = name.toLowerCase();
    const hm = compileStringMatch(sm);
    const claim = routingClaimPath(name);
    checks.push(claim
      ? { test: (a) => claimMatch(a, claim, hm), what: `claim ${claim.join('.')} ${describeStringMatch(sm)}`, actual: (a) => claimText(a, claim) }
      : { test: (a) => hm(headerValue(a.headers[key])), what: `header ${key} ${describeStringMatch(sm)}`, actual: (a) => headerValue(a.headers[key]) });
  }
  for (const [name, sm] of Object.entries(m.withoutHeaders ?? {})) {
    const key = name.toLowerCase();
    const hm = compileStringMatch(sm);
    const claim = routingClaimPath(name);
    checks.push(claim
      ? { test: (a) => !claimMatch(a, claim, hm), what: `withoutHeaders claim ${claim.join('.')} ${describeStringMatch(sm)}`, actual: (a) => claimText(a, claim) }
      : { test: (a) => !hm(headerValue(a.headers[key])), what: `withoutHeaders ${key} ${describeStringMatch(sm)}`, actual: (a) => headerValue(a.headers[key]) });
  }
  for (const [name, sm] of Object.entries(m.queryParams ?? {})) {
    const qm = compileStringMatch(sm);
    checks.push({ test: (a) => qm(a.query[name]), what: `query parameter ${name} ${describeStringMatch(sm)}`, actual: (a) => a.query[name] });
  }
  if (m.port !== undefined) {
    const port = m.port;
    checks.push({ test: (a) => a.port === port, what: `port ${port}`, actual: (a) => String(a.port) });
  }
  if (m.sourceLabels) {
    const wanted = Object.entries(m.sourceLabels);
    checks.push({
      test: (a) => wanted.every(([k, v]) => a.sourceLabels[k] === v),
      what: `sourceLabels ${wanted.map(([k, v]) => `${k}=${v}`).join(',')}`,
      actual: (a) => Object.entries(a.sourceLabels).map(([k, v]) => `${k}=${v}`).join(','),
    });
  }
  if (m.sourceNamespace !== undefined) {
    const ns = m.sourceNamespace;
    checks.push({ test: (a) => a.sourceNamespace === ns, what: `sourceNamespace ${ns}`, actual: (a) => a.sourceNamespace });
  }
  if (m.gateways && m.gateways.length > 0) {
    const gws = new Set(m.gateways.map((g) => qualifyGateway(g, vsNamespace)));
    checks.push({ test: (a) => gws.has(a.gateway), what: `gateways ${[...gws].join(', ')}`, actual: (a) => a.gateway });
  }
  return matchOf(m, checks);
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

/** A claim of the verified token as text (explain's "the request has ..."), absent without a token. */
function claimText(a: RequestAttributes, path: string[]): string | undefined {
  const v = a.auth ? claimAt(a.auth.claims, path) : undefined;
  return v === undefined ? undefined : typeof v === 'string' ? v : JSON.stringify(v);
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
