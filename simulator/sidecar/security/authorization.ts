/**
 * AuthorizationPolicy evaluation as Istio's inbound RBAC does it, pure:
 * CUSTOM is not simulated; DENY policies first (any match denies); then, if
 * any ALLOW policy applies to the workload, the request must match one of
 * them; no ALLOW policy = allow. An ALLOW policy with no rules matches
 * nothing (so it denies everything); an empty rule `{}` matches everything.
 * AUDIT policies never change the decision; the ones that match are reported.
 * A policy annotated `istio.io/dry-run: "true"` is not enforced: the decision
 * the dry-run policies would make on their own is reported beside the real
 * one (Envoy's shadow rules).
 * Principals are written `td/ns/NS/sa/SA` (no `spiffe://`); values support
 * Istio's `*`, `prefix*` and `*suffix` forms; paths also Istio's templates
 * (`/api/{*}/items/{**}`, see policy/path-template.ts). Paths are matched
 * case-sensitively on the normalized path (see pathNormalize.ts); hosts
 * case-insensitively. `request.auth.*` (JWT) is not simulated: such a value
 * is always absent, as for a request without a token.
 */
import type { AuthorizationPolicySpec, AuthzCondition, AuthzOperation, AuthzRule, AuthzSource, Resource } from '../../policy/model';
import { principalOf } from '../../policy/hosts';
import { isPathTemplate, matchesPathTemplate } from '../../policy/path-template';
import { ROOT_NAMESPACE } from './peerAuthentication';

export interface AuthzRequest {
  /** SPIFFE id of the mTLS peer, if any. */
  peer?: string;
  peerNamespace?: string;
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
}

