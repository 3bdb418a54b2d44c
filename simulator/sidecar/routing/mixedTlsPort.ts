/**
 * One Gateway server port with both servers that terminate TLS (HTTPS, or
 * TLS SIMPLE/MUTUAL/...) and TLS PASSTHROUGH servers, as Istio builds it
 * (pilot/pkg/networking/core/gateway.go): the port is one listener whose
 * filter chains are matched on the ClientHello's server name — a
 * terminating server's chain by its hosts (a server of host `*` is the
 * chain without server names, the catch-all), and one passthrough chain per
 * `tls[].match` of a VirtualService bound to the passthrough server, by its
 * `sniHosts` (createGatewayTCPFilterChainOpts; a match without a route, or
 * for another port or Gateway, builds none). Envoy takes the most specific
 * match (an exact name, then the longest wildcard, then the catch-all); a
 * name no chain takes, and a ClientHello without one where no catch-all
 * exists, close the connection. Pure.
 */
import { sniScore, type L4Attributes } from './l4Match';
import type { MeshTables } from '../tables';

export type MixedPortChain = 'terminate' | 'passthrough';

/** How specifically a terminating server's hostname (its chain's server name; none: the catch-all) takes `sni`. */
function terminatedScore(hostname: string | undefined, sni: string | undefined): number {
  if (!hostname || hostname === '*') return 0.5;
  return sni ? sniScore(hostname, sni) : 0;
}

/** The most specific sniHosts entry of a passthrough chain on this port that takes `sni` (0: none). */
function passthroughScore(t: MeshTables, gateways: readonly string[], port: number, sni: string | undefined): number {
  if (!sni) return 0;
  let best = 0;
  for (const gateway of gateways) {
    const a: L4Attributes = { port, sourceLabels: t.identity.labels, sourceNamespace: t.identity.namespace, gateway };
    for (const vs of t.gatewayRoutes) {
      if (!vs.gateways.includes(gateway)) continue;
      for (const rule of vs.tls) {
        if (rule.route.length === 0) continue;
        for (const m of rule.matches ?? []) {
          if (!m.test(a)) continue;
          for (const h of m.sniHosts ?? []) best = Math.max(best, sniScore(h.toLowerCase(), sni));
        }
      }
    }
  }
  return best;
}

/** The hosts of the servers on `port` that terminate TLS, from every Gateway this proxy serves (`*`: the catch-all chain). */
export function terminatedHosts(t: MeshTables, port: number): string[] {
  return [...t.gateways.values()].flatMap((g) => g.servers.filter((s) => s.port === port && s.terminated).flatMap((s) => s.hosts));
}

/** Whether an Istio server port has both servers that terminate TLS and TLS PASSTHROUGH servers. */
export function isMixedTlsPort(t: MeshTables, port: number): boolean {
  return t.gatewayTlsPorts.has(port) && terminatedHosts(t, port).length > 0;
}

/**
 * Which filter chain of a mixed port a connection's server name picks:
 * `terminated` names the hostnames of the port's terminating chains (the
 * certificates' hostnames; undefined for a catch-all), `passthrough` the
 * Gateways with a passthrough server on the port. None: no chain takes it.
 */
export function mixedPortChain(t: MeshTables, port: number, terminated: readonly (string | undefined)[], passthrough: readonly string[], sni: string | undefined): MixedPortChain | undefined {
  const name = sni?.toLowerCase();
  const term = Math.max(0, ...terminated.map((h) => terminatedScore(h?.toLowerCase(), name)));
  const pass = passthroughScore(t, passthrough, port, name);
  if (term === 0 && pass === 0) return undefined;
  return pass > term ? 'passthrough' : 'terminate';
}
