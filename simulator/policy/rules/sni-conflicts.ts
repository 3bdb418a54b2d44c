import type { PolicyDocument } from '../source';
import { byCreation } from '../gateway-api/age';
import { hostsOverlap } from '../hosts';
import { isTlsPassthrough, terminatedProtocol } from '../gateway-tls';
import { arr, obj, str } from '../plain';
import type { WorkspaceIndex } from '../workspace-index';
import { gatewayServers, type GatewayServer } from './gateway-servers';
import type { Report, WorkspaceRule } from './rule';

/**
 * One server name claimed twice on one gateway port, where Istio keeps one
 * claim or Envoy refuses the port. istioctl analyze has no code for these
 * (IST0145 ConflictingGateways compares hosts across Gateways, reported
 * there as conflicting-gateways); they are what istiod logs or Envoy
 * rejects:
 *
 * - two servers with `tls` of one Gateway on one port (and bind) name a
 *   host: istiod skips the later server whole (MergeGateways: "skipping
 *   server on gateway ..., duplicate host names");
 * - a tls[] match's sniHosts entry that an earlier match on the same gateway
 *   port claims: istiod skips this match (buildGatewayNetworkFiltersFromTLSRoutes:
 *   "skipping VirtualService ... duplicate SNI host names"), the earlier one
 *   takes the connections;
 * - a tls[] sniHosts entry equal to a host of a server on that port that
 *   terminates TLS (HTTPS, or TLS SIMPLE/MUTUAL): two filter chains with
 *   the same server_names, which Envoy rejects with the whole listener (the
 *   port keeps its last accepted config, or never serves).
 *
 * Gateways on one port are grouped by selector, as the gateway workload
 * merges them.
 */
export const sniConflicts: WorkspaceRule = {
  codes: ['sni-conflict'],
  reads: ['Gateway', 'VirtualService', 'Mesh'],
  check(index, report) {
    const servers = gatewayServers(index).all.filter((s) => s.port !== undefined);
    duplicateServerHosts(servers, report);
    duplicateSniHosts(index, servers, report);
  },
};

const rawServer = (s: GatewayServer) => obj(arr(obj(s.gw.value.spec).servers)[s.i]) as Parameters<typeof isTlsPassthrough>[0];
/** A server host (`ns/host`, `./host`, any-namespace or bare `host`) admits VirtualServices of `namespace` whose hosts overlap it. */
function servesHosts(s: GatewayServer, namespace: string, vsHosts: readonly string[]): boolean {
  const gwNamespace = s.key.slice(0, s.key.indexOf('/'));
  return s.hosts.some((h) => {
    const at = h.indexOf('/');
    const ns = at < 0 ? '*' : h.slice(0, at);
    if (ns !== '*' && (ns === '.' ? gwNamespace : ns) !== namespace) return false;
    return vsHosts.some((v) => hostsOverlap(bare(h), v));
  });
}

const bare = (h: string) => (h.includes('/') ? h.slice(h.indexOf('/') + 1) : h).toLowerCase();
const workloadsKey = (s: GatewayServer) => JSON.stringify(Object.entries(s.selector).sort());

function duplicateServerHosts(servers: readonly GatewayServer[], report: Report): void {
  const seen = new Map<string, Map<string, GatewayServer>>();
  for (const s of servers) {
    if (obj(rawServer(s)).tls === undefined) continue;
    const key = `${s.key}|${s.port}|${s.bind}`;
    const known = seen.get(key) ?? new Map<string, GatewayServer>();
    seen.set(key, known);
    const dup = s.hosts.findIndex((h) => known.has(h));
    if (dup < 0) {
      for (const h of s.hosts) known.set(h, s);
      continue;
    }
    const first = known.get(s.hosts[dup])!;
    report(s.gw, ['spec', 'servers', s.i, 'hosts', dup], 'sni-conflict',
      `host "${s.hosts[dup]}" is also a host of spec.servers[${first.i}] on port ${s.port}, both with TLS: istiod skips this whole server ("skipping server on gateway ${s.key}, duplicate host names"), so none of its hosts get a filter chain here; give each host to one server per port (a server may list several hosts)`);
  }
}

interface Claim { vs: PolicyDocument<'VirtualService'>; rule: number }

