/**
 * AuthorizationPolicy evaluation as Istio's inbound RBAC does it, pure:
 * CUSTOM first (customDecision: whether to ask the external authorizer);
 * DENY policies next (any match denies); then, if
 * any ALLOW policy applies to the workload, the request must match one of
 * them; no ALLOW policy = allow. An ALLOW policy with no rules matches
 * nothing (so it denies everything); an empty rule `{}` matches everything.
 * AUDIT policies never change the decision; the ones that match are reported.
 * A policy annotated `istio.io/dry-run: "true"` is not enforced: the decision
 * the dry-run policies would make on their own is reported beside the real
 * one (Envoy's shadow rules).
 * Principals are written as the mesh flavor's identity format reads the
 * peer's id (`req.identity`; Istio: `td/ns/NS/sa/SA`, no `spiffe://`); values support
 * Istio's `*`, `prefix*` and `*suffix` forms; paths also Istio's templates
 * (`/api/{*}/items/{**}`, see policy/path-template.ts). Paths are matched
 * case-sensitively on the normalized path (see pathNormalize.ts); hosts
 * case-insensitively. `requestPrincipals` and `request.auth.*` read the
 * token the jwt filter verified (requestAuthentication.ts); a request
 * without one has no request principal and no claims.
 */
import type { AuthorizationPolicySpec, AuthzCondition, AuthzOperation, AuthzRule, AuthzSource, Resource } from '../../policy/model';
import { ISTIO_IDENTITY, type IdentityFormat } from '../../policy/flavors';
import { isPathTemplate, matchesPathTemplate } from '../../policy/path-template';
import { ROOT_NAMESPACE } from './peerAuthentication';
import { selects, type PolicyTarget } from './policySelection';
import { claimAt, claimMatches, claimPath, requestPrincipalMatches, type RequestAuth } from './requestAuthentication';

export interface AuthzRequest {
  /** SPIFFE id of the mTLS peer, if any. */
  peer?: string;
  peerNamespace?: string;
  /** The mesh flavor's identity format, which reads the principal and service account out of `peer` (Istio's when unset). */
  identity?: IdentityFormat;
  sourceIp?: string;
  method: string;
  /** Path without query. */
  path: string;
  host: string;
  /** The workload (container) port the request is for, as Envoy's inbound listener sees it; 0 when unknown. */
  port: number;
  headers: Record<string, string | string[] | undefined>;
  /** Other ports that name this destination. */
  altPorts?: number[];
  /** The end user of a verified JWT, if any. */
  auth?: RequestAuth;
  /** The server name the client's TLS ClientHello asked for (`connection.sni`), if any. */
  sni?: string;
}

export interface AuthzDecision {
  allowed: boolean;
  /** `ns/name` of the policy that decided, or why none did. */
  policy: string;
  /** The policy and rule that decided, when one did (per-rule counters and decision records name it). */
  by?: PolicyRule;
  /** AUDIT policies that matched. */
  audited?: string[];
  /** With dry-run policies present: what enforcing them too would have decided. */
  dryRun?: { allowed: boolean; policy: string };
}

/** One rule of one AuthorizationPolicy. */
export interface PolicyRule {
  namespace: string;
  name: string;
  action: 'ALLOW' | 'DENY' | 'AUDIT' | 'CUSTOM';
  rule: number;
}

export const DRY_RUN_ANNOTATION = 'istio.io/dry-run';

export function isDryRun(p: Resource<'AuthorizationPolicy'>): boolean {
  return String(p.metadata.annotations?.[DRY_RUN_ANNOTATION] ?? '').toLowerCase() === 'true';
}

/**
 * The policies that apply to a workload (pilot/pkg/model/authorization.go
 * ListAuthorizationPolicies): those of its namespace and of the root
 * namespace whose selector matches its labels (or that have none) — a
 * root-namespace policy's selector picks workloads in every namespace. A
 * policy with a targetRef is for a gateway or waypoint, never a sidecar.
 */
export function policiesFor(all: readonly Resource<'AuthorizationPolicy'>[], workload: PolicyTarget, defaultNamespace: string, rootNamespace = ROOT_NAMESPACE): Resource<'AuthorizationPolicy'>[] {
  return all.filter((p) => selects(p, workload, defaultNamespace, rootNamespace));
}

