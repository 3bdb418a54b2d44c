import { hostMatches } from '../hosts';
import type { Rule } from './rule';
import { destinationsOf, gatewaysOf } from './destinations';
import { arr, obj, str } from '../workspace-index';

/** Destinations and DestinationRules must name a service of the Mesh (IST0101). */
export const unknownHost: Rule = {
  codes: ['unknown-host'],
  check(index, report) {
    const mesh = index.mesh;
    if (!mesh) return;
    const known = mesh.services.map((s) => s.name).join(', ');
    const hint = (host: string) => {
      const dotted = host.split('.');
      // `reviews.default` is a DNS name for callers, but Istio takes policy hosts literally.
      if (dotted.length === 2 && mesh.services.some((s) => s.name === dotted[0] && s.namespace === dotted[1])) {
        return `Istio reads "${host}" literally and finds no such host: write "${dotted[0]}" or "${dotted[0]}.${dotted[1]}.svc.cluster.local"`;
      }
      return `"${host}" is not a service of the Mesh: use one of ${known}, or add it to ${mesh.doc.file}`;
    };

    for (const vs of index.byKind.VirtualService) {
      for (const d of destinationsOf(vs)) {
        if (!index.service(d.host, vs)) {
          report(vs, [...d.path, 'host'], 'unknown-host', `referenced host not found (IST0101): ${hint(d.host)}`, { data: { host: d.host } });
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
            report(vs, ['spec', 'hosts', i], 'unknown-host', `these routes never apply: ${hint(host)}`, { severity: 'warning', data: { host } });
          }
        });
      }
    }
    for (const dr of index.byKind.DestinationRule) {
      const host = str(obj(dr.value.spec).host);
      if (host && !host.includes('*') && !index.service(host, dr)) {
        report(dr, ['spec', 'host'], 'unknown-host', `this DestinationRule applies to nothing: ${hint(host)}`, { severity: 'warning', data: { host } });
      }
    }
  },
};
