import { exportedTo } from '../hosts';
import type { PolicyDocument } from '../source';
import type { DocumentRule } from './rule';
import { arr, obj, str, type WorkspaceIndex } from '../workspace-index';

/**
 * What each HTTP rule does, and delegation as Istio does it: a rule forwards
 * (`route`), redirects, answers (`directResponse`) or delegates to another
 * VirtualService; a VirtualService without hosts is a delegate, which may not
 * name gateways, tcp or tls rules, nor delegate again; a `delegate` must name
 * a VirtualService without hosts that is exported to the root's namespace
 * (pilot skips the rule otherwise).
 */
export const delegates: DocumentRule<'VirtualService'> = {
  codes: ['bad-value', 'unknown-delegate', 'unused-delegate'],
  kinds: ['VirtualService'],
  // Only delegates and the VirtualServices that name one take part: most workspaces have none, and this stays ''.
  facts(index) {
    let facts = '';
    for (const vs of index.byKind.VirtualService) {
      const own = delegationFacts(vs, index);
      if (own) facts += `${own}\n`;
    }
    return facts;
  },
  check(vs, index, report) {
    const spec = obj(vs.value.spec);
    const delegate = isDelegate(vs);
    if (delegate) {
      for (const field of ['gateways', 'tcp', 'tls'] as const) {
        if (arr(spec[field]).length > 0) {
          report(vs, ['spec', field], 'bad-value', `a VirtualService without hosts is a delegate, and a delegate takes no ${field}: add hosts, or remove ${field} (IST0106)`, { part: 'key' });
        }
      }
      const key = `${index.namespaceOf(vs)}/${vs.name}`;
      const used = [...index.virtualServices.values()].some((root) => delegateKeys(root, index).includes(key));
      if (!used) {
        report(vs, ['spec'], 'unused-delegate', `VirtualService "${vs.name}" has no hosts, so it applies only where another VirtualService delegates to it, and none does: add hosts, or name it in a rule's delegate`, { part: 'key' });
      }
    }
    arr(spec.http).forEach((raw, i) => {
      const rule = obj(raw);
      const path = ['spec', 'http', i];
      if (rule.delegate !== undefined) {
        if (delegate) report(vs, [...path, 'delegate'], 'bad-value', 'a delegate VirtualService cannot delegate again: move these rules into it (IST0106)', { part: 'key' });
        else checkDelegate(vs, obj(rule.delegate), [...path, 'delegate'], index, report);
      } else if (!rule.route && !rule.redirect && !rule.directResponse) {
        report(vs, path, 'bad-value', `http rule ${i} does nothing: give it a route, a redirect, a directResponse or a delegate (IST0106)`);
      }
    });
  },
};

function checkDelegate(root: PolicyDocument<'VirtualService'>, ref: Record<string, any>, path: (string | number)[], index: WorkspaceIndex, report: Parameters<DocumentRule['check']>[2]): void {
  const name = str(ref.name);
  if (!name) return;
  const namespace = str(ref.namespace) ?? index.namespaceOf(root);
  const target = index.virtualServices.get(`${namespace}/${name}`);
  const rootNs = index.namespaceOf(root);
  if (!target) {
    const candidates = [...index.virtualServices].filter(([, vs]) => isDelegate(vs)).map(([key]) => `"${key}"`);
    report(root, [...path, 'name'], 'unknown-delegate', `referenced delegate VirtualService not found (IST0101): "${namespace}/${name}"; ${candidates.length ? `delegates: ${candidates.join(', ')}` : 'define a VirtualService without hosts with this name'}; pilot skips this rule`);
  } else if (!isDelegate(target)) {
    report(root, [...path, 'name'], 'unknown-delegate', `VirtualService "${namespace}/${name}" has hosts, so it is not a delegate and pilot skips this rule: remove its hosts, or delegate to another one`);
  } else if (!exportedTo(arr(obj(target.value.spec).exportTo), namespace, rootNs)) {
    report(root, [...path, 'name'], 'unknown-delegate', `delegate VirtualService "${namespace}/${name}" is not exported to namespace "${rootNs}" (its exportTo), so pilot skips this rule: add "${rootNs}" to its exportTo`);
  }
}

// What a VirtualService says about delegation depends on its text and namespace: computed once per document.
const factsCache = new WeakMap<PolicyDocument, { namespace: string; facts: string }>();

function delegationFacts(vs: PolicyDocument<'VirtualService'>, index: WorkspaceIndex): string {
  const namespace = index.namespaceOf(vs);
  let cached = factsCache.get(vs);
  if (!cached || cached.namespace !== namespace) {
    const refs = delegateKeys(vs, index);
    const facts = isDelegate(vs) || refs.length > 0 ? JSON.stringify([`${namespace}/${vs.name}`, isDelegate(vs), obj(vs.value.spec).exportTo, refs]) : '';
    factsCache.set(vs, (cached = { namespace, facts }));
  }
  return cached.facts;
}

/** A VirtualService without hosts is a delegate. */
export function isDelegate(vs: PolicyDocument<'VirtualService'>): boolean {
  return arr(obj(vs.value.spec).hosts).length === 0;
}

/** `namespace/name` of every VirtualService a root's rules delegate to. */
function delegateKeys(vs: PolicyDocument<'VirtualService'>, index: WorkspaceIndex): string[] {
  return arr(obj(vs.value.spec).http).map((r) => obj(obj(r).delegate)).filter((d) => str(d.name))
    .map((d) => `${str(d.namespace) ?? index.namespaceOf(vs)}/${d.name}`);
}