export function authorize(policies: readonly Resource<'AuthorizationPolicy'>[], req: AuthzRequest, defaultNamespace: string): AuthzDecision {
  // Per request: no copies of the policy list unless a dry-run or AUDIT policy is in it.
  const enforced = policies.some(isDryRun) ? policies.filter((p) => !isDryRun(p)) : policies;
  const decision = decide(enforced, req, defaultNamespace);
  const audited = policies.some(isAudit) ? policies.filter((p) => isAudit(p) && !isDryRun(p) && policyMatches(p.spec, req, false)).map((p) => nameOf(p, defaultNamespace)) : [];
  if (audited.length > 0) decision.audited = audited;
  // Envoy's shadow rules hold the dry-run policies alone: what they would decide on their own.
  if (enforced.length !== policies.length) {
    const shadow = decide(policies.filter(isDryRun), req, defaultNamespace);
    decision.dryRun = { allowed: shadow.allowed, policy: shadow.policy };
  }
  return decision;
}

const nameOf = (p: Resource<'AuthorizationPolicy'>, ns: string) => `${p.metadata.namespace ?? ns}/${p.metadata.name}`;
const isAudit = (p: Resource<'AuthorizationPolicy'>) => p.spec.action === 'AUDIT';

/** What the CUSTOM policies of a proxy decide before any DENY or ALLOW policy is looked at. */
export type CustomDecision =
  /** No CUSTOM policy matches: on to DENY and ALLOW. */
  | { kind: 'none' }
  /** Ask this external authorizer. */
  | { kind: 'ask'; provider: string; policies: string[] }
  /** Deny without asking: the provider cannot be used, so pilot turns the policy into a DENY. */
  | { kind: 'deny'; policy: string; why: string };

/**
 * CUSTOM as pilot builds it: the rules of the enforced CUSTOM policies decide
 * whether the external authorizer is asked. A provider that is not usable
 * (`usable` says which names are) makes its policies DENY policies, and so
 * do CUSTOM policies naming more than one provider on one proxy (Istio's
 * default without PILOT_ENABLE_MULTIPLE_CUSTOM_AUTHZ_PROVIDERS). Dry-run
 * CUSTOM policies are not enforced and call no one.
 */
export function customDecision(policies: readonly Resource<'AuthorizationPolicy'>[], req: AuthzRequest, defaultNamespace: string, usable: (provider: string) => string | undefined): CustomDecision {
  const customs = policies.filter((p) => p.spec.action === 'CUSTOM' && !isDryRun(p));
  if (customs.length === 0) return { kind: 'none' };
  const providers = [...new Set(customs.map((p) => p.spec.provider?.name ?? ''))];
  const matching = customs.filter((p) => policyMatches(p.spec, req, true));
  if (matching.length === 0) return { kind: 'none' };
  const first = nameOf(matching[0], defaultNamespace);
  if (providers.length > 1) return { kind: 'deny', policy: first, why: `CUSTOM policies name several providers (${providers.join(', ')}) for one proxy` };
  const problem = usable(providers[0]);
  if (problem) return { kind: 'deny', policy: first, why: problem };
  return { kind: 'ask', provider: providers[0], policies: matching.map((p) => nameOf(p, defaultNamespace)) };
}

function decide(policies: readonly Resource<'AuthorizationPolicy'>[], req: AuthzRequest, defaultNamespace: string): AuthzDecision {
  for (const p of policies) {
    if (actionOf(p) !== 'DENY') continue;
    const rule = matchingRule(p.spec, req, true);
    if (rule >= 0) return { allowed: false, policy: nameOf(p, defaultNamespace), by: ruleOfPolicy(p, rule, defaultNamespace) };
  }
  let allows = 0;
  for (const p of policies) {
    if (actionOf(p) !== 'ALLOW') continue;
    allows++;
    const rule = matchingRule(p.spec, req, false);
    if (rule >= 0) return { allowed: true, policy: nameOf(p, defaultNamespace), by: ruleOfPolicy(p, rule, defaultNamespace) };
  }
  if (allows === 0) return { allowed: true, policy: 'no ALLOW policy' };
  const names = policies.filter((p) => actionOf(p) === 'ALLOW').map((p) => nameOf(p, defaultNamespace));
  return { allowed: false, policy: `no ALLOW policy matched (${names.join(', ')})` };
}

const policyRules = new WeakMap<Resource<'AuthorizationPolicy'>, { ns: string; rules: PolicyRule[] }>();

