/**
 * Which security policies a proxy takes, as pilot attaches AuthorizationPolicy
 * and RequestAuthentication to a sidecar (pilot/pkg/model/policyattachment.go
 * ShouldAttachPolicy): a policy of the proxy's own namespace or of the root
 * namespace whose selector matches the proxy's labels (or that has none) — so
 * a root-namespace policy's selector picks proxies in every namespace. One
 * attached by targetRef(s) is for a Gateway API gateway or a waypoint, not
 * simulated: it selects no proxy here. Pure.
 */
import type { WorkloadSelector } from '../../policy/model';
import { ROOT_NAMESPACE } from './peerAuthentication';

/** The proxy a policy may apply to: its namespace and labels. */
export interface PolicyTarget {
  namespace: string;
  labels: Record<string, string>;
}

export interface SelectingPolicy {
  metadata: { namespace?: string };
  spec: { selector?: WorkloadSelector; targetRef?: unknown; targetRefs?: unknown[] };
}

export function selects(p: SelectingPolicy, target: PolicyTarget, defaultNamespace: string, rootNamespace = ROOT_NAMESPACE): boolean {
  const ns = p.metadata.namespace ?? defaultNamespace;
  if (ns !== target.namespace && ns !== rootNamespace) return false;
  if (p.spec.targetRef || (p.spec.targetRefs && p.spec.targetRefs.length > 0)) return false;
  return Object.entries(p.spec.selector?.matchLabels ?? {}).every(([k, v]) => target.labels[k] === v);
}
