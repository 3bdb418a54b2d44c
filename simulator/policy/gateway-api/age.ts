/**
 * The order Istio (and the Gateway API) give resources of equal standing:
 * the oldest by metadata.creationTimestamp first, then by namespace, then
 * by name (pilot's Gateway API conversion, sortConfigByCreationTime /
 * sortRoutesByCreationTime). Files have no creation time unless they write
 * one; a resource without one has pilot's zero time, older than any that
 * has one, and those without one fall to the names.
 * Pure.
 */

export interface ResourceAge {
  /** metadata.creationTimestamp, when the document has one. */
  created?: string;
  namespace: string;
  name: string;
}

/**
 * A creationTimestamp in whole seconds, as Kubernetes stores metadata
 * times (metav1.Time serializes RFC 3339 without a fraction, so pilot never
 * sees one): `...T00:00:00.900Z` and `...T00:00:00Z` tie. Undefined
 * without one, or for one that is no date. Both orders below read it.
 */
export function creationSeconds(created: string | undefined): number | undefined {
  const at = created ? Math.floor(Date.parse(created) / 1000) : NaN;
  return Number.isFinite(at) ? at : undefined;
}

export function compareAge(a: ResourceAge, b: ResourceAge): number {
  // No creationTimestamp (or one that is no date) is Go's zero time in pilot's conversion (sortRoutesByCreationTime): older than any.
  const ta = creationSeconds(a.created) ?? -Infinity;
  const tb = creationSeconds(b.created) ?? -Infinity;
  if (ta !== tb) return ta < tb ? -1 : 1;
  if (a.namespace !== b.namespace) return a.namespace < b.namespace ? -1 : 1;
  if (a.name !== b.name) return a.name < b.name ? -1 : 1;
  return 0;
}

/**
 * The order pilot keeps Istio's own resources of one kind in (model/config.go
 * configCompareByCreationTime: VirtualServices through
 * sortMergedVirtualServicesByCreationTime, Gateways through initGateways):
 * the oldest creationTimestamp first, then by name, then by namespace —
 * name before namespace, unlike the Gateway API conversion's compareAge.
 * A resource whose file gives no creationTimestamp (or one that is no
 * date) has pilot's zero time: older than any that gives one. Those keep
 * the order they are written in, where a cluster would have stamped them
 * as they were applied. Stable; pure.
 */
export function byCreation<T>(items: readonly T[], ageOf: (item: T) => ResourceAge): T[] {
  const keyed = items.map((item) => {
    const a = ageOf(item);
    // Kubernetes stamps whole seconds: two resources of one second tie and fall to their names.
    return { item, a, at: creationSeconds(a.created) };
  });
  keyed.sort((x, y) => {
    if (x.at === undefined || y.at === undefined) return (x.at === undefined ? 0 : 1) - (y.at === undefined ? 0 : 1);
    if (x.at !== y.at) return x.at - y.at;
    if (x.a.name !== y.a.name) return x.a.name < y.a.name ? -1 : 1;
    return x.a.namespace === y.a.namespace ? 0 : x.a.namespace < y.a.namespace ? -1 : 1;
  });
  return keyed.map((k) => k.item);
}
