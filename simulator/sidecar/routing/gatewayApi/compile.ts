/**
 * An HTTPRoute or GRPCRoute compiled into route table entries, one per
 * match (precedence is decided per match, across every route of a parent).
 * Each entry keeps the Gateway API's own semantics in `gatewayApi` (segment
 * prefixes, redirect ports, backends whose share gets 500) and carries the
 * rest as pilot converts it (pilot/pkg/config/kube/gateway/conversion.go
 * convertHTTPRoute): an Istio-shaped rule with the route's timeout, retries,
 * mirrors and CORS policy, so the timeout, retry, mirror and CORS filters
 * act on it exactly as on a VirtualService's. Pure.
 */
import { parseDuration } from '../../../policy/duration';
import type {
  CorsPolicy, GRPCRouteMatch, HTTPCORSFilter, HTTPHeaderFilter, HTTPMirrorPolicy, HTTPRequestRedirectFilter, HTTPRoute, HTTPRouteMatch,
  HTTPURLRewriteFilter, HeaderOperations, Resource, StringMatch,
} from '../../../policy/model';
import { arr, num, obj, str } from '../../../policy/plain';
import type { RouteKind, RouteStatus } from '../../../policy/gateway-api/status';
import type { RouteOrigin } from '../../tables';
import type { CompiledMatch, RequestAttributes } from '../match';
import { compileFullRegex } from '../stringMatch';
import { pathPrefixMatches } from './paths';

export interface GatewayApiBackend {
  weight: number;
  /** The Service and port it resolved to; absent when it did not resolve (its share gets 500). */
  fqdn?: string;
  port?: number;
  invalid?: string;
  requestHeaderOps: HeaderOperations[];
  responseHeaderOps: HeaderOperations[];
}

/** What a Gateway API rule does once one of its matches selected it. */
export interface GatewayApiAction {
  kind: RouteKind;
  requestHeaderOps: HeaderOperations[];
  responseHeaderOps: HeaderOperations[];
  redirect?: HTTPRequestRedirectFilter;
  rewrite?: HTTPURLRewriteFilter;
  /** Backends with a weight above 0. None (and no redirect): every request gets 500, as the Gateway API asks. */
  backends: GatewayApiBackend[];
  /** The PathPrefix of the match that selected the rule (ReplacePrefixMatch replaces it). */
  prefix?: string;
}

/** The match attributes precedence sorts on (Gateway API order; pilot sortHTTPRoutes). */
export interface Specificity {
  /** Exact 3, PathPrefix 2, RegularExpression 1, none -1 (pilot getURIRank). */
  pathRank: number;
  pathLength: number;
  method: boolean;
  headers: number;
  queryParams: number;
}

export interface GatewayApiEntry {
  index: number;
  origin: RouteOrigin;
  rule: HTTPRoute;
  matches: CompiledMatch[] | null;
  gatewayApi: GatewayApiAction;
  specificity: Specificity;
  /** Which match of the rule this entry is (the rule order breaks ties). */
  match: number;
}

/**
 * Compiles the rules of an accepted route for its mesh parents or its
 * Gateway parents (which also refuse cross-namespace backends without a
 * ReferenceGrant); backends that did not resolve are marked, not dropped.
 */
