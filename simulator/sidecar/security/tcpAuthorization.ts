/**
 * AuthorizationPolicy on TCP traffic, as pilot builds the network RBAC
 * filter (pilot/pkg/security/authz/model/model.go `Generate(forTCP)` and
 * `rule.checkError`): HTTP-only fields — `hosts`, `methods`, `paths` (and
 * their not- forms), `requestPrincipals`, and the `request.headers[...]` and
 * `request.auth.*` conditions — cannot be evaluated on a connection, so
 *
 * - in an ALLOW policy, a rule that has any of them is ignored ("This will
 *   make all rules in the current permission ignored, effectively result in
 *   a smaller allow policy"); the policy still applies, so with every rule
 *   ignored it allows nothing;
 * - in a DENY (or AUDIT) policy, those fields are dropped from the rule and
 *   the rest of it still applies ("missing attributes are treated as
 *   matches", istio/api authorization_policy.proto; "effectively resulting in
 *   a wider deny or audit policy").
 *
 * The policies come out rewritten that way and are then evaluated by the same
 * `authorize` the HTTP path uses. Pure.
 */
import type { AuthzCondition, AuthzOperation, AuthzRule, AuthzSource, Resource } from '../../policy/model';

const HTTP_ONLY_OPERATION = ['hosts', 'notHosts', 'methods', 'notMethods', 'paths', 'notPaths'] as const satisfies readonly (keyof AuthzOperation)[];
const HTTP_ONLY_SOURCE = ['requestPrincipals', 'notRequestPrincipals'] as const satisfies readonly (keyof AuthzSource)[];

/** `request.headers[...]` and every `request.auth.*` key (principal, audiences, presenter, claims[...]). */
export function isHttpOnlyCondition(c: AuthzCondition): boolean {
  return c.key.startsWith('request.headers') || c.key.startsWith('request.auth.');
}

const filled = (v: unknown) => Array.isArray(v) && v.length > 0;

/** Whether a rule uses a field a TCP connection cannot have. */
export function hasHttpOnlyFields(rule: AuthzRule): boolean {
  return httpOnlyFields(rule).length > 0;
}

/** The HTTP-only fields a rule uses (`methods`, `requestPrincipals`, `when request.headers[x-user]`), for explain. */
export function httpOnlyFields(rule: AuthzRule): string[] {
  const out = new Set<string>();
  for (const f of rule.from ?? []) for (const k of HTTP_ONLY_SOURCE) if (filled(f.source?.[k])) out.add(k);
  for (const t of rule.to ?? []) for (const k of HTTP_ONLY_OPERATION) if (filled(t.operation?.[k])) out.add(k);
  for (const c of rule.when ?? []) if (isHttpOnlyCondition(c)) out.add(`when ${c.key}`);
  return [...out];
}

/** The rule without its HTTP-only fields (a DENY or AUDIT rule on TCP). */
export function withoutHttpOnlyFields(rule: AuthzRule): AuthzRule {
  const strip = <T extends object>(o: T | undefined, keys: readonly (keyof T)[]): T | undefined => {
    if (!o) return o;
    const out = { ...o };
    for (const k of keys) delete out[k];
    return out;
  };
  return {
    ...(rule.from ? { from: rule.from.map((f) => ({ source: strip(f.source, HTTP_ONLY_SOURCE) })) } : {}),
    ...(rule.to ? { to: rule.to.map((t) => ({ operation: strip(t.operation, HTTP_ONLY_OPERATION) })) } : {}),
    ...(rule.when ? { when: rule.when.filter((c) => !isHttpOnlyCondition(c)) } : {}),
  };
}

/** An ALLOW policy rewritten for TCP: the index, as written, of each rule it kept. */
const writtenIndexes = new WeakMap<Resource<'AuthorizationPolicy'>, number[]>();

/** The policies as they apply to a TCP connection. */
export function forTcp(policies: readonly Resource<'AuthorizationPolicy'>[]): Resource<'AuthorizationPolicy'>[] {
  return policies.map((p) => {
    const rules = p.spec.rules;
    if (!rules || rules.length === 0) return p;
    const allow = (p.spec.action ?? 'ALLOW') === 'ALLOW';
    if (!allow) return { ...p, spec: { ...p.spec, rules: rules.map((r) => withoutHttpOnlyFields(r ?? {})) } };
    const kept = rules.flatMap((r, i) => (hasHttpOnlyFields(r ?? {}) ? [] : [i]));
    const out = { ...p, spec: { ...p.spec, rules: kept.map((i) => rules[i]) } };
    writtenIndexes.set(out, kept);
    return out;
  });
}

/**
 * A decision over `forTcp`'s policies with its rule index as written (an
 * ALLOW policy lost the rules TCP ignores): decision records, the per-rule
 * counters and the editor's lenses name the rule the user wrote.
 */
export function asWritten<D extends { by?: { namespace: string; name: string; rule: number } }>(decision: D, tcpPolicies: readonly Resource<'AuthorizationPolicy'>[], defaultNamespace: string): D {
  const by = decision.by;
  if (!by) return decision;
  const p = tcpPolicies.find((x) => x.metadata.name === by.name && (x.metadata.namespace ?? defaultNamespace) === by.namespace);
  const written = p ? writtenIndexes.get(p)?.[by.rule] : undefined;
  return written === undefined || written === by.rule ? decision : { ...decision, by: { ...by, rule: written } };
}
