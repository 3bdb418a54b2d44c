import { hostMatches } from '../hosts';
import type { Rule } from './rule';
import { arr, obj, str } from '../workspace-index';

/** VirtualServices bound to gateways must name existing Gateways whose servers serve their hosts (IST0101, IST0132). */
export const gateways: Rule = {
  codes: ['unknown-gateway', 'route-to-gateway-host'],
  check(index, report) {
    const byName = new Map(index.byKind.Gateway.map((g) => [`${index.namespaceOf(g)}/${g.name}`, g]));
    for (const vs of index.byKind.VirtualService) {
      const spec = obj(vs.value.spec);
      arr(spec.gateways).forEach((g, i) => {
        const name = str(g);
        if (!name || name === 'mesh') return;
        const key = name.includes('/') ? name : `${index.namespaceOf(vs)}/${name}`;
        const gw = byName.get(key);
        if (!gw) {
          const known = [...byName.keys()].map((k) => `"${k.split('/')[1]}"`).join(', ');
          report(vs, ['spec', 'gateways', i], 'unknown-gateway',
            `referenced gateway not found (IST0101): "${name}"${known ? `; defined gateways: ${known}` : '; define a Gateway resource or remove it'}`);
          return;
        }
        const served = arr(obj(gw.value.spec).servers).flatMap((s) => arr(obj(s).hosts)).map((h) => String(h).replace(/^[^/]*\//, ''));
        const hosts = arr(spec.hosts).map((h) => str(h)).filter((h): h is string => !!h);
        const missing = hosts.filter((h) => !served.some((p) => p === '*' || hostMatches(p.toLowerCase(), h.toLowerCase())));
        if (missing.length > 0) {
          report(vs, ['spec', 'gateways', i], 'route-to-gateway-host',
            `host ${missing.map((h) => `"${h}"`).join(', ')} defined in this VirtualService is not served by Gateway "${gw.name}" (it serves ${served.map((s) => `"${s}"`).join(', ')}) (IST0132)`);
        }
      });
    }
  },
};
