import { kindName } from '../kinds';
import type { PolicyDocument } from '../source';
import type { WorkspaceRule } from './rule';

/** kubectl apply would overwrite one resource with the other: same kind, namespace and name. */
export const duplicateResources: WorkspaceRule = {
  codes: ['duplicate-name'],
  check(index, report) {
    const seen = new Map<string, string>();
    for (const doc of index.docs) {
      if (doc.kind === 'Mesh' || !doc.name) continue;
      const key = resourceKey(doc, index.namespaceOf(doc));
      const first = seen.get(key);
      if (first) {
        report(doc, ['metadata', 'name'], 'duplicate-name', `${kindName(doc.kind)} "${doc.name}" is already defined in ${first}; on a cluster one would replace the other: rename one`);
      } else {
        seen.set(key, doc.file);
      }
    }
  },
};

// Built once per document and namespace rather than on every change.
const keys = new WeakMap<PolicyDocument, { namespace: string; key: string }>();

function resourceKey(doc: PolicyDocument, namespace: string): string {
  let cached = keys.get(doc);
  if (!cached || cached.namespace !== namespace) keys.set(doc, (cached = { namespace, key: `${doc.kind}/${namespace}/${doc.name}` }));
  return cached.key;
}
