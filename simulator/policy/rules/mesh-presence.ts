import type { WorkspaceRule } from './rule';

/** One Mesh per workspace; without one, references to services cannot be checked. */
export const meshPresence: WorkspaceRule = {
  codes: ['multiple-meshes', 'no-mesh'],
  check(index, report) {
    const meshes = index.byKind.Mesh;
    meshes.slice(1).forEach((m) => {
      report(m, ['kind'], 'multiple-meshes', `a second Mesh ("${m.name}"); the workspace already has "${meshes[0].name}" in ${meshes[0].file}: keep one Mesh per folder tree`);
    });
    if (meshes.length === 0) {
      const first = index.docs[0];
      if (first) report(first, ['kind'], 'no-mesh', 'no Mesh file found in the workspace: hosts, subsets and principals are not checked against services (add a mesh.yaml with kind: Mesh)');
    }
  },
};
