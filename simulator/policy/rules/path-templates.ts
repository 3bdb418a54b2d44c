import { eachDocument } from './per-document';
import type { Rule } from './rule';
import { arr, obj } from '../workspace-index';
import { pathTemplateProblem } from '../path-template';

/**
 * AuthorizationPolicy paths Istio's webhook rejects: a `{**}` followed by
 * another operator, an operator that is not a whole segment, `*` mixed into
 * a template, `{`/`}` outside `{*}`/`{**}` (see path-template.ts). Reads only
 * the document, so it is checked again only when its text changes.
 */
export const pathTemplates: Rule = eachDocument('AuthorizationPolicy', ['bad-path-template'], (ap, report) => {
  arr(obj(ap.value.spec).rules).forEach((rule, i) => {
    arr(obj(rule).to).forEach((to, j) => {
      const op = obj(obj(to).operation);
      for (const field of ['paths', 'notPaths'] as const) {
        arr(op[field]).forEach((p, k) => {
          const problem = typeof p === 'string' ? pathTemplateProblem(p) : undefined;
          if (problem) report(ap, ['spec', 'rules', i, 'to', j, 'operation', field, k], 'bad-path-template', `${problem}; Istio rejects this AuthorizationPolicy`);
        });
      }
    });
  });
});
