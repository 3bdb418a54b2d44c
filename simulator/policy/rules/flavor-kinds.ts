import type { WorkspaceRule } from './rule';
import { flavorProfile } from '../flavors';
import { str } from '../workspace-index';

/**
 * A document whose kind the Mesh's flavor does not apply (policy/flavors:
 * each profile lists its kinds) is an error, with the profile's own
 * message: the snapshot leaves such documents out, so without this finding
 * they would be ignored in silence. Istio applies every kind devmesh models.
 */
export const flavorKinds: WorkspaceRule = {
  codes: ['kind-not-in-flavor'],
  check(index, report) {
    const mesh = index.byKind.Mesh[0];
    if (!mesh) return;
    const flavor = flavorProfile(str(mesh.value.spec?.flavor));
    for (const doc of index.docs) {
      if (doc.kind !== 'Mesh' && !flavor.kinds.applies.has(doc.kind)) report(doc, ['kind'], 'kind-not-in-flavor', flavor.kinds.refusal(doc.kind));
    }
  },
};