function duplicateSniHosts(index: WorkspaceIndex, servers: readonly GatewayServer[], report: Report): void {
  // Per (gateway workloads, port): the sniHosts the tls[] matches claimed so far, and the hosts of servers that terminate TLS.
  const claimed = new Map<string, Map<string, Claim>>();
  const terminated = new Map<string, Map<string, GatewayServer>>();
  for (const s of servers) {
    if (!terminatedProtocol(rawServer(s))) continue;
    const key = `${workloadsKey(s)}|${s.port}`;
    const hosts = terminated.get(key) ?? new Map<string, GatewayServer>();
    terminated.set(key, hosts);
    for (const h of s.hosts) if (!hosts.has(bare(h))) hosts.set(bare(h), s);
  }
  // Oldest first, as pilot builds the chains (gateway-api/age.ts byCreation): the older claim keeps a name.
  const ordered = byCreation(index.byKind.VirtualService, (vs) => ({ created: str(obj(vs.value.metadata).creationTimestamp), name: vs.name, namespace: index.namespaceOf(vs) }));
  for (const vs of ordered) {
    const spec = obj(vs.value.spec);
    const vsHosts = arr(spec.hosts).map(str).filter((h): h is string => !!h).map((h) => h.toLowerCase());
    const bound = arr(spec.gateways).map(str).filter((g): g is string => !!g && g !== 'mesh').map((g) => (g.includes('/') ? g : `${index.namespaceOf(vs)}/${g}`));
    arr(spec.tls).forEach((raw, ruleIndex) => {
      const rule = obj(raw);
      if (arr(rule.route).length === 0) return;
      arr(rule.match).forEach((rawMatch, matchIndex) => {
        const match = obj(rawMatch);
        const sniHosts = arr(match.sniHosts).map(str).filter((h): h is string => !!h);
        const matchGateways = arr(match.gateways).map(str).filter((g): g is string => !!g).map((g) => (g.includes('/') ? g : `${index.namespaceOf(vs)}/${g}`));
        // The passthrough servers this match applies to: of a Gateway it is bound to, on its port (any without one).
        // Only servers that serve one of the VirtualService's hosts get chains from it (pilot pickMatchingGatewayHosts).
        const targets = servers.filter((s) => (matchGateways.length ? matchGateways : bound).includes(s.key) && isTlsPassthrough(rawServer(s))
          && (typeof match.port !== 'number' || match.port === s.port) && servesHosts(s, index.namespaceOf(vs), vsHosts));
        const keys = [...new Set(targets.map((s) => `${workloadsKey(s)}|${s.port}`))];
        for (const key of keys) {
          const port = key.slice(key.lastIndexOf('|') + 1);
          const path = (k: number) => ['spec', 'tls', ruleIndex, 'match', matchIndex, 'sniHosts', k];
          sniHosts.forEach((h, k) => {
            const server = terminated.get(key)?.get(h.toLowerCase());
            if (server) {
              report(vs, path(k), 'sni-conflict',
                `sniHosts "${h}" is also a host of Gateway ${server.key} spec.servers[${server.i}] on port ${port}, which terminates TLS: Envoy gets two filter chains with server name "${h}" and rejects the port's listener (no server of port ${port} takes the change); route "${h}" by one of them only, or put the other on another port`);
            }
          });
          const known = claimed.get(key) ?? new Map<string, Claim>();
          claimed.set(key, known);
          const dup = sniHosts.findIndex((h) => { const c = known.get(h); return c !== undefined && !(c.vs === vs && c.rule === ruleIndex); });
          if (dup < 0) {
            for (const h of sniHosts) if (!known.has(h)) known.set(h, { vs, rule: ruleIndex });
            continue;
          }
          const first = known.get(sniHosts[dup])!;
          report(vs, path(dup), 'sni-conflict',
            `sniHosts "${sniHosts[dup]}" on port ${port} is already claimed by VirtualService ${index.namespaceOf(first.vs)}/${first.vs.name} tls[${first.rule}] (the older one, by creationTimestamp then name): istiod skips this match ("duplicate SNI host names"), so its connections go there; keep "${sniHosts[dup]}" in one tls[] match per gateway port`);
        }
      });
    });
  }
}
