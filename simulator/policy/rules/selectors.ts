import { DEFAULT_INGRESS_GATEWAY, selects } from '../gateway-workloads';
import type { DocumentRule } from './rule';
import { obj, strings } from '../access';

/**
 * A policy that applies to no workload is dead (IST0127): a selector that
 * matches none — in the policy's namespace, or anywhere for an
 * AuthorizationPolicy in the root namespace — or an AuthorizationPolicy for a
 * whole namespace that has no workloads. A PeerAuthentication with a selector
 * in the root namespace is ignored by Istio (ComposePeerAuthentication),
 * which says so (IST0167). Istio's ingress gateway (devmesh's ingress,
 * `istio: ingressgateway` in istio-system) is a workload too.
 */
export const selectors: DocumentRule<'PeerAuthentication' | 'AuthorizationPolicy' | 'RequestAuthentication'> = {
  codes: ['no-matching-workloads', 'ineffective-policy'],
  kinds: ['PeerAuthentication', 'AuthorizationPolicy', 'RequestAuthentication'],
  facts: (index) => index.meshFacts,
  check(doc, index, report) {
    const mesh = index.mesh;
    if (!mesh) return;
    const spec = obj(doc.value.spec);
    const ns = index.namespaceOf(doc);
    const meshWide = ns === index.rootNamespace;
    if (spec.selector === undefined) {
      if (doc.kind === 'AuthorizationPolicy' && !meshWide && !mesh.workloads.some((w) => w.namespace === ns) && ns !== DEFAULT_INGRESS_GATEWAY.namespace) {
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
    if (index.policyWorkloads(doc).length > 0) return;
    const ingress = DEFAULT_INGRESS_GATEWAY;
    if ((meshWide || ns === ingress.namespace) && selects(labels, ingress.labels)) return;
    const shown = Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(',');
    const where = meshWide ? `anywhere in the mesh (it is in the root namespace "${ns}")` : `in namespace "${ns}"`;
    report(doc, ['spec', 'selector', 'matchLabels'], 'no-matching-workloads',
      `no matching workloads for this resource with the following labels: ${shown} ${where}; fix the labels or the Mesh workloads (IST0127)`,
      { part: 'key' });
  },
};
