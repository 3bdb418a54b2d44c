import { clusterWorkloads, selects } from '../cluster-workloads';
import type { DocumentRule } from './rule';
import { obj, strings } from '../plain';

/**
 * A policy that applies to no workload is dead (IST0127): a selector that
 * matches none — in the policy's namespace, or anywhere for an
 * AuthorizationPolicy in the root namespace — or an AuthorizationPolicy for a
 * whole namespace that has no workloads. A PeerAuthentication with a selector
 * in the root namespace is ignored by Istio (ComposePeerAuthentication),
 * which says so (IST0167). The workloads are the Mesh's, the pods of the
 * Kubernetes manifests beside the policies, and Istio's ingress gateway
 * (devmesh's ingress, `istio: ingressgateway` in istio-system).
 */
export const selectors: DocumentRule<'PeerAuthentication' | 'AuthorizationPolicy' | 'RequestAuthentication'> = {
  codes: ['no-matching-workloads', 'ineffective-policy'],
  kinds: ['PeerAuthentication', 'AuthorizationPolicy', 'RequestAuthentication'],
  facts: (index) => `${clusterWorkloads(index).facts}\n${index.rootNamespace}`,
  check(doc, index, report) {
    if (!index.mesh) return;
    const spec = obj(doc.value.spec);
    const ns = index.namespaceOf(doc);
    const meshWide = ns === index.rootNamespace;
    const workloads = clusterWorkloads(index).all;
    if (spec.selector === undefined) {
      if (doc.kind === 'AuthorizationPolicy' && !meshWide && !workloads.some((w) => w.namespace === ns)) {
        report(doc, ['metadata', 'name'], 'no-matching-workloads',
          `this AuthorizationPolicy applies to every workload of namespace "${ns}", and it has none (IST0127): move it to the namespace of the workloads it is for, or add them to the Mesh`);
      }
      return;
    }
    const labels = strings(obj(spec.selector).matchLabels);
    if (Object.keys(labels).length === 0) return;
    if (doc.kind === 'PeerAuthentication' && meshWide) {
      report(doc, ['spec', 'selector'], 'ineffective-policy',
        `a PeerAuthentication with a selector in the root namespace "${ns}" applies to no workload: put it in the namespace of the workloads it selects, or drop the selector to make it mesh-wide (IST0167)`, { part: 'key' });
      return;
    }
    if (workloads.some((w) => (meshWide || w.namespace === ns) && selects(labels, w.labels))) return;
    const shown = Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(',');
    const where = meshWide ? `anywhere in the mesh (it is in the root namespace "${ns}")` : `in namespace "${ns}"`;
    report(doc, ['spec', 'selector', 'matchLabels'], 'no-matching-workloads',
      `no matching workloads for this resource with the following labels: ${shown} ${where}; fix the labels or the Mesh workloads (IST0127)`,
      { part: 'key' });
  },
};