/** The rule that decided, one object per policy and rule (a snapshot's policies are never changed): the same one every request it decides. */
function ruleOfPolicy(p: Resource<'AuthorizationPolicy'>, rule: number, defaultNamespace: string): PolicyRule {
  let made = policyRules.get(p);
  if (made === undefined || made.ns !== defaultNamespace) policyRules.set(p, (made = { ns: defaultNamespace, rules: [] }));
  return (made.rules[rule] ??= { namespace: p.metadata.namespace ?? defaultNamespace, name: p.metadata.name, action: actionOf(p), rule });
}

const actionOf = (p: Resource<'AuthorizationPolicy'>): PolicyRule['action'] => p.spec.action ?? 'ALLOW';

/** `deny`: evaluating a DENY policy, where a trailing slash must not dodge a path (`/admin/` is `/admin`). */
function policyMatches(spec: AuthorizationPolicySpec, req: AuthzRequest, deny: boolean): boolean {
  return matchingRule(spec, req, deny) >= 0;
}

/** The index of the first rule that matches, or -1. */
function matchingRule(spec: AuthorizationPolicySpec, req: AuthzRequest, deny: boolean): number {
  const rules = spec.rules ?? [];
  for (let i = 0; i < rules.length; i++) if (ruleMatches(rules[i], req, deny)) return i;
  return -1;
}

/** One policy as explain reads it: for each rule, matched, or the first condition the request failed. */
export interface PolicyVerdict {
  policy: { namespace: string; name: string };
  action: PolicyRule['action'];
  dryRun: boolean;
  /** The index of the first rule that matches, or -1 (a policy without rules matches nothing). */
  matched: number;
  rules: Array<{ rule: number; matched: boolean; failed?: string }>;
}

/**
 * Every rule of a policy against a request, with the first failing condition
 * of each: the same predicates `authorize` runs, asked one field at a time
 * (the fields of a source, an operation and the conditions of a rule are ANDed).
 */
export function explainPolicy(p: Resource<'AuthorizationPolicy'>, req: AuthzRequest, defaultNamespace: string): PolicyVerdict {
  const action = actionOf(p);
  const deny = action === 'DENY' || action === 'CUSTOM';
  const rules = (p.spec.rules ?? []).map((r, rule) => {
    const failed = ruleMatches(r, req, deny) ? undefined : firstFailure(r, req, deny);
    return failed === undefined ? { rule, matched: true } : { rule, matched: false, failed };
  });
  return {
    policy: { namespace: p.metadata.namespace ?? defaultNamespace, name: p.metadata.name }, action, dryRun: isDryRun(p),
    matched: matchingRule(p.spec, req, deny), rules,
  };
}

/** Which part of a rule a request fails: `from`, `to` (each an OR of entries, reported by their first), then the `when` conditions. */
function firstFailure(rule: AuthzRule, req: AuthzRequest, deny: boolean): string {
  const several = (n: number, what: string) => (n > 1 ? ` (and in none of the other ${n - 1} ${what})` : '');
  if (rule.from && rule.from.length > 0 && !rule.from.some((f) => sourceMatches(f.source ?? {}, req))) {
    const s = rule.from[0].source ?? {};
    const key = (Object.keys(s) as (keyof AuthzSource)[]).find((k) => !sourceMatches({ [k]: s[k] } as AuthzSource, req));
    return `${key ? mismatch(key, s[key] as string[], sourceValue(key, req)) : 'the source does not match'}${several(rule.from.length, 'sources')}`;
  }
  if (rule.to && rule.to.length > 0 && !rule.to.some((t) => operationMatches(t.operation ?? {}, req, deny))) {
    const o = rule.to[0].operation ?? {};
    const key = (Object.keys(o) as (keyof AuthzOperation)[]).find((k) => !operationMatches({ [k]: o[k] } as AuthzOperation, req, deny));
    return `${key ? mismatch(key, o[key] as string[], operationValue(key, req)) : 'the operation does not match'}${several(rule.to.length, 'operations')}`;
  }
  const c = (rule.when ?? []).find((x) => !conditionMatches(x, req));
  if (!c) return 'no condition failed';
  return c.values && !conditionMatches({ key: c.key, values: c.values }, req)
    ? `${c.key} not in ${JSON.stringify(c.values)}`
    : `${c.key} is in notValues ${JSON.stringify(c.notValues ?? [])}`;
}

/** `principal cluster.local/ns/default/sa/a not in principals ["..."]`, `method POST in notMethods ["POST"]`. */
function mismatch(field: string, values: string[] | undefined, actual: { what: string; value: string | undefined }): string {
  const negative = field.startsWith('not');
  const had = actual.value === undefined ? `no ${actual.what}` : `${actual.what} ${actual.value}`;
  return negative ? `${had} is in ${field} ${JSON.stringify(values)}` : `${had} not in ${field} ${JSON.stringify(values)}`;
}

