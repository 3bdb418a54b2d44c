import type { WorkspaceRule } from './rule';

/** kubectl apply would overwrite one resource with the other: same kind, namespace and name. */
export const duplicateResources: WorkspaceRule = {
  codes: ['duplicate-name'],
  check(index, report) {
    const seen = new Map<string, string>();
    for (const doc of index.docs) {
      if (doc.kind === 'Mesh' || !doc.name) continue;
      const key = `${doc.kind}/${index.namespaceOf(doc)}/${doc.name}`;
      const first = seen.get(key);
      if (first) {
        report(doc, ['metadata', 'name'], 'duplicate-name', `${doc.kind} "${doc.name}" is already defined in ${first}; on a cluster one would replace the other: rename one`);
      } else {
        seen.set(key, doc.file);
      }
    }
  },
};
