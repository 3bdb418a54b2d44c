import { compareAge } from '../gateway-api/age';
import { hostMatches } from '../hosts';
import type { PolicyDocument } from '../source';
import { gatewaysOf } from './destinations';
import type { WorkspaceRule } from './rule';
import { arr, obj, str } from '../workspace-index';

/**
 * A service host routed for the sidecars by a VirtualService and by Gateway
 * API routes attached to its Service. Istio converts each HTTPRoute into a
 * VirtualService and a sidecar keeps one VirtualService per host: the
 * Gateway API routes for callers in their own namespace (pilot's "consumer
 * override" ordering), and for every other caller whichever was created
 * first (then by namespace and name). devmesh does the same; both documents
 * are told, since the split by caller is rarely what anyone wants.
 */
export const routedByBothApis: WorkspaceRule = {
  codes: ['routed-by-both-apis'],
  check(index, report) {
    const virtualServices = index.byKind.VirtualService.filter((vs) => gatewaysOf(vs).includes('mesh'));
    if (virtualServices.length === 0) return;
    for (const [doc, status] of index.gatewayApi.routes) {
      status.parents.forEach((p) => {
        if (!p.accepted || !p.service) return;
        const fqdn = p.service.fqdn;
        for (const vs of virtualServices) {
          const hosts = arr(obj(vs.value.spec).hosts);
          const i = hosts.findIndex((h) => typeof h === 'string' && hostMatches(index.fqdn(h, vs), fqdn));
          if (i < 0) continue;
          const route = `${doc.kind} ${status.namespace}/${status.name}`;
          const virtual = `VirtualService ${index.namespaceOf(vs)}/${vs.name}`;
          const vsFirst = compareAge(age(vs, index), { created: str(obj(doc.value.metadata).creationTimestamp), namespace: status.namespace, name: status.name }) < 0;
          const elsewhere = vsFirst ? virtual : route;
          const why = `Istio keeps one per host at a sidecar: the ${doc.kind} for callers in namespace ${status.namespace}, ${elsewhere} for every other caller (the older one, by creationTimestamp then namespace/name). Route ${p.service.name}.${p.service.namespace} with one API`;
          report(doc, ['spec', 'parentRefs', p.index, 'name'], 'routed-by-both-apis', `${virtual} also routes ${fqdn}; ${why}`);
          report(vs, ['spec', 'hosts', i], 'routed-by-both-apis', `${route} also routes ${fqdn}; ${why}`);
        }
      });
    }
  },
};

function age(doc: PolicyDocument, index: { namespaceOf(d: PolicyDocument): string }) {
  return { created: str(obj(doc.value.metadata).creationTimestamp), namespace: index.namespaceOf(doc), name: doc.name };
}
