/**
 * Which VirtualService a sidecar applies to a service host, as pilot picks
 * it (istio/istio pilot/pkg/model/virtualservice.go SelectVirtualServices,
 * fed by push_context.go initVirtualServices): the VirtualServices a proxy
 * in namespace N sees are, in this order, the ones private to N (exportTo
 * `.` in N), the ones other namespaces export to N by name, then the public
 * ones (no exportTo, or `*`), each group oldest first (creationTimestamp,
 * then name: the caller passes them sorted, gateway-api/age.ts byCreation).
 * For one host the first of them whose hosts name it exactly applies; else
 * the one with the most specific wildcard host that covers it (pilot's
 * mostSpecificWildcardVsIndex). Pure.
 */
import { hostMatches } from '../../policy/hosts';
import { isPublic, moreSpecific, visibleTo } from './exportTo';

export interface ScopedVirtualService {
  namespace: string;
  /** Qualified hosts (FQDN or wildcard). */
  hosts: string[];
  exportTo?: string[];
}

/** The VirtualServices a proxy in `clientNamespace` sees, in pilot's order. */
export function visibleVirtualServices<V extends ScopedVirtualService>(all: readonly V[], clientNamespace: string): V[] {
  const seen = all.filter((vs) => visibleTo(vs.exportTo, vs.namespace, clientNamespace));
  const privateHere = seen.filter((vs) => !isPublic(vs.exportTo) && vs.namespace === clientNamespace && vs.exportTo!.some((e) => e === '.' || e === clientNamespace));
  const exportedHere = seen.filter((vs) => !isPublic(vs.exportTo) && !privateHere.includes(vs));
  const publicOnes = seen.filter((vs) => isPublic(vs.exportTo));
  return [...privateHere, ...exportedHere, ...publicOnes];
}

/** The VirtualService (of an ordered visible list) that routes one service host. */
export function virtualServiceFor<V extends ScopedVirtualService>(visible: readonly V[], fqdn: string): V | undefined {
  const exact = visible.find((vs) => vs.hosts.includes(fqdn));
  if (exact) return exact;
  let best: { vs: V; host: string } | undefined;
  for (const vs of visible) {
    for (const h of vs.hosts) {
      if (!h.startsWith('*') || !hostMatches(h, fqdn)) continue;
      if (!best || moreSpecific(h, best.host)) best = { vs, host: h };
    }
  }
  return best?.vs;
}
