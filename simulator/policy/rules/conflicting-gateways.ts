import type { DocumentRule } from './rule';
import { compareAge } from '../gateway-api/age';
import { obj, str } from '../plain';
import { gatewayServers, shareWorkloads, type GatewayServer } from './gateway-servers';

/**
 * Two Gateways whose selectors pick the same gateway workloads, with servers
 * on one port that name one host (with the same bind), conflict (IST0145,
 * istioctl's ConflictingGatewayAnalyzer: same selector, port and a host
 * written alike). Every Gateway of a conflict is told what istiod does with
 * it: of two servers with `tls` the newer Gateway's is skipped whole
 * (mergeGateways, "duplicate host names"; Gateways merge oldest first), two
 * plain HTTP servers are merged into one route config.
 */
export const conflictingGateways: DocumentRule<'Gateway'> = {
  codes: ['conflicting-gateways'],
  kinds: ['Gateway'],
  facts: (index) => gatewayServers(index).facts,
  check(gw, index, report) {
    const servers = gatewayServers(index).all;
    const age = (s: GatewayServer) => ({ created: str(obj(s.gw.value.metadata).creationTimestamp), name: s.gw.name, namespace: s.key.slice(0, s.key.indexOf('/')) });
    for (const mine of servers.filter((s) => s.gw === gw)) {
      if (mine.port === undefined) continue;
      const others = servers.filter((o) => o.gw !== gw && o.port === mine.port && o.bind === mine.bind
        && o.hosts.some((h) => mine.hosts.includes(h)) && shareWorkloads(mine.selector, o.selector, index));
      if (others.length === 0) continue;
      const names = [...new Set(others.map((o) => o.key))].sort();
      const shared = [...new Set(others.flatMap((o) => o.hosts.filter((h) => mine.hosts.includes(h))))];
      const tlsOthers = mine.tls ? others.filter((o) => o.tls) : [];
      const older = tlsOthers.filter((o) => compareAge(age(o), age(mine)) < 0).map((o) => o.key);
      const effect = tlsOthers.length === 0
        ? 'istiod merges plain HTTP servers of one port (both serve, the older Gateway\'s VirtualServices first), other servers conflict'
        : older.length > 0
          ? `istiod keeps the older Gateway ${[...new Set(older)].sort().join(', ')}'s server and skips this one whole, its other hosts too ("duplicate host names")`
          : `istiod keeps this server (the older Gateway, by creationTimestamp then name) and skips Gateway ${[...new Set(tlsOthers.map((o) => o.key))].sort().join(', ')}'s whole`;
      report(gw, ['spec', 'servers', mine.i, 'port', 'number'], 'conflicting-gateways',
        `Gateway ${names.join(', ')} also serves ${shared.map((h) => `"${h}"`).join(', ')} on port ${mine.port} of the same gateway workloads (IST0145): ${effect}; merge the servers into one Gateway, or use different hosts or ports`);
    }
  },
};
