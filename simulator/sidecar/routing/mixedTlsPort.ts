/**
 * One Gateway server port whose servers treat TLS in more than one way, as
 * Istio builds it (pilot/pkg/networking/core/gateway.go
 * buildGatewayTCPBasedFilterChains): HTTPS servers that terminate (then
 * http[] routes), TLS servers that terminate — SIMPLE, MUTUAL,
 * OPTIONAL_MUTUAL, ISTIO_MUTUAL — (then tcp[] routes, "TCP with TLS
 * termination"), and TLS PASSTHROUGH servers (tls[] routes). The port is one
 * listener whose filter chains are matched on the ClientHello's server
 * name: a terminating server's chain by its hosts (a server of host `*` is
 * the chain without server names, the catch-all), and one passthrough chain
 * per `tls[].match` of a VirtualService bound to the passthrough server, by
 * its `sniHosts` (createGatewayTCPFilterChainOpts; a match without a route,
 * or for another port or Gateway, builds none). Envoy takes the most
 * specific match (an exact name, then the longest wildcard, then the
 * catch-all); a name no chain takes, and a ClientHello without one where no
 * catch-all exists, close the connection. Pure.
 */
import { sniChainScore, sniScore } from './l4Match';
import { gatewayTlsChains } from './l4Plan';
import type { MeshTables } from '../tables';

/** The filter chain a server name picks: an HTTPS server's, a terminating TLS server's (tcp[]), or a passthrough one (tls[]). */
export type MixedPortChain = 'https' | 'tcp' | 'passthrough';

/** How specifically a terminating server's host (its chain's server name; `*`: the catch-all) takes `sni`. */
function terminatedScore(host: string, sni: string | undefined): number {
  if (host === '*') return 0.5;
  return sni ? sniScore(host, sni) : 0;
}

/** The most specific passthrough chain of this port that takes `sni` (0: none; sniHosts `*`: the catch-all, as a terminating server of host `*`). */
function passthroughScore(t: MeshTables, gateways: readonly string[], port: number, sni: string | undefined): number {
  return Math.max(0, ...gatewayTlsChains(t, gateways, port).chains.map((c) => (c.match.sniHosts?.includes('*') ? 0.5 : sniChainScore(c.match.sniHosts, sni))));
}

/**
 * The hosts of the servers on `port` that terminate TLS, from every Gateway
 * this proxy serves (`*`: the catch-all chain): HTTPS servers (routed by
 * http[]) by default, TLS servers (routed by tcp[]) with `TLS`.
 */
export function terminatedHosts(t: MeshTables, port: number, protocol: 'HTTPS' | 'TLS' = 'HTTPS'): string[] {
  const takes = (s: { port: number; terminated?: boolean; terminatedTcp?: boolean }) => s.port === port && (protocol === 'HTTPS' ? s.terminated : s.terminatedTcp);
  return [...t.gateways.values()].flatMap((g) => g.servers.filter(takes).flatMap((s) => s.hosts));
}

/** Which kinds of chain a port has. */
function chainsOf(t: MeshTables, port: number): MixedPortChain[] {
  return [
    ...(terminatedHosts(t, port, 'HTTPS').length ? ['https' as const] : []),
    ...(terminatedHosts(t, port, 'TLS').length ? ['tcp' as const] : []),
    ...(t.gatewayTlsPorts.has(port) ? ['passthrough' as const] : []),
  ];
}

/** Whether an Istio server port has servers of more than one kind (HTTPS terminated, TLS terminated, TLS passthrough): the server name splits it. */
export function isMixedTlsPort(t: MeshTables, port: number): boolean {
  return chainsOf(t, port).length > 1;
}

/**
 * Which filter chain of a port a connection's server name picks (none: no
 * chain takes it, Envoy closes the connection). On an exact tie between
 * kinds (one name in two servers' hosts, which istiod would not build as
 * two chains) HTTPS wins, then the TLS server that terminates: the order
 * the ingress checks them in; `devmesh validate` warns about such a port.
 */
export function mixedPortChain(t: MeshTables, port: number, sni: string | undefined): MixedPortChain | undefined {
  const name = sni?.toLowerCase();
  const best = (hosts: readonly string[]) => Math.max(0, ...hosts.map((h) => terminatedScore(h.toLowerCase(), name)));
  const scores: [MixedPortChain, number][] = [
    ['https', best(terminatedHosts(t, port, 'HTTPS'))],
    ['tcp', best(terminatedHosts(t, port, 'TLS'))],
    ['passthrough', passthroughScore(t, t.gatewayTlsPorts.get(port) ?? [], port, name)],
  ];
  const [kind, score] = scores.reduce((a, b) => (b[1] > a[1] ? b : a));
  return score > 0 ? kind : undefined;
}