export interface AuthzDecision {
  allowed: boolean;
  /** `ns/name` of the policy that decided, or why none did. */
  policy: string;
  /** AUDIT policies that matched. */
  audited?: string[];
  /** With dry-run policies present: what enforcing them too would have decided. */
  dryRun?: { allowed: boolean; policy: string };
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
export function policiesFor(all: readonly Resource<'AuthorizationPolicy'>[], workload: { namespace: string; labels: Record<string, string> }, defaultNamespace: string, rootNamespace = ROOT_NAMESPACE): Resource<'AuthorizationPolicy'>[] {
  return all.filter((p) => {
    const ns = p.metadata.namespace ?? defaultNamespace;
    if (ns !== workload.namespace && ns !== rootNamespace) return false;
    if (p.spec.targetRef || (p.spec.targetRefs && p.spec.targetRefs.length > 0)) return false;
    return Object.entries(p.spec.selector?.matchLabels ?? {}).every(([k, v]) => workload.labels[k] === v);
  });
}

export function authorize(policies: readonly Resource<'AuthorizationPolicy'>[], req: AuthzRequest, defaultNamespace: string): AuthzDecision {
  const enforced = policies.filter((p) => !isDryRun(p));
  const decision = decide(enforced, req, defaultNamespace);
  const audited = policies.filter((p) => p.spec.action === 'AUDIT' && !isDryRun(p) && policyMatches(p.spec, req, false)).map((p) => nameOf(p, defaultNamespace));
  if (audited.length > 0) decision.audited = audited;
  // Envoy's shadow rules hold the dry-run policies alone: what they would decide on their own.
  if (enforced.length !== policies.length) decision.dryRun = decide(policies.filter(isDryRun), req, defaultNamespace);
  return decision;
}

const nameOf = (p: Resource<'AuthorizationPolicy'>, ns: string) => `${p.metadata.namespace ?? ns}/${p.metadata.name}`;

function decide(policies: readonly Resource<'AuthorizationPolicy'>[], req: AuthzRequest, defaultNamespace: string): AuthzDecision {
  const name = (p: Resource<'AuthorizationPolicy'>) => nameOf(p, defaultNamespace);
  const action = (p: Resource<'AuthorizationPolicy'>) => p.spec.action ?? 'ALLOW';
  for (const p of policies) if (action(p) === 'DENY' && policyMatches(p.spec, req, true)) return { allowed: false, policy: name(p) };
  const allows = policies.filter((p) => action(p) === 'ALLOW');
  if (allows.length === 0) return { allowed: true, policy: 'no ALLOW policy' };
  for (const p of allows) if (policyMatches(p.spec, req, false)) return { allowed: true, policy: name(p) };
  return { allowed: false, policy: `no ALLOW policy matched (${allows.map(name).join(', ')})` };
}

/** `deny`: evaluating a DENY policy, where a trailing slash must not dodge a path (`/admin/` is `/admin`). */
function policyMatches(spec: AuthorizationPolicySpec, req: AuthzRequest, deny: boolean): boolean {
  return (spec.rules ?? []).some((r) => ruleMatches(r, req, deny));
}

function ruleMatches(rule: AuthzRule, req: AuthzRequest, deny: boolean): boolean {
  if (rule.from && rule.from.length > 0 && !rule.from.some((f) => sourceMatches(f.source ?? {}, req))) return false;
  if (rule.to && rule.to.length > 0 && !rule.to.some((t) => operationMatches(t.operation ?? {}, req, deny))) return false;
  return (rule.when ?? []).every((c) => conditionMatches(c, req));
}

function sourceMatches(s: AuthzSource, req: AuthzRequest): boolean {
  const principal = req.peer ? principalOf(req.peer) : undefined;
  const sa = principal ? /\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(principal) : null;
  const serviceAccount = sa ? `${sa[1]}/${sa[2]}` : undefined;
  return (
    field(s.principals, s.notPrincipals, principal) &&
    field(s.namespaces, s.notNamespaces, req.peerNamespace) &&
    field(s.serviceAccounts, s.notServiceAccounts, serviceAccount) &&
    // No JWT support yet: a request principal is never present.
    field(s.requestPrincipals, s.notRequestPrincipals, undefined) &&
    ipField(s.ipBlocks, s.notIpBlocks, req.sourceIp) &&
    ipField(s.remoteIpBlocks, s.notRemoteIpBlocks, req.sourceIp)
  );
}

function operationMatches(o: AuthzOperation, req: AuthzRequest, deny: boolean): boolean {
  const host = req.host.toLowerCase();
  const ports = [req.port, ...(req.altPorts ?? [])].map(String);
  const trimmed = req.path.length > 1 && req.path.endsWith('/') ? req.path.replace(/\/+$/, '') : undefined;
  return (
    field(o.hosts?.map((h) => h.toLowerCase()), o.notHosts?.map((h) => h.toLowerCase()), host, host.replace(/:\d+$/, '')) &&
    field(o.ports?.map(String), undefined, ...ports) && field(undefined, o.notPorts?.map(String), req.port === 0 ? undefined : String(req.port)) &&
    field(o.methods, o.notMethods, req.method) &&
    (deny && trimmed ? pathField(o.paths, undefined, req.path, trimmed) && pathField(undefined, o.notPaths, req.path) : pathField(o.paths, o.notPaths, req.path))
  );
}

function conditionMatches(c: AuthzCondition, req: AuthzRequest): boolean {
  let value: string | undefined;
  const header = /^request\.headers\[(.+)\]$/.exec(c.key);
  if (header) {
    const v = req.headers[header[1].toLowerCase()];
    value = Array.isArray(v) ? v.join(',') : v;
  } else if (c.key === 'source.principal') value = req.peer ? principalOf(req.peer) : undefined;
  else if (c.key === 'source.namespace') value = req.peerNamespace;
  else if (c.key === 'source.ip' || c.key === 'remote.ip') value = req.sourceIp;
  else if (c.key === 'destination.port') {
    return field(c.values, undefined, ...[req.port, ...(req.altPorts ?? [])].map(String)) && field(undefined, c.notValues, String(req.port));
  }
  // request.auth.* (JWT claims, principal, audiences) and anything else unknown: absent, never a positive match.
  if (c.key === 'source.ip' || c.key === 'remote.ip') return ipField(c.values, c.notValues, value);
  return field(c.values, c.notValues, value);
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

function listMatches(values: string[] | undefined, notValues: string[] | undefined, candidates: (string | undefined)[], match: (pattern: string, value: string) => boolean): boolean {
  const present = candidates.filter((c): c is string => c !== undefined);
  if (values && values.length > 0 && !values.some((v) => present.some((c) => match(v, c)))) return false;
  if (notValues && notValues.length > 0 && notValues.some((v) => present.some((c) => match(v, c)))) return false;
  return true;
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