function sourceValue(key: keyof AuthzSource, req: AuthzRequest): { what: string; value: string | undefined } {
  const principal = principalOfPeer(req);
  switch (key) {
    case 'principals': case 'notPrincipals': return { what: 'principal', value: principal ?? undefined };
    case 'serviceAccounts': case 'notServiceAccounts': return { what: 'principal', value: principal };
    case 'namespaces': case 'notNamespaces': return { what: 'peer namespace', value: req.peerNamespace };
    case 'requestPrincipals': case 'notRequestPrincipals': return { what: 'request principal', value: undefined };
    default: return { what: 'source address', value: req.sourceIp };
  }
}

function operationValue(key: keyof AuthzOperation, req: AuthzRequest): { what: string; value: string | undefined } {
  switch (key) {
    case 'methods': case 'notMethods': return { what: 'method', value: req.method };
    case 'paths': case 'notPaths': return { what: 'path', value: req.path };
    case 'ports': case 'notPorts': return { what: 'port', value: String(req.port) };
    default: return { what: 'host', value: req.host };
  }
}

function ruleMatches(rule: AuthzRule, req: AuthzRequest, deny: boolean): boolean {
  if (rule.from && rule.from.length > 0 && !rule.from.some((f) => sourceMatches(f.source ?? {}, req))) return false;
  if (rule.to && rule.to.length > 0 && !rule.to.some((t) => operationMatches(t.operation ?? {}, req, deny))) return false;
  return (rule.when ?? []).every((c) => conditionMatches(c, req));
}

function sourceMatches(s: AuthzSource, req: AuthzRequest): boolean {
  const principal = principalOfPeer(req);
  const serviceAccount = principal ? (req.identity ?? ISTIO_IDENTITY).serviceAccount(principal) : undefined;
  return (
    field(s.principals, s.notPrincipals, principal) &&
    field(s.namespaces, s.notNamespaces, req.peerNamespace) &&
    field(s.serviceAccounts, s.notServiceAccounts, serviceAccount) &&
    requestPrincipalField(s.requestPrincipals, s.notRequestPrincipals, req.auth) &&
    ipField(s.ipBlocks, s.notIpBlocks, req.sourceIp) &&
    ipField(s.remoteIpBlocks, s.notRemoteIpBlocks, req.sourceIp)
  );
}

/** The peer's principal as its flavor writes it in policies (Istio: the SPIFFE id without `spiffe://`). */
function principalOfPeer(req: AuthzRequest): string | undefined {
  return req.peer ? (req.identity ?? ISTIO_IDENTITY).principal(req.peer) : undefined;
}

function operationMatches(o: AuthzOperation, req: AuthzRequest, deny: boolean): boolean {
  const trimmed = req.path.length > 1 && req.path.endsWith('/') ? req.path.replace(/\/+$/, '') : undefined;
  // A field the operation leaves out matches anything: its candidates (lowercased host, port strings) are made only when one is set.
  return (
    (!some(o.hosts) && !some(o.notHosts) ? true : hostField(o, req.host.toLowerCase())) &&
    (!some(o.ports) ? true : field(o.ports!.map(String), undefined, ...[req.port, ...(req.altPorts ?? [])].map(String))) &&
    (!some(o.notPorts) ? true : field(undefined, o.notPorts!.map(String), req.port === 0 ? undefined : String(req.port))) &&
    field(o.methods, o.notMethods, req.method) &&
    (deny && trimmed ? pathField(o.paths, undefined, req.path, trimmed) && pathField(undefined, o.notPaths, req.path) : pathField(o.paths, o.notPaths, req.path))
  );
}

const some = (list: readonly unknown[] | undefined): boolean => list !== undefined && list.length > 0;

function hostField(o: AuthzOperation, host: string): boolean {
  return field(o.hosts?.map((h) => h.toLowerCase()), o.notHosts?.map((h) => h.toLowerCase()), host, host.replace(/:\d+$/, ''));
}