export function compileGatewayApiRoute(route: Resource<'HTTPRoute' | 'GRPCRoute'>, kind: RouteKind, status: RouteStatus, serviceFqdn: (namespace: string, name: string) => string, parents: 'mesh' | 'gateway'): GatewayApiEntry[] {
  const namespace = route.metadata.namespace ?? '';
  const problems = new Map(status.backends.filter((b) => b.problem && !(parents === 'mesh' && b.problem.gatewayOnly)).map((b) => [b.path.join('/'), b.problem!.message]));
  const out: GatewayApiEntry[] = [];
  arr(obj(route.spec).rules).forEach((raw, index) => {
    const r = obj(raw);
    const origin: RouteOrigin = { kind, namespace, name: route.metadata.name, rule: index };
    const istio = istioRule(r, `${namespace}.${route.metadata.name}.${index}`, kind, (b, at) => problems.has(at) ? undefined : resolve(b, namespace, serviceFqdn), ['spec', 'rules', index]);
    const filters = arr(r.filters).map(obj);
    const headerOps = (type: string, field: string) => filters.filter((f) => f.type === type).map((f) => headerOperations(f[field])).filter((o): o is HeaderOperations => !!o);
    const redirect = kind === 'HTTPRoute' ? filters.find((f) => f.type === 'RequestRedirect')?.requestRedirect as HTTPRequestRedirectFilter | undefined : undefined;
    const rewrite = kind === 'HTTPRoute' ? filters.find((f) => f.type === 'URLRewrite')?.urlRewrite as HTTPURLRewriteFilter | undefined : undefined;
    const backends: GatewayApiBackend[] = [];
    arr(r.backendRefs).forEach((rawRef, i) => {
      const b = obj(rawRef);
      const weight = num(b.weight) ?? 1;
      if (weight <= 0) return;
      const at = ['spec', 'rules', index, 'backendRefs', i].join('/');
      const invalid = problems.get(at);
      const own = arr(b.filters).map(obj);
      const ops = (type: string, field: string) => own.filter((f) => f.type === type).map((f) => headerOperations(f[field])).filter((o): o is HeaderOperations => !!o);
      backends.push({
        weight,
        ...(invalid ? { invalid } : { fqdn: serviceFqdn(str(b.namespace) ?? namespace, str(b.name) ?? ''), port: num(b.port) }),
        requestHeaderOps: ops('RequestHeaderModifier', 'requestHeaderModifier'),
        responseHeaderOps: ops('ResponseHeaderModifier', 'responseHeaderModifier'),
      });
    });
    const action = (prefix?: string): GatewayApiAction => ({
      kind, requestHeaderOps: headerOps('RequestHeaderModifier', 'requestHeaderModifier'), responseHeaderOps: headerOps('ResponseHeaderModifier', 'responseHeaderModifier'),
      ...(redirect ? { redirect } : {}), ...(rewrite ? { rewrite } : {}), backends, ...(prefix !== undefined ? { prefix } : {}),
    });
    if (kind === 'HTTPRoute') {
      // The CRD defaults: no matches is one PathPrefix "/" match; a match without a path has that path.
      const matches = arr(r.matches).length > 0 ? arr(r.matches).map((m) => obj(m) as HTTPRouteMatch) : [{}];
      matches.forEach((m, j) => {
        const compiled = compileHttpMatch(m);
        out.push({ index, origin, rule: istio, matches: [compiled.match], gatewayApi: action(compiled.prefix), specificity: compiled.specificity, match: j });
      });
    } else {
      const matches = arr(r.matches).map((m) => obj(m) as GRPCRouteMatch);
      if (matches.length === 0) out.push({ index, origin, rule: istio, matches: null, gatewayApi: action(), specificity: { pathRank: -1, pathLength: 0, method: false, headers: 0, queryParams: 0 }, match: 0 });
      matches.forEach((m, j) => {
        const compiled = compileGrpcMatch(m);
        out.push({ index, origin, rule: istio, matches: [compiled.match], gatewayApi: action(), specificity: compiled.specificity, match: j });
      });
    }
  });
  return out;
}

function resolve(raw: unknown, namespace: string, serviceFqdn: (namespace: string, name: string) => string): { host: string; port?: number } {
  const b = obj(raw);
  return { host: serviceFqdn(str(b.namespace) ?? namespace, str(b.name) ?? ''), port: num(b.port) };
}

/**
 * The parts of a rule the shared filters read, as pilot writes them in the
 * VirtualService it generates: name, timeout, retries, mirrors, CORS.
 */
