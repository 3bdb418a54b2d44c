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
  return (rule.from ?? []).some((f) => HTTP_ONLY_SOURCE.some((k) => filled(f.source?.[k])))
    || (rule.to ?? []).some((t) => HTTP_ONLY_OPERATION.some((k) => filled(t.operation?.[k])))
    || (rule.when ?? []).some(isHttpOnlyCondition);
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

/** The policies as they apply to a TCP connection. */
export function forTcp(policies: readonly Resource<'AuthorizationPolicy'>[]): Resource<'AuthorizationPolicy'>[] {
  return policies.map((p) => {
    const rules = p.spec.rules;
    if (!rules || rules.length === 0) return p;
    const allow = (p.spec.action ?? 'ALLOW') === 'ALLOW';
    const tcpRules = allow ? rules.filter((r) => !hasHttpOnlyFields(r ?? {})) : rules.map((r) => withoutHttpOnlyFields(r ?? {}));
    return { ...p, spec: { ...p.spec, rules: tcpRules } };
  });
}