function conditionMatches(c: AuthzCondition, req: AuthzRequest): boolean {
  let value: string | undefined;
  const header = /^request\.headers\[(.+)\]$/.exec(c.key);
  if (header) {
    const v = req.headers[header[1].toLowerCase()];
    value = Array.isArray(v) ? v.join(',') : v;
  } else if (c.key === 'source.principal') value = principalOfPeer(req);
  else if (c.key === 'source.namespace') value = req.peerNamespace;
  else if (c.key === 'source.ip' || c.key === 'remote.ip') value = req.sourceIp;
  else if (c.key === 'connection.sni') value = req.sni;
  else if (c.key === 'destination.port') {
    return field(c.values, undefined, ...[req.port, ...(req.altPorts ?? [])].map(String)) && field(undefined, c.notValues, String(req.port));
  } else if (c.key === 'request.auth.principal') {
    return requestPrincipalField(c.values, c.notValues, req.auth);
  } else if (c.key.startsWith('request.auth.')) {
    const path = c.key === 'request.auth.audiences' ? ['aud'] : c.key === 'request.auth.presenter' ? ['azp'] : claimPath(c.key);
    const claim = path && req.auth ? claimAt(req.auth.claims, path) : undefined;
    return listMatches(c.values, c.notValues, [claim], (pattern, v) => claimMatches(v, pattern));
  }
  // Anything else unknown: absent, never a positive match.
  if (c.key === 'source.ip' || c.key === 'remote.ip') return ipField(c.values, c.notValues, value);
  return field(c.values, c.notValues, value);
}

/** Request principals (`iss/sub` patterns) of the verified token; no token matches no positive list and every negative one. */
function requestPrincipalField(values: string[] | undefined, notValues: string[] | undefined, auth: RequestAuth | undefined): boolean {
  if (values && values.length > 0 && !values.some((v) => requestPrincipalMatches(v, auth))) return false;
  if (notValues && notValues.length > 0 && notValues.some((v) => requestPrincipalMatches(v, auth))) return false;
  return true;
}

/** A positive list must contain the value; a negative list must not. A missing value matches no positive list. */
function field(values: string[] | undefined, notValues: string[] | undefined, ...candidates: (string | undefined)[]): boolean {
  return listMatches(values, notValues, candidates, wildcard);
}

/** Paths: a value with `{*}`/`{**}` is a URI template (as Istio turns it into Envoy's uri_template), any other the usual string forms. */
function pathField(values: string[] | undefined, notValues: string[] | undefined, ...candidates: (string | undefined)[]): boolean {
  return listMatches(values, notValues, candidates, pathMatches);
}

function pathMatches(pattern: string, path: string): boolean {
  return isPathTemplate(pattern) ? matchesPathTemplate(pattern, path) : wildcard(pattern, path);
}

function listMatches<T>(values: string[] | undefined, notValues: string[] | undefined, candidates: (T | undefined)[], match: (pattern: string, value: T) => boolean): boolean {
  if (values && values.length > 0 && !anyMatch(values, candidates, match)) return false;
  if (notValues && notValues.length > 0 && anyMatch(notValues, candidates, match)) return false;
  return true;
}

/** Whether a pattern matches a candidate that is present (plain loops: this runs per rule per request). */
function anyMatch<T>(patterns: readonly string[], candidates: readonly (T | undefined)[], match: (pattern: string, value: T) => boolean): boolean {
  for (const v of patterns) for (const c of candidates) if (c !== undefined && match(v, c)) return true;
  return false;
}

function wildcard(pattern: string, value: string): boolean {
  if (pattern === '*') return value.length > 0;
  if (pattern.startsWith('*')) return value.endsWith(pattern.slice(1));
  if (pattern.endsWith('*')) return value.startsWith(pattern.slice(0, -1));
  return pattern === value;
}

function ipField(values: string[] | undefined, notValues: string[] | undefined, ip: string | undefined): boolean {
  const addr = ip?.replace(/^::ffff:/, '');
  if (values && values.length > 0 && !(addr && values.some((b) => inBlock(b, addr)))) return false;
  if (notValues && notValues.length > 0 && addr && notValues.some((b) => inBlock(b, addr))) return false;
  return true;
}

function inBlock(block: string, ip: string): boolean {
  const [base, bitsText] = block.split('/');
  if (bitsText === undefined) return base === ip;
  const toInt = (s: string) => s.split('.').reduce((n, o) => (n << 8) + Number(o), 0) >>> 0;
  if (!/^\d+\.\d+\.\d+\.\d+$/.test(base) || !/^\d+\.\d+\.\d+\.\d+$/.test(ip)) return false;
  const bits = Number(bitsText);
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return (toInt(base) & mask) === (toInt(ip) & mask);
}
