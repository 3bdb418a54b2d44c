import { hostMatches } from '../hosts';
import type { PolicyDocument } from '../source';
import type { DocumentRule } from './rule';
import { arr, obj, str, type WorkspaceIndex } from '../workspace-index';

/** VirtualServices bound to gateways must name existing Gateways whose servers serve their hosts (IST0101, IST0132). */
export const gateways: DocumentRule<'VirtualService'> = {
  codes: ['unknown-gateway', 'route-to-gateway-host'],
  kinds: ['VirtualService'],
  facts: (index) => index.gatewayFacts,
  // Per gateway named: the hosts it serves, or, when it does not exist, the list of those that do.
  factsOf(vs, index) {
    let facts = index.namespaceOf(vs);
    for (const key of gatewayKeys(vs, index)) {
      const gw = index.gateways.get(key);
      facts += gw ? `\n${key} ${gw.doc.name} ${JSON.stringify(gw.served)}` : `\n${key} missing ${[...index.gateways.keys()].join(',')}`;
    }
    return facts;
  },
  check(vs, index, report) {
    const spec = obj(vs.value.spec);
    arr(spec.gateways).forEach((g, i) => {
      const name = str(g);
      if (!name || name === 'mesh') return;
      const gw = index.gateways.get(gatewayKey(name, vs, index));
      if (!gw) {
        const known = [...index.gateways.keys()].map((k) => `"${k.split('/')[1]}"`).join(', ');
        report(vs, ['spec', 'gateways', i], 'unknown-gateway',
          `referenced gateway not found (IST0101): "${name}"${known ? `; defined gateways: ${known}` : '; define a Gateway resource or remove it'}`);
        return;
      }
      const served = gw.served;
      const hosts = arr(spec.hosts).map((h) => str(h)).filter((h): h is string => !!h);
      const missing = hosts.filter((h) => !served.some((p) => p === '*' || hostMatches(p.toLowerCase(), h.toLowerCase())));
      if (missing.length > 0) {
        report(vs, ['spec', 'gateways', i], 'route-to-gateway-host',
          `host ${missing.map((h) => `"${h}"`).join(', ')} defined in this VirtualService is not served by Gateway "${gw.doc.name}" (it serves ${served.map((s) => `"${s}"`).join(', ')}) (IST0132)`);
      }
    });
  },
};

/** `namespace/name` of a gateway as a VirtualService names it. */
function gatewayKey(name: string, vs: PolicyDocument, index: WorkspaceIndex): string {
  return name.includes('/') ? name : `${index.namespaceOf(vs)}/${name}`;
}

function gatewayKeys(vs: PolicyDocument<'VirtualService'>, index: WorkspaceIndex): string[] {
  return arr(obj(vs.value.spec).gateways).filter((g): g is string => typeof g === 'string' && g !== '' && g !== 'mesh').map((g) => gatewayKey(g, vs, index));
}
