import type { DocumentRule } from './rule';
import { obj } from '../workspace-index';

/** A workload selector that matches no workload makes the policy dead (IST0127). */
export const selectors: DocumentRule<'PeerAuthentication' | 'AuthorizationPolicy'> = {
  codes: ['no-matching-workloads'],
  kinds: ['PeerAuthentication', 'AuthorizationPolicy'],
  facts: (index) => index.meshFacts,
  check(doc, index, report) {
    if (!index.mesh) return;
    const labels = obj(obj(obj(doc.value.spec).selector).matchLabels);
    if (Object.keys(labels).length === 0) return;
    const ns = index.namespaceOf(doc);
    if (index.workloadsMatching(labels, ns).length > 0) return;
    const shown = Object.entries(labels).map(([k, v]) => `${k}=${String(v)}`).join(',');
    report(doc, ['spec', 'selector', 'matchLabels'], 'no-matching-workloads',
      `no matching workloads for this resource with the following labels: ${shown} in namespace "${ns}"; fix the labels or the Mesh workloads (IST0127)`,
      { part: 'key' });
  },
};