function istioRule(r: Record<string, any>, autoName: string, kind: RouteKind, mirrorTo: (ref: unknown, at: string) => { host: string; port?: number } | undefined, at: (string | number)[]): HTTPRoute {
  const out: HTTPRoute = { name: str(r.name) ?? autoName };
  const retry = obj(r.retry);
  if (kind === 'HTTPRoute' && r.retry !== undefined) {
    // Gateway API: retry connection errors whenever a retry stanza is set; Istio adds the listed codes.
    const attempts = num(retry.attempts) ?? 2;
    const on = ['connect-failure', 'refused-stream', 'unavailable', 'cancelled', ...arr(retry.codes).filter((c) => typeof c === 'number').map(String)];
    out.retries = { attempts, retryOn: attempts === 0 ? '' : on.join(','), ...(str(retry.backoff) ? { backoff: str(retry.backoff) } : {}) };
  }
  const timeouts = obj(r.timeouts);
  const request = str(timeouts.request) !== undefined ? parseDuration(str(timeouts.request)!) : undefined;
  const backend = str(timeouts.backendRequest) !== undefined ? parseDuration(str(timeouts.backendRequest)!) : undefined;
  if (request) out.timeout = `${request}ms`;
  // pilot: backendRequest bounds each attempt when the rule retries, else it is the route timeout.
  if (backend) {
    if (out.retries) out.retries.perTryTimeout = `${backend}ms`;
    else out.timeout = `${backend}ms`;
  }
  const mirrors: HTTPMirrorPolicy[] = [];
  arr(r.filters).forEach((f, j) => {
    const filter = obj(f);
    if (filter.type === 'RequestMirror') {
      const m = obj(filter.requestMirror);
      const to = mirrorTo(m.backendRef, [...at, 'filters', j, 'requestMirror', 'backendRef'].join('/'));
      if (!to) return;
      const fraction = obj(m.fraction);
      const percent = num(fraction.numerator) !== undefined ? (100 * num(fraction.numerator)!) / (num(fraction.denominator) ?? 100) : num(m.percent);
      mirrors.push({ destination: { host: to.host, ...(to.port ? { port: { number: to.port } } : {}) }, ...(percent !== undefined ? { percentage: { value: percent } } : {}) });
    }
    if (filter.type === 'CORS') out.corsPolicy = corsPolicy(obj(filter.cors) as HTTPCORSFilter);
  });
  if (mirrors.length > 0) out.mirrors = mirrors;
  return out;
}

/** Gateway API CORS as pilot's createCorsFilter writes Istio's. */
function corsPolicy(f: HTTPCORSFilter): CorsPolicy {
  const origins: StringMatch[] = [];
  for (const o of f.allowOrigins ?? []) {
    if (!o) continue;
    if (o === '*') origins.push({ regex: '^[a-zA-Z][a-zA-Z0-9+.-]*://[^/\\s?#]+$' });
    else if (!o.includes('*')) origins.push({ exact: o });
    else if (o.indexOf('*') === o.length - 1) origins.push({ prefix: o.slice(0, -1) });
    else origins.push({ regex: `^${o.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$` });
  }
  return {
    allowOrigins: origins,
    ...(f.allowCredentials ? { allowCredentials: true } : {}),
    ...(f.allowMethods ? { allowMethods: f.allowMethods } : {}),
    ...(f.allowHeaders ? { allowHeaders: f.allowHeaders } : {}),
    ...(f.exposeHeaders ? { exposeHeaders: f.exposeHeaders } : {}),
    ...(f.maxAge && f.maxAge > 0 ? { maxAge: `${f.maxAge}s` } : {}),
    unmatchedPreflights: 'IGNORE',
  };
}

/** set/add/remove by header name, lowercase; a later entry for the same name is ignored (pilot headerListToMap). */
function headerOperations(raw: unknown): HeaderOperations | undefined {
  const f = obj(raw) as HTTPHeaderFilter;
  const toMap = (list: unknown) => {
    const out: Record<string, string> = {};
    for (const h of arr(list).map(obj)) {
      const name = str(h.name)?.toLowerCase();
      if (name && !(name in out)) out[name] = String(h.value ?? '');
    }
    return Object.keys(out).length > 0 ? out : undefined;
  };
  const set = toMap(f.set);
  const add = toMap(f.add);
  const remove = arr(f.remove).filter((x): x is string => typeof x === 'string').map((x) => x.toLowerCase());
  if (!set && !add && remove.length === 0) return undefined;
  return { ...(set ? { set } : {}), ...(add ? { add } : {}), ...(remove.length > 0 ? { remove } : {}) };
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(',') : v;
}

