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
        report(doc, ['spec', 'host'], 'unknown-host', `this DestinationRule applies to nothing: ${hint(mesh, host)}`, { severity: 'warning', data: { host } });
      }
      return;
    }
    const vs = doc as PolicyDocument<'VirtualService'>;
    for (const d of destinationsOf(vs)) {
      if (!index.service(d.host, vs)) {
        report(vs, [...d.path, 'host'], 'unknown-host', `referenced host not found (IST0101): ${hint(mesh, d.host)}`, { data: { host: d.host } });
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
          report(vs, ['spec', 'hosts', i], 'unknown-host', `these routes never apply: ${hint(mesh, host)}`, { severity: 'warning', data: { host } });
        }
      });
    }
  },
};

function hint(mesh: MeshView, host: string): string {
  const dotted = host.split('.');
  // `reviews.default` is a DNS name for callers, but Istio takes policy hosts literally.
  if (dotted.length === 2 && mesh.services.some((s) => s.name === dotted[0] && s.namespace === dotted[1])) {
    return `Istio reads "${host}" literally and finds no such host: write "${dotted[0]}" or "${dotted[0]}.${dotted[1]}.svc.cluster.local"`;
  }
  return `"${host}" is not a service of the Mesh: use one of ${mesh.services.map((s) => s.name).join(', ')}, or add it to ${mesh.doc.file}`;
}
