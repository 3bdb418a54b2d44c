import type { DocumentRule } from './rule';
import { gatewayServers } from './gateway-servers';

/**
 * Two TLS servers of Gateways on the same gateway workloads that serve one
 * certificate (the same credentialName, or the same certificate and key
 * files): Envoy cannot tell their filter chains apart (IST0138). As Istio's
 * analyzer, a Gateway is compared with those whose selectors include all of
 * its labels.
 */
export const duplicateCertificates: DocumentRule<'Gateway'> = {
  codes: ['duplicate-certificate'],
  kinds: ['Gateway'],
  facts: (index) => gatewayServers(index).facts,
  check(gw, index, report) {
    const servers = gatewayServers(index).all;
    for (const mine of servers.filter((s) => s.gw === gw && s.certificate)) {
      const others = servers.filter((o) => o.gw !== gw && o.certificate === mine.certificate
        && Object.entries(mine.selector).every(([k, v]) => o.selector[k] === v));
      if (others.length === 0) continue;
      report(gw, ['spec', 'servers', mine.i, 'tls'], 'duplicate-certificate',
        `Gateway ${[...new Set(others.map((o) => o.key))].sort().join(', ')} serves the same certificate (${mine.certificate}) on the same gateway workloads (IST0138): give each Gateway its own certificate, or merge their servers`, { part: 'key' });
    }
  },
};
