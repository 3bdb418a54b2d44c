import type { DocumentRule } from './rule';
import { obj } from '../workspace-index';

/**
 * A workload selector that matches no workload (nor the ingress gateway)
 * makes the policy dead (IST0127). An AuthorizationPolicy or
 * RequestAuthentication in the root namespace selects workloads in every
 * namespace; a PeerAuthentication there with a selector is ignored by Istio
 * (ComposePeerAuthentication), which says so (IST0167).
 */
export const selectors: DocumentRule<'PeerAuthentication' | 'AuthorizationPolicy' | 'RequestAuthentication'> = {
  codes: ['no-matching-workloads', 'ineffective-policy'],
  kinds: ['PeerAuthentication', 'AuthorizationPolicy', 'RequestAuthentication'],
  facts: (index) => index.meshFacts,
  check(doc, index, report) {
    if (!index.mesh) return;
    const labels = obj(obj(obj(doc.value.spec).selector).matchLabels);
    if (Object.keys(labels).length === 0) return;
    const ns = index.namespaceOf(doc);
    if (doc.kind === 'PeerAuthentication' && ns === index.rootNamespace) {
      report(doc, ['spec', 'selector'], 'ineffective-policy',
        `a PeerAuthentication with a selector in the root namespace "${ns}" applies to no workload: put it in the namespace of the workloads it selects, or drop the selector to make it mesh-wide (IST0167)`, { part: 'key' });
      return;
    }
    if (index.policyWorkloads(doc).length > 0) return;
    if (index.selectsIngressGateway(doc)) return;
    const shown = Object.entries(labels).map(([k, v]) => `${k}=${String(v)}`).join(',');
    const where = ns === index.rootNamespace ? 'in any namespace (the root namespace selects across all)' : `in namespace "${ns}"`;
    report(doc, ['spec', 'selector', 'matchLabels'], 'no-matching-workloads',
      `no matching workloads for this resource with the following labels: ${shown} ${where}; fix the labels or the Mesh workloads (IST0127)`,
      { part: 'key' });
  },
};
