/**
 * The routing decision for one connection, as a pure function of the
 * compiled tables, the connection's attributes and a random source, as
 * pilot builds a sidecar's outbound TCP/TLS filter chains
 * (networking/core/tls.go):
 *
 * - a TCP port: the first tcp[] rule with no match, or with a match whose
 *   static predicates hold, routes it; with none, the connection goes to
 *   the addressed service and port (the default route);
 * - a TLS port: every tls[] match whose static predicates hold becomes a
 *   filter chain keyed by its sniHosts, and the ClientHello's server name
 *   picks one (an exact name before a wildcard, then the first written); no
 *   tls[] rule applying: the default route, whatever the SNI ("traffic
 *   'https-*' or 'tls-*' ports without associated virtual service will be
 *   treated as opaque TCP"); rules applying but no SNI matching: no filter
 *   chain, the connection is closed (NR);
 * - the destination is picked by weight (relative, as for HTTP) and sent to
 *   its `port`, or the service's only port, or the addressed one.
 */
import { hostsOverlap, qualifyHost } from '../../policy/hosts';
import type { ServiceInfo } from '../../protocol';
import type { ResponseFlag } from '../errors';
import { knownServices, type CompiledL4Rule, type GatewayServerView, type MeshTables, type RouteOrigin, type RouteTable } from '../tables';
import { sniChainScore, type CompiledL4Match, type L4Attributes } from './l4Match';
import { describePorts, destinationPort, portsOf } from './servicePorts';
import { pickWeighted } from './weights';

export interface L4ForwardPlan {
  kind: 'forward';
  service: ServiceInfo;
  /** The destination's FQDN (the cluster's host). */
  host: string;
  subset?: string;
  port: number;
  /** The tcp[]/tls[] rule that routed it; none for the default route. */
  origin?: RouteOrigin;
  /** `default`, or `<vs>.<section>.<index>`. */
  routeName: string;
}

export interface L4PlanError {
  kind: 'error';
  flag: ResponseFlag;
  /** Stable reason, as for HTTP (`no-sni-match`, `unknown-destination`, ...). */
  reason: string;
  message: string;
}

export type L4Plan = L4ForwardPlan | L4PlanError;

export function planL4(t: MeshTables, table: RouteTable, a: L4Attributes & { sni?: string }, random: () => number): L4Plan {
  const hit = table.tls.length > 0 ? pickTls(table.tls, a) : pickTcp(table.tcp, a);
  if (hit === 'default') return { kind: 'forward', service: table.service, host: table.service.fqdn, port: table.port.port, routeName: 'default' };
  if (hit === 'no-sni') {
    const vs = table.source?.resources[0];
    const rules = `${vs?.namespace}/${vs?.name}`;
    return { kind: 'error', flag: 'NR', reason: 'no-sni-match', message: a.sni ? `no tls[] rule of VirtualService ${rules} matches server name "${a.sni}"` : `the client sent no server name (SNI), and VirtualService ${rules} routes port ${a.port} by SNI` };
  }
  return forward(t, hit, a.port, random);
}

/**
 * The ingress's plan for a connection to one of its Gateway TCP servers: for
 * each server on that port, of the Gateways with one there, the first tcp[]
 * rule whose match holds (`port` is the Gateway's port) of the bound
 * VirtualServices whose hosts the server serves (pilot
 * buildGatewayNetworkFiltersFromTCPRoutes: one filter chain per server, the
 * first match; pickMatchingGatewayHosts skips a VirtualService whose hosts
 * overlap none of the server's). Nothing matching: no route (Envoy has no
 * filter chain), the connection closes. A TLS server (`tls`) routes by tls[]
 * as planGatewayTls.
 */
export function planGatewayL4(t: MeshTables, gateways: readonly string[], port: number, random: () => number, tls?: { sni?: string }): L4Plan {
  if (tls) return planGatewayTls(t, gateways, port, tls.sni, random);
  for (const gateway of gateways) {
    // Pilot's l4SingleMatch checks a match's port and gateways only: no sourceLabels or sourceNamespace at a gateway.
    const a: L4Attributes = { port, gateway };
    for (const server of gatewayServersOn(t, gateway, port, 'tcp')) {
      for (const vs of t.gatewayRoutes) {
        if (!vs.gateways.includes(gateway) || !serverTakes(server, vs)) continue;
        const hit = pickTcp(vs.tcp, a);
        if (hit !== 'default') return forward(t, hit, port, random);
      }
    }
  }
  return { kind: 'error', flag: 'NR', reason: 'no-gateway-route', message: `no tcp[] rule of a VirtualService bound to ${gateways.join(', ')} (with a host the server on port ${port} serves) matches port ${port}` };
}

