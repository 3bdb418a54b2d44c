import { hostMatches } from '../hosts';
import type { PolicyDocument } from '../source';
import type { DocumentRule } from './rule';
import { destinationsOf, gatewaysOf } from './destinations';
import { arr, obj, str, type MeshView } from '../workspace-index';

/** Destinations and DestinationRules must name a service of the Mesh (IST0101). */
export const unknownHost: DocumentRule<'VirtualService' | 'DestinationRule'> = {
  codes: ['unknown-host'],
  kinds: ['VirtualService', 'DestinationRule'],
  // Every host is looked up among the Mesh's services, and the hint lists them all.
  facts: (index) => index.meshFacts,
  check(doc, index, report) {
    const mesh = index.mesh;
    if (!mesh) return;
    if (doc.kind === 'DestinationRule') {
      const host = str(obj(doc.value.spec).host);
      if (host && !host.includes('*') && !index.service(host, doc)) {
        report(doc, ['spec', 'host'], 'unknown-host', `this DestinationRule applies to nothing: ${hint(mesh, host, index.namespaceOf(doc))}`, { severity: 'warning', data: { host } });
      }
      return;
    }
    const vs = doc as PolicyDocument<'VirtualService'>;
    for (const d of destinationsOf(vs)) {
      if (!index.service(d.host, vs)) {
        report(vs, [...d.path, 'host'], 'unknown-host', `referenced host not found (IST0101): ${hint(mesh, d.host, index.namespaceOf(vs))}`, { data: { host: d.host } });
      }
    }
    // Hosts of sidecar-bound VirtualServices must be mesh services, or the routes never apply.
    if (gatewaysOf(vs).includes('mesh')) {
      arr(obj(vs.value.spec).hosts).forEach((h, i) => {
        const host = str(h);
        if (!host) return;
        const fqdn = index.fqdn(host, vs);
        const matches = mesh.services.some((s) => hostMatches(fqdn, s.fqdn));
        if (!matches) {
          report(vs, ['spec', 'hosts', i], 'unknown-host', `these routes never apply: ${hint(mesh, host, index.namespaceOf(vs))}`, { severity: 'warning', data: { host } });
        }
      });
    }
  },
};

/** How to name a service from a policy in `namespace`: short in its own namespace, else the FQDN. */
function policyName(s: { name: string; namespace: string; fqdn: string }, namespace: string): string {
  return s.namespace === namespace ? s.name : s.fqdn;
}

function hint(mesh: MeshView, host: string, namespace: string): string {
  const dotted = host.split('.');
  // `reviews.default` is a DNS name for callers, but Istio takes policy hosts literally.
  const meant = (dotted.length === 2 || (dotted.length === 3 && dotted[2] === 'svc')) && mesh.services.find((s) => s.name === dotted[0] && s.namespace === dotted[1]);
  if (meant) {
    return `Istio reads "${host}" literally and finds no such host: write "${policyName(meant, namespace)}"${meant.namespace === namespace ? ` or "${meant.fqdn}"` : ''}`;
  }
  const elsewhere = dotted.length === 1 && mesh.services.filter((s) => s.name === host && s.namespace !== namespace);
  if (elsewhere && elsewhere.length) {
    return `a short host names a service of this resource's namespace "${namespace}", which has no "${host}": write ${elsewhere.map((s) => `"${s.fqdn}"`).join(' or ')}`;
  }
  return `"${host}" is not a service of the Mesh: use one of ${mesh.services.map((s) => policyName(s, namespace)).join(', ')}, or add it to ${mesh.doc.file}`;
}
