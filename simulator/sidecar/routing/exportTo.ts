/**
 * `exportTo` of VirtualServices and DestinationRules, as pilot reads it
 * (push_context.go initVirtualServices / setDestinationRules): no list or `*`
 * is public; `.` (or the resource's own namespace) keeps it to its namespace;
 * other names export it to those namespaces; `~` hides it from everyone.
 * Pure.
 */

export function visibleTo(exportTo: readonly string[] | undefined, ownNamespace: string, clientNamespace: string): boolean {
  if (!exportTo || exportTo.length === 0 || exportTo.includes('*')) return true;
  if (exportTo.includes('~')) return false;
  return exportTo.some((e) => (e === '.' ? ownNamespace : e) === clientNamespace);
}

/** Public (`*` or nothing): seen by every namespace. */
export function isPublic(exportTo: readonly string[] | undefined): boolean {
  return !exportTo || exportTo.length === 0 || exportTo.includes('*');
}

/** Seen only in its own namespace (`.` or the namespace's own name, alone). */
export function isPrivate(exportTo: readonly string[] | undefined, ownNamespace: string): boolean {
  return !!exportTo && exportTo.length === 1 && (exportTo[0] === '.' || exportTo[0] === ownNamespace);
}

/** Whether the host pattern `a` is more specific than `b` (host.MoreSpecific): a non-wildcard first, then the longer. */
export function moreSpecific(a: string, b: string): boolean {
  const aw = a.startsWith('*');
  const bw = b.startsWith('*');
  if (aw !== bw) return !aw;
  return a.length > b.length;
}