/**
 * The servers of a Gateway on one port that route by tls[] (`tls`: passthrough, and at the egress gateway any TLS
 * server it does not terminate) or by tcp[] (`tcp`: TCP, MONGO, and TLS the ingress terminates).
 */
export function gatewayServersOn(t: MeshTables, gateway: string, port: number, kind: 'tls' | 'tcp'): GatewayServerView[] {
  const tls = (s: GatewayServerView) => s.passthrough || (s.protocol === 'TLS' && !s.terminatedTcp);
  return (t.gateways.get(gateway)?.servers ?? []).filter((s) => s.port === port && (kind === 'tls' ? tls(s) : !tls(s) && ['TCP', 'MONGO', 'TLS'].includes(s.protocol)));
}

/**
 * Whether a Gateway server serves a VirtualService bound to its Gateway (pilot pickMatchingGatewayHosts): one of the
 * VirtualService's hosts overlaps one of the server's (either may be the wildcard), from a namespace that server host
 * admits (`ns/host`). A VirtualService for other hosts adds no filter chain there, whatever its tls[] or tcp[] match.
 */
export function serverTakes(server: GatewayServerView, vs: { namespace: string; hosts: readonly string[] }): boolean {
  return server.hosts.some((h, i) => {
    const ns = server.hostNamespaces[i];
    return (ns === undefined || ns === vs.namespace) && vs.hosts.some((v) => hostsOverlap(h, v));
  });
}

/** One filter chain of a gateway's passthrough port: a tls[] match whose static predicates hold there. */
export interface GatewayTlsChain {
  rule: CompiledL4Rule;
  match: CompiledL4Match;
  /** The Gateway (`ns/name`) whose server it was built for. */
  gateway: string;
}

/** A tls[] match pilot skipped: a name of its sniHosts an earlier chain of the port claims. */
export interface DroppedTlsMatch extends GatewayTlsChain {
  duplicates: string[];
  claimedBy: CompiledL4Rule;
}

/**
 * The filter chains of a gateway passthrough port, as pilot builds them
 * (gateway.go buildGatewayNetworkFiltersFromTLSRoutes): for each server on
 * the port, of the Gateways with one there, each bound VirtualService in
 * order whose hosts the server serves (serverTakes), each tls[]
 * rule with a route, each match whose static predicates hold becomes a
 * chain keyed by its sniHosts — unless one of its names is already a key of
 * the port (model.CheckDuplicates), then the whole match is skipped
 * ("skipping VirtualService ... duplicate SNI host names") and the earlier
 * claim keeps the name.
 */
export function gatewayTlsChains(t: MeshTables, gateways: readonly string[], port: number): { chains: GatewayTlsChain[]; dropped: DroppedTlsMatch[] } {
  const chains: GatewayTlsChain[] = [];
  const dropped: DroppedTlsMatch[] = [];
  const known = new Map<string, { rule: CompiledL4Rule; match: CompiledL4Match }>();
  for (const gateway of gateways) {
    // Pilot's l4SingleMatch checks a match's port and gateways only: no sourceLabels or sourceNamespace at a gateway.
    const a: L4Attributes = { port, gateway };
    for (const server of gatewayServersOn(t, gateway, port, 'tls')) for (const vs of t.gatewayRoutes) {
      if (!vs.gateways.includes(gateway) || !serverTakes(server, vs)) continue;
      for (const rule of vs.tls) {
        if (rule.route.length === 0) continue;
        for (const match of rule.matches ?? []) {
          if (!match.test(a)) continue;
          const hosts = match.sniHosts ?? [];
          const duplicates = hosts.filter((h) => known.has(h));
          // The same match again, for a second server of the port: its chain is already built.
          if (duplicates.length > 0 && duplicates.every((h) => known.get(h)!.match === match)) continue;
          if (duplicates.length > 0) {
            dropped.push({ rule, match, gateway, duplicates, claimedBy: known.get(duplicates.find((h) => known.get(h)!.match !== match)!)!.rule });
            continue;
          }
          for (const h of hosts) known.set(h, { rule, match });
          chains.push({ rule, match, gateway });
        }
      }
    }
  }
  return { chains, dropped };
}

