import { hostMatches } from '../hosts';
import type { PolicyDocument } from '../source';
import { arr, obj } from '../plain';
import type { WorkspaceIndex } from '../workspace-index';
import { gatewaysOf } from './destinations';
import { gatewayServers } from './gateway-servers';
import type { WorkspaceRule } from './rule';

/**
 * At a gateway, a VirtualService's wildcard host (`*.example.com`) no
 * longer reaches a name another VirtualService bound to the same Gateway
 * names exactly (`a.example.com`): pilot builds one virtual host per name
 * (gateway.go buildGatewayHTTPRouteConfig, the server/VirtualService host
 * intersection) and Envoy serves a Host from the most specific one alone,
 * so the wildcard one's rules — its catch-all too — are never tried for
 * it; a request there that the exact one's rules do not match is 404 NR.
 * Unless a server of the Gateway names the host itself (then the wildcard
 * VirtualService shares that virtual host). Neither istioctl analyze nor
 * pilot says so: a devmesh warning.
 */
export const gatewayHostShadowed: WorkspaceRule = {
  codes: ['gateway-host-shadowed'],
  reads: ['VirtualService', 'Gateway', 'Mesh'],
  check(index, report) {
    const bound = index.byKind.VirtualService.flatMap((vs) => {
      const gateways = gatewaysOf(vs).filter((g) => g !== 'mesh').map((g) => (g.includes('/') ? g : `${index.namespaceOf(vs)}/${g}`));
      if (gateways.length === 0 || arr(obj(vs.value.spec).http).length === 0) return [];
      const hosts = arr(obj(vs.value.spec).hosts).map((h) => (typeof h === 'string' ? index.fqdn(h, vs).toLowerCase() : undefined));
      return [{ vs, gateways, hosts }];
    });
    const servers = gatewayServers(index).all;
    const bare = (h: string) => (h.includes('/') ? h.slice(h.indexOf('/') + 1) : h).toLowerCase();
    for (const w of bound) {
      w.hosts.forEach((wild, i) => {
        if (!wild?.startsWith('*')) return;
        const lost: { host: string; by: PolicyDocument; gateway: string }[] = [];
        for (const e of bound) {
          if (e === w) continue;
          for (const gateway of e.gateways.filter((g) => w.gateways.includes(g))) {
            const serverHosts = servers.filter((s) => s.key === gateway).flatMap((s) => s.hosts.map(bare));
            for (const host of e.hosts) {
              if (!host || host.includes('*') || !hostMatches(wild, host) || w.hosts.includes(host)) continue;
              // The exact name is a virtual host only where a server covers it; one the server names itself joins the wildcard VirtualService too.
              if (!serverHosts.some((s) => hostMatches(s, host)) || serverHosts.includes(host)) continue;
              if (!lost.some((l) => l.host === host)) lost.push({ host, by: e.vs, gateway });
            }
          }
        }
        if (lost.length === 0) return;
        const names = lost.map((l) => `"${l.host}" (VirtualService ${index.namespaceOf(l.by)}/${l.by.name}, Gateway ${l.gateway})`).join(', ');
        report(w.vs, ['spec', 'hosts', i], 'gateway-host-shadowed',
          `at the gateway, ${names} ${lost.length === 1 ? 'is a virtual host' : 'are virtual hosts'} of ${lost.length === 1 ? 'its' : 'their'} own: Envoy serves such a Host from the most specific virtual host only, so this VirtualService's rules (its catch-all too) are never tried there, and a request the other VirtualService does not match is 404 NR; add ${lost.map((l) => `"${l.host}"`).join(', ')} to this VirtualService's hosts to keep its rules there (routes of the older VirtualService first, catch-alls last), or move them into the other one`);
      });
    }
  },
};