/** Header and query matchers; the first entry of a name counts, later ones are ignored (Gateway API). */
function valueMatchers(list: unknown, lowercase: boolean): { name: string; test: (v: string | undefined) => boolean }[] {
  const seen = new Set<string>();
  const out: { name: string; test: (v: string | undefined) => boolean }[] = [];
  for (const m of arr(list).map(obj)) {
    const raw = str(m.name) ?? '';
    const name = lowercase ? raw.toLowerCase() : raw;
    if (seen.has(name)) continue;
    seen.add(name);
    const value = String(m.value ?? '');
    if (m.type === 'RegularExpression') {
      const re = compileFullRegex(value);
      out.push({ name, test: (v) => v !== undefined && re.test(v) });
    } else {
      out.push({ name, test: (v) => v === value });
    }
  }
  return out;
}

function compileHttpMatch(m: HTTPRouteMatch): { match: CompiledMatch; specificity: Specificity; prefix?: string } {
  const path = obj(m.path);
  const type = str(path.type) ?? 'PathPrefix';
  const value = str(path.value) ?? '/';
  const checks: ((a: RequestAttributes) => boolean)[] = [];
  let uri: StringMatch;
  let pathRank: number;
  let prefix: string | undefined;
  if (type === 'Exact') {
    uri = { exact: value };
    pathRank = 3;
    checks.push((a) => a.path === value);
  } else if (type === 'RegularExpression') {
    uri = { regex: value };
    pathRank = 1;
    const re = compileFullRegex(value);
    checks.push((a) => re.test(a.path));
  } else {
    // pilot: "When specified, a trailing `/` is ignored."
    prefix = value !== '/' ? value.replace(/\/+$/, '') : value;
    uri = { prefix };
    pathRank = 2;
    const p = prefix;
    checks.push((a) => pathPrefixMatches(p, a.path));
  }
  const headers = valueMatchers(m.headers, true);
  for (const h of headers) checks.push((a) => h.test(headerValue(a.headers[h.name])));
  const query = valueMatchers(m.queryParams, false);
  for (const q of query) checks.push((a) => q.test(a.query[q.name]));
  if (m.method) {
    const method = m.method;
    checks.push((a) => a.method === method);
  }
  return {
    match: { source: { uri }, test: (a) => checks.every((c) => c(a)) },
    specificity: { pathRank, pathLength: (uri.exact ?? uri.prefix ?? uri.regex ?? '').length, method: !!m.method, headers: headers.length, queryParams: query.length },
    prefix,
  };
}

/**
 * A gRPC method match as pilot's createGRPCURIMatch writes it: the path is
 * `/<service>/<method>`; service and method exact is an exact path, service
 * alone a `/<service>/` prefix, method alone (or a regex) a regex.
 */
function compileGrpcMatch(m: GRPCRouteMatch): { match: CompiledMatch; specificity: Specificity } {
  const method = obj(m.method);
  const service = str(method.service);
  const name = str(method.method);
  const regex = method.type === 'RegularExpression';
  let uri: StringMatch | undefined;
  if (service !== undefined || name !== undefined) {
    if (!regex && service !== undefined && name !== undefined) uri = { exact: `/${service}/${name}` };
    else if (!regex && service !== undefined) uri = { prefix: `/${service}/` };
    else if (service === undefined) uri = { regex: `/[^/]+/${name}` };
    else uri = { regex: name === undefined ? `/${service}/.+` : `/${service}/${name}` };
  }
  const checks: ((a: RequestAttributes) => boolean)[] = [];
  if (uri?.exact !== undefined) { const e = uri.exact; checks.push((a) => a.path === e); }
  if (uri?.prefix !== undefined) { const p = uri.prefix; checks.push((a) => a.path.startsWith(p)); }
  if (uri?.regex !== undefined) { const re = compileFullRegex(uri.regex); checks.push((a) => re.test(a.path)); }
  const headers = valueMatchers(m.headers, true);
  for (const h of headers) checks.push((a) => h.test(headerValue(a.headers[h.name])));
  const pathRank = uri?.exact !== undefined ? 3 : uri?.prefix !== undefined ? 2 : uri?.regex !== undefined ? 1 : -1;
  return {
    match: { source: uri ? { uri } : {}, test: (a) => checks.every((c) => c(a)) },
    specificity: { pathRank, pathLength: (uri?.exact ?? uri?.prefix ?? uri?.regex ?? '').length, method: false, headers: headers.length, queryParams: 0 },
  };
}
