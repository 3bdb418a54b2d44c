import type { DocumentRule } from './rule';
import { gatewayServers, shareWorkloads } from './gateway-servers';

/**
 * Two Gateways whose selectors pick the same gateway workloads, with servers
 * on one port that name one host (with the same bind), conflict: the gateway
 * keeps one of them (IST0145). Every Gateway of a conflict is told.
 */
export const conflictingGateways: DocumentRule<'Gateway'> = {
  codes: ['conflicting-gateways'],
  kinds: ['Gateway'],
  facts: (index) => gatewayServers(index).facts,
  check(gw, index, report) {
    const servers = gatewayServers(index).all;
    for (const mine of servers.filter((s) => s.gw === gw)) {
      if (mine.port === undefined) continue;
      const others = servers.filter((o) => o.gw !== gw && o.port === mine.port && o.bind === mine.bind
        && o.hosts.some((h) => mine.hosts.includes(h)) && shareWorkloads(mine.selector, o.selector, index));
      if (others.length === 0) continue;
      const names = [...new Set(others.map((o) => o.key))].sort();
      const shared = [...new Set(others.flatMap((o) => o.hosts.filter((h) => mine.hosts.includes(h))))];
      report(gw, ['spec', 'servers', mine.i, 'port', 'number'], 'conflicting-gateways',
        `Gateway ${names.join(', ')} also serves ${shared.map((h) => `"${h}"`).join(', ')} on port ${mine.port} of the same gateway workloads (IST0145): only one of them takes effect; merge the servers into one Gateway, or use different hosts or ports`);
    }
  },
};
