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

export function compareAge(a: ResourceAge, b: ResourceAge): number {
  // No creationTimestamp (or one that is no date) is Go's zero time in pilot's conversion (sortRoutesByCreationTime): older than any.
  const time = (r: ResourceAge) => {
    const t = r.created ? Date.parse(r.created) : NaN;
    return Number.isFinite(t) ? t : -Infinity;
  };
  const ta = time(a);
  const tb = time(b);
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
    const at = a.created ? Math.floor(Date.parse(a.created) / 1000) : NaN;
    return { item, a, at: Number.isFinite(at) ? at : undefined };
  });
  keyed.sort((x, y) => {
    if (x.at === undefined || y.at === undefined) return (x.at === undefined ? 0 : 1) - (y.at === undefined ? 0 : 1);
    if (x.at !== y.at) return x.at - y.at;
    if (x.a.name !== y.a.name) return x.a.name < y.a.name ? -1 : 1;
    return x.a.namespace === y.a.namespace ? 0 : x.a.namespace < y.a.namespace ? -1 : 1;
  });
  return keyed.map((k) => k.item);
}
