/**
 * The order Istio (and the Gateway API) give resources of equal standing:
 * the oldest by metadata.creationTimestamp first, then by namespace, then
 * by name (pilot sortConfigByCreationTime). Files have no creation time
 * unless they write one; resources without one tie and fall to the names.
 * Pure.
 */

export interface ResourceAge {
  /** metadata.creationTimestamp, when the document has one. */
  created?: string;
  namespace: string;
  name: string;
}

export function compareAge(a: ResourceAge, b: ResourceAge): number {
  if (a.created && b.created && a.created !== b.created) {
    const ta = Date.parse(a.created);
    const tb = Date.parse(b.created);
    if (Number.isFinite(ta) && Number.isFinite(tb) && ta !== tb) return ta - tb;
  }
  if (a.namespace !== b.namespace) return a.namespace < b.namespace ? -1 : 1;
  if (a.name !== b.name) return a.name < b.name ? -1 : 1;
  return 0;
}