/** The chain Envoy's filter chain match picks for a server name: the most specific (exact, then the longest wildcard, then `*`); the first built among equals. */
export function pickGatewayTlsChain(chains: readonly GatewayTlsChain[], sni: string | undefined): GatewayTlsChain | undefined {
  let best: { chain: GatewayTlsChain; score: number } | undefined;
  for (const chain of chains) {
    const score = sniChainScore(chain.match.sniHosts, sni);
    if (score > 0 && (!best || score > best.score)) best = { chain, score };
  }
  return best?.chain;
}

/**
 * The ingress's plan for a connection to one of its TLS passthrough servers:
 * of the filter chains the bound VirtualServices' tls[] matches make on that
 * port (gatewayTlsChains), the one whose sniHosts take the ClientHello's
 * server name most specifically, whatever VirtualService it comes from. None:
 * no filter chain, the connection closes (NR).
 */
export function planGatewayTls(t: MeshTables, gateways: readonly string[], port: number, sni: string | undefined, random: () => number): L4Plan {
  const hit = pickGatewayTlsChain(gatewayTlsChains(t, gateways, port).chains, sni);
  if (hit) return forward(t, hit.rule, port, random);
  const asked = sni ? `server name "${sni}"` : 'a ClientHello without a server name (SNI)';
  return { kind: 'error', flag: 'NR', reason: 'no-sni-match', message: `no tls[] rule of a VirtualService bound to ${gateways.join(', ') || '(no Gateway)'} takes ${asked} on port ${port}` };
}

/** The destination of a rule, picked by weight, sent to its port (or the service's only one, or `port`). */
function forward(t: MeshTables, hit: CompiledL4Rule, requestedPort: number, random: () => number): L4Plan {
  const routeName = `${hit.origin.name}.${hit.origin.section}.${hit.index}`;
  const dest = pickWeighted(hit.route, random);
  if (!dest) return { kind: 'error', flag: 'UH', reason: 'no-weighted-destination', message: `route ${routeName} has no destination with a weight above 0` };
  const fqdn = qualifyHost(dest.destination.host, hit.origin.namespace);
  const service = t.serviceByHost.get(fqdn);
  if (!service) return { kind: 'error', flag: 'NC', reason: 'unknown-destination', message: `route ${routeName} sends to ${fqdn}, which is not a mesh service; known services: ${knownServices(t)}` };
  const port = destinationPort(service, dest.destination.port?.number, requestedPort);
  if (!portsOf(service).some((p) => p.port === port)) {
    return { kind: 'error', flag: 'NC', reason: 'unknown-destination-port', message: `route ${routeName} sends to ${service.name}.${service.namespace} port ${port}, which it does not have; it has ${describePorts(service)}` };
  }
  return { kind: 'forward', service, host: service.fqdn, subset: dest.destination.subset, port, origin: hit.origin, routeName };
}

function pickTcp(rules: readonly CompiledL4Rule[], a: L4Attributes): CompiledL4Rule | 'default' {
  for (const r of rules) {
    if (r.route.length === 0) continue;
    if (r.matches === null || r.matches.some((m) => m.test(a))) return r;
  }
  return 'default';
}

function pickTls(rules: readonly CompiledL4Rule[], a: L4Attributes & { sni?: string }): CompiledL4Rule | 'default' | 'no-sni' {
  let applies = false;
  let best: { rule: CompiledL4Rule; score: number } | undefined;
  for (const r of rules) {
    if (r.route.length === 0) continue;
    for (const m of r.matches ?? []) {
      if (!m.test(a)) continue;
      applies = true;
      const score = sniChainScore(m.sniHosts, a.sni);
      if (score > 0 && (!best || score > best.score)) best = { rule: r, score };
    }
  }
  if (!applies) return 'default';
  return best ? best.rule : 'no-sni';
}
