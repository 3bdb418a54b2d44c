/**
 * tcp[] and tls[] matches (Istio's L4MatchAttributes / TLSMatchAttributes),
 * compiled. Pilot evaluates the static predicates (port, sourceLabels,
 * sourceNamespace, gateways) while building a proxy's listeners
 * (networking/core/tls.go matchTCP, matchTLS) — at a gateway only port and
 * gateways (gateway.go l4SingleMatch); `sniHosts` is matched at
 * run time by Envoy's filter chain match on the ClientHello's server name.
 * `destinationSubnets` is not simulated (no destination IPs on one machine).
 */
import type { L4MatchAttributes, TLSMatchAttributes } from '../../policy/model';
import { qualifyGateway } from './match';

/** What a connection's static predicates are checked against. */
export interface L4Attributes {
  /** The service port the connection addressed (at the ingress: the Gateway server's port). */
  port: number;
  /** Labels and namespace of the proxy's workload; absent at a gateway, where pilot checks only port and gateways (gateway.go l4SingleMatch). */
  sourceLabels?: Record<string, string>;
  sourceNamespace?: string;
  /** `mesh` at a sidecar; `ns/name` of the Gateway at the ingress. */
  gateway: string;
}

export interface CompiledL4Match {
  source: L4MatchAttributes | TLSMatchAttributes;
  /** The static predicates. */
  test(a: L4Attributes): boolean;
  /** SNI patterns (tls[] only). */
  sniHosts?: string[];
}

export function compileL4Match(m: L4MatchAttributes | TLSMatchAttributes, vsNamespace: string): CompiledL4Match {
  const gateways = m.gateways && m.gateways.length > 0 ? new Set(m.gateways.map((g) => qualifyGateway(g, vsNamespace))) : undefined;
  const labels = Object.entries(m.sourceLabels ?? {});
  const sni = 'sniHosts' in m && Array.isArray(m.sniHosts) ? m.sniHosts.map((h) => h.toLowerCase()) : undefined;
  return {
    source: m,
    sniHosts: sni,
    test: (a) =>
      (m.port === undefined || m.port === a.port) &&
      (a.sourceLabels === undefined || labels.every(([k, v]) => a.sourceLabels![k] === v)) &&
      (m.sourceNamespace === undefined || a.sourceNamespace === undefined || m.sourceNamespace === a.sourceNamespace) &&
      (gateways === undefined || gateways.has(a.gateway)),
  };
}

/**
 * How well a server name matches an SNI pattern, as Envoy's filter chain
 * match picks among `server_names`: an exact name beats every wildcard, a
 * longer wildcard suffix beats a shorter one; 0 = no match. Istio's
 * `*.com` also matches `example.com`'s subdomains only (Envoy wildcards need
 * at least one label in front).
 */
export function sniScore(pattern: string, serverName: string): number {
  const name = serverName.toLowerCase();
  if (pattern === '*') return 1;
  if (pattern.startsWith('*.')) {
    const suffix = pattern.slice(1);
    return name.endsWith(suffix) && name.length > suffix.length ? 1 + suffix.length : 0;
  }
  return pattern === name ? 100_000 : 0;
}

/**
 * How well a tls[] match's sniHosts take a ClientHello, as the filter chain
 * pilot builds from them: sniHosts with `*` get no server_names at all
 * (pilot toFilterChainMatch: "If we have a host with *, it effectively means
 * match anything"), a chain Envoy picks for any server name or none, after
 * every chain that names one (1); otherwise the best entry's score, and no
 * server name matches none (0).
 */
export function sniChainScore(sniHosts: readonly string[] | undefined, serverName: string | undefined): number {
  if (sniHosts?.includes('*')) return 1;
  if (!serverName) return 0;
  return Math.max(0, ...(sniHosts ?? []).map((p) => sniScore(p, serverName)));
}
