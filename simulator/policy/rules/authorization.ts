import type { DocumentRule } from './rule';
import { eachDocument } from './per-document';
import { arr, obj, str } from '../workspace-index';

const CONDITION_KEYS = [/^request\.headers\[[^\]]+\]$/, /^source\.(ip|namespace|principal)$/, /^remote\.ip$/, /^destination\.(ip|port)$/, /^connection\.sni$/,
  /^request\.auth\.(principal|audiences|presenter)$/, /^request\.auth\.claims(\[[^\[\]]+\])+$/];
const METHODS = /^[A-Z]+$/;

/** The parts of AuthorizationPolicies that are easy to get wrong and silently never match. */
export const authorization: DocumentRule<'AuthorizationPolicy'> = eachDocument('AuthorizationPolicy', ['deny-all', 'bad-value'], (ap, report) => {
  const spec = obj(ap.value.spec);
  const action = str(spec.action) ?? 'ALLOW';
  if (action === 'ALLOW' && spec.rules === undefined) {
    report(ap, ['spec'], 'deny-all', `this ALLOW policy has no rules, so it denies every request to ${spec.selector ? 'the selected workloads' : 'the namespace'}; add "rules: [{}]" to allow all instead`, { part: 'key' });
  }
  arr(spec.rules).forEach((rule, i) => {
    arr(obj(rule).when).forEach((c, j) => {
      const key = str(obj(c).key);
      if (!key) return;
      if (key.startsWith('request.auth.') && !CONDITION_KEYS.some((re) => re.test(key))) {
        report(ap, ['spec', 'rules', i, 'when', j, 'key'], 'bad-value', `"${key}" is not a request.auth attribute Istio knows: use request.auth.principal, request.auth.audiences, request.auth.presenter or request.auth.claims[name] (nested: request.auth.claims[a][b])`);
      } else if (!CONDITION_KEYS.some((re) => re.test(key))) {
        report(ap, ['spec', 'rules', i, 'when', j, 'key'], 'bad-value', `"${key}" is not an attribute Istio knows: use request.headers[name], source.ip, source.namespace, source.principal, remote.ip, destination.port, request.auth.claims[name], ...`);
      }
    });
    arr(obj(rule).to).forEach((to, j) => {
      const op = obj(obj(to).operation);
      for (const field of ['methods', 'notMethods'] as const) {
        arr(op[field]).forEach((m, k) => {
          if (typeof m === 'string' && !METHODS.test(m) && m !== '*') {
            report(ap, ['spec', 'rules', i, 'to', j, 'operation', field, k], 'bad-value', `method "${m}" never matches: HTTP methods are upper case, e.g. "${m.toUpperCase()}"`);
          }
        });
      }
      for (const field of ['ports', 'notPorts'] as const) {
        arr(op[field]).forEach((p, k) => {
          if (typeof p === 'string' && !/^\d+$/.test(p)) {
            report(ap, ['spec', 'rules', i, 'to', j, 'operation', field, k], 'bad-value', `port "${p}" is not a number`);
          }
        });
      }
    });
  });
});
