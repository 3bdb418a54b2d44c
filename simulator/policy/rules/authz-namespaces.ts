import type { DocumentRule } from './rule';
import { arr, obj } from '../plain';
import type { WorkspaceIndex } from '../workspace-index';

/**
 * AuthorizationPolicy `namespaces` and `notNamespaces` (exact, `prefix*`,
 * `*suffix` or `*`) must name a namespace that exists (IST0101): the
 * workspace's Namespace objects, the namespaces of the Mesh's services and
 * workloads, and the namespaces its documents are in.
 */
export const authzNamespaces: DocumentRule<'AuthorizationPolicy'> = {
  codes: ['unknown-namespace'],
  kinds: ['AuthorizationPolicy'],
  facts: (index) => JSON.stringify([...knownNamespaces(index)].sort()),
  check(ap, index, report) {
    const known = knownNamespaces(index);
    arr(obj(ap.value.spec).rules).forEach((rule, i) => {
      arr(obj(rule).from).forEach((from, j) => {
        const source = obj(obj(from).source);
        for (const field of ['namespaces', 'notNamespaces'] as const) {
          arr(source[field]).forEach((pattern, k) => {
            if (typeof pattern !== 'string' || [...known].some((ns) => namespaceMatches(pattern, ns))) return;
            report(ap, ['spec', 'rules', i, 'from', j, 'source', field, k], 'unknown-namespace',
              `referenced namespace not found (IST0101): "${pattern}" matches none of ${[...known].sort().map((n) => `"${n}"`).join(', ')}; this condition ${field === 'namespaces' ? 'never matches' : 'excludes nothing'}`);
          });
        }
      });
    });
  },
};

/** Istio's namespace patterns: exact, `*`, `prefix*` and `*suffix`. */
export function namespaceMatches(pattern: string, namespace: string): boolean {
  if (pattern === '*') return true;
  if (pattern.startsWith('*')) return namespace.endsWith(pattern.slice(1));
  if (pattern.endsWith('*')) return namespace.startsWith(pattern.slice(0, -1));
  return pattern.toLowerCase() === namespace.toLowerCase();
}

const cache = new WeakMap<WorkspaceIndex, Set<string>>();

function knownNamespaces(index: WorkspaceIndex): Set<string> {
  let known = cache.get(index);
  if (!known) {
    known = new Set([...index.cluster.namespaces, index.defaultNamespace, index.rootNamespace]);
    for (const w of index.mesh?.workloads ?? []) known.add(w.namespace);
    for (const s of index.mesh?.services ?? []) known.add(s.namespace);
    for (const doc of [...index.docs, ...index.references]) if (doc.namespace) known.add(doc.namespace);
    cache.set(index, known);
  }
  return known;
}
