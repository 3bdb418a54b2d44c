/**
 * The static walk of one connection a client outside the mesh opens to one
 * of the ingress's Istio Gateway servers that are not HTTP (chains.ts
 * outboundL4Chain at the ingress, sidecar.ts gatewayPorts): a TLS server
 * that terminates (SIMPLE, MUTUAL, OPTIONAL_MUTUAL, ISTIO_MUTUAL) first
 * completes the client's handshake — the chain its server name picks, and
 * whether that chain admits the client's certificate (gatewayTls.ts) — and
 * then routes the decrypted stream by the tcp[] rules of the VirtualServices
 * bound to its Gateways (pilot createGatewayTCPFilterChainOpts); a TLS
 * passthrough server routes by tls[] on the server name; a TCP server by
 * tcp[]. The ingress's own network RBAC (l4/authz.ts) then decides on the
 * client's verified certificate, its address, the server port and name. From
 * the route on, the connection is walked as walkL4.ts walks one
 * from a workload: the destination, the endpoint odds, the tunnel's mTLS and
 * the callee's PeerAuthentication and network RBAC. Pure.
 */
import type { MeshSnapshot } from '../protocol';
import { ISTIO_INGRESS_GATEWAY } from '../policy/gateway-tls';
import { compileTables, type CompiledL4Rule, type CompiledVirtualService, type MeshTables, type RouteOrigin } from '../sidecar/tables';
import { gatewayServersOn, gatewayTlsChains, pickGatewayTlsChain, planGatewayL4, planGatewayTls, serverTakes } from '../sidecar/routing/l4Plan';
import { isMixedTlsPort, mixedPortChain, terminatedHosts } from '../sidecar/routing/mixedTlsPort';
import { sniChainScore, type L4Attributes } from '../sidecar/routing/l4Match';
import { authzRecord, ruleOf, type DecisionRecord } from '../sidecar/decisions';
import { tcpAuthzRequest } from '../sidecar/l4/authz';
import { explore, merge } from './odds';
import { gatewayHandshake } from './gatewayTls';
import type { Outcome, ResourceRef, RuleStep } from './result';
import { denialReason, ExplainUsageError, type ExplainOptions, type Locator } from './walk';
import { CONNECTED } from '../sidecar/l4/decisions';
import { connectionOutcomes, customGate, describeMatch, ended, l4RulePath, networkRbac, planKey, staticFailure, walkTools, type ExplainConnection, type ExplainConnectionResult, type L4RouteStep } from './walkL4';

const LOOPBACK = '127.0.0.1';

export function explainGatewayConnection(snapshot: MeshSnapshot, c: ExplainConnection, opts: ExplainOptions = {}): ExplainConnectionResult {
  const t = compileTables(snapshot, null);
  const { tables, locate, ref } = walkTools(snapshot, opts);
  const m = /^([^\s:/]+):(\d+)$/.exec(c.target);
  if (!m) throw new ExplainUsageError(`${c.protocol} ${c.target}: write the target as host:port, the port a Gateway server listens on (e.g. tcp.example.com:443)`);
  const port = Number(m[2]);
  let kind: 'terminated' | 'passthrough' | 'tcp' | undefined = t.gatewayTerminatedTcpPorts.has(port) ? 'terminated' : t.gatewayTlsPorts.has(port) ? 'passthrough' : t.gatewayTcpPorts.has(port) ? 'tcp' : undefined;
  if (!kind) {
    const known = [...new Set([...t.gatewayTcpPorts.keys(), ...t.gatewayTlsPorts.keys()])].sort((a, b) => a - b);
    throw new ExplainUsageError(`${c.protocol} ${c.target}: no Gateway has a TCP or TLS server on port ${port} (${known.length ? `ports: ${known.join(', ')}` : 'none has one'}); an HTTP or HTTPS server's requests are walked with METHOD URL`);
  }
  if (kind === 'tcp' && c.protocol === 'tls') throw new ExplainUsageError(`tls ${c.target}: port ${port} is a TCP server of the ingress (use tcp ${c.target})`);
  if (kind !== 'tcp' && c.protocol === 'tcp') throw new ExplainUsageError(`tcp ${c.target}: port ${port} is a TLS server of the ingress (use tls ${c.target}, with --sni when the name differs)`);
  // A TLS client sends the host it connects to as its server name, unless it is an address (Node's and OpenSSL's clients).
  const sni = c.protocol === 'tls' ? c.sni ?? (/^[\d.]+$|:/.test(m[1]) ? undefined : m[1].toLowerCase()) : undefined;
  const connection: ExplainConnection = { ...c, ...(sni !== undefined ? { sni } : {}) };
  const base = {
    connection,
    caller: { proxy: t.identity.name, namespace: t.identity.namespace, spiffeId: t.identity.spiffeId, listener: 'ingress' as const },
    defaults: { flavor: t.defaults.flavor, version: t.defaults.version },
    host: { authority: c.target },
  };
  // A port with servers of several kinds (HTTPS, TLS terminated, passthrough): the server name picks the filter chain first (routing/mixedTlsPort.ts), as the ingress does.
  if (isMixedTlsPort(t, port)) {
    const chain = mixedPortChain(t, port, sni);
    const hosts = [
      ...terminatedHosts(t, port, 'HTTPS').map((h) => `${h} (HTTPS)`),
      ...terminatedHosts(t, port, 'TLS').map((h) => `${h} (TLS, terminated)`),
    ].join(', ');
    if (chain === 'https') {
      throw new ExplainUsageError(`tls ${c.target}: on port ${port} the server name ${sni ? `"${sni}"` : '(none)'} picks a server that terminates HTTPS (${terminatedHosts(t, port, 'HTTPS').join(', ')}), not a TLS one: walk its requests with METHOD https://${sni ?? 'HOST'}:${port}/PATH`);
    }
    if (chain === undefined) {
      const gateway = { port, kind: 'mixed' as const, gateways: [...new Set([...(t.gatewayTcpPorts.get(port) ?? []), ...(t.gatewayTlsPorts.get(port) ?? [])])] };
      const summary = `closed by the ingress gateway ${t.identity.name}: no server of port ${port} takes ${sni ? `the server name "${sni}"` : 'a ClientHello without a server name'} (${hosts ? `hosts ${hosts}; ` : ''}passthrough by tls[] sniHosts): Envoy finds no filter chain`;
      return { ...base, gateway, route: { rules: [], action: 'refused', message: 'not routed: no filter chain of the port takes the server name' }, destinations: [], ...ended([{ probability: 1, kind: 'refused', summary, records: [] }]) };
    }
    kind = chain === 'tcp' ? 'terminated' : 'passthrough';
  }
  if (c.clientCert !== undefined && kind !== 'terminated') throw new ExplainUsageError(`--client-cert: port ${port} does not terminate TLS (${kind === 'tcp' ? 'a TCP server' : 'a passthrough server: the client\'s TLS reaches the destination'})`);
  const gateways = (kind === 'passthrough' ? t.gatewayTlsPorts : t.gatewayTcpPorts).get(port)!;
  const gateway: NonNullable<ExplainConnectionResult['gateway']> = { port, kind, gateways };
  if (kind === 'terminated') {
    const chains = opts.listenerCertificates?.[`${ISTIO_INGRESS_GATEWAY}:${port}`] ?? [];
    let handshake;
    try { handshake = gatewayHandshake(chains, sni, c.clientCert, opts.now); } catch (e) { throw new ExplainUsageError(`--client-cert: ${(e as Error).message}`); }
    // A decrypted TCP stream has no headers: no x-forwarded-client-cert is set on it.
    delete handshake.xfcc;
    gateway.handshake = handshake;
    // Refused at the handshake: the connection never reaches the ingress's L4 chain, so no access-log entry.
    if (handshake.refused) {
      const summary = `closed by the ingress gateway ${t.identity.name}: Istio Gateway TLS server port ${port}: ${handshake.refused}`;
      return { ...base, gateway, route: { rules: [], action: 'refused', message: 'not routed: the TLS handshake did not admit the client' }, destinations: [], ...ended([{ probability: 1, kind: 'refused', summary, records: [] }]) };
    }
  }
  const plans = merge(explore((random) => (kind === 'passthrough' ? planGatewayTls(t, gateways, port, sni, random) : planGatewayL4(t, gateways, port, random))), planKey);
  const route = gatewayRouteStep(t, plans, gateways, port, kind === 'passthrough', sni, locate, ref);
  // The ingress's access-log entry starts with the config it decided under (no CONNECT target: the port is the target).
  const request: DecisionRecord = { step: 'request', config: snapshot.version };
  // The ingress's own network RBAC, once the route picked the filter chain: the client's verified certificate, its address, the server port and name.
  const client = gateway.handshake?.client;
  const req = tcpAuthzRequest({ spiffeId: client?.verified ? client.principal : undefined, address: LOOPBACK }, port, sni, t.flavor.identity);
  // CUSTOM first (the ingress's network ext_authz), then its network RBAC.
  const custom = customGate(t, req, c.extAuthz);
  if (custom) gateway.custom = custom.view;
  const rbac = custom?.refused ? undefined : networkRbac(t, req, locate, ref);
  if (rbac) gateway.authz = rbac.step;
  const { destinations, outcomes } = connectionOutcomes(t, tables, plans, request, c.target, locate, ref, c.extAuthz);
  const gated = outcomes.map((o) => (custom?.refused ? customClosed(o, custom, t.identity.name) : rbac ? gatedOutcome(o, rbac, t.identity.name) : o));
  return { ...base, gateway, route, destinations, ...ended(custom?.unless ? gated.map((o) => (o.kind === 'answered' ? { ...o, summary: `${o.summary} ${custom.unless}` } : o)) : gated) };
}

/**
 * The ingress's own verdicts (its network ext_authz, then RBAC) decide on the client's first bytes, after it routed and
 * connected upstream (l4/authz.ts): an outcome whose attempt did not connect never gets that far and stays as it is. One
 * whose attempt connected is closed by a denial there: its records keep the route, the verdict (in the filters' order,
 * before the attempt, as an allowed one is) and the attempt, `connected`, with the callee's mTLS admission — the tunnel
 * was up — but nothing the callee decides on bytes it never got.
 */
function connectedThenClosed(o: Outcome, verdict: DecisionRecord | undefined, proxy: string, summary: string, flag?: 'UAEX'): Outcome {
  const at = o.records.findIndex((r) => r.step === 'route' && r.action === 'forward');
  const attempt = o.records[at + 1];
  if (at < 0 || attempt?.step !== 'attempt' || attempt.result !== CONNECTED) return o;
  const tunnel = o.records.slice(at + 2).filter((r) => r.step === 'mtls');
  const records = [...o.records.slice(0, at + 1), ...(verdict ? [verdict] : []), attempt, ...tunnel];
  return { probability: o.probability, kind: 'refused', ...(flag ? { flags: flag } : {}), summary: `connected upstream to ${attempt.endpoint ?? 'the destination'}, then closed by the ingress gateway ${proxy} on the client's first bytes: ${summary}`, records };
}

/** An outcome past the route, closed by the ingress's CUSTOM policy (an authorizer's denial, or a provider it cannot use: a network RBAC DENY in its place). */
function customClosed(o: Outcome, custom: NonNullable<ReturnType<typeof customGate>>, proxy: string): Outcome {
  return connectedThenClosed(o, custom.record ? authzRecord(custom.record, proxy) : undefined, proxy, custom.refused!, custom.flag);
}

/** An outcome past the route, as the ingress's network RBAC leaves it: its verdict recorded after the route, before the attempt (one that connected). */
function gatedOutcome(o: Outcome, rbac: NonNullable<ReturnType<typeof networkRbac>>, proxy: string): Outcome {
  const at = o.records.findIndex((r) => r.step === 'route' && r.action === 'forward');
  const attempt = o.records[at + 1];
  // Never connected: the client's first bytes were never decided on.
  if (at < 0 || attempt?.step !== 'attempt' || attempt.result !== CONNECTED) return o;
  if (rbac.decision.allowed) return { ...o, records: [...o.records.slice(0, at + 1), authzRecord(rbac.decision, proxy), ...o.records.slice(at + 1)] };
  return connectedThenClosed(o, authzRecord(rbac.decision, proxy), proxy, `RBAC: access denied ${denialReason({ authz: rbac.step })}`);
}

/** The tcp[] (or, on a passthrough port, tls[]) rules of the VirtualServices bound to the port's Gateways, as the plan weighs them (the ingress's, and the egress gateway's: walkL4.ts). */
export function gatewayRouteStep(t: MeshTables, plans: ReturnType<typeof merge<import('../sidecar/routing/l4Plan').L4Plan>>, gateways: readonly string[], port: number, passthrough: boolean, sni: string | undefined, locate: Locator, ref: (k: string, ns: string, n: string) => ResourceRef): L4RouteStep {
  const first = plans[0].value;
  const chosen = first.kind === 'forward' ? first.origin : undefined;
  const steps = passthrough ? tlsRuleSteps(t, gateways, port, sni, chosen, locate) : tcpRuleSteps(t, gateways, port, chosen, locate);
  const source = chosen ? ref(chosen.kind, chosen.namespace, chosen.name) : undefined;
  if (first.kind === 'error') return { ...(source ? { source } : {}), rules: steps, action: 'refused', flag: first.flag, message: first.message };
  return {
    ...(source ? { source } : {}), rules: steps, ...(chosen ? { chosen: ruleOf(chosen) } : {}), routeName: first.routeName, action: 'forward',
    destinations: plans.filter((p) => p.value.kind === 'forward').map(({ value, probability }) => {
      const f = value as Extract<typeof value, { kind: 'forward' }>;
      return { host: f.host, port: f.port, ...(f.subset !== undefined ? { subset: f.subset } : {}), probability };
    }),
  };
}

/** tcp[] rules in pilot's order: the first that holds takes the connection, the ones after it are not looked at. */
function tcpRuleSteps(t: MeshTables, gateways: readonly string[], port: number, chosen: RouteOrigin | undefined, locate: Locator): RuleStep[] {
  const steps: RuleStep[] = [];
  let taken = false;
  for (const gateway of gateways) {
    if (taken) break;
    // As pilot's l4SingleMatch: port and gateways only, no source predicates at a gateway.
    const a: L4Attributes = { port, gateway };
    for (const vs of t.gatewayRoutes) {
      if (taken || !vs.gateways.includes(gateway)) continue;
      const elsewhere = notServedHere(t, gateway, port, 'tcp', vs);
      for (const r of vs.tcp) {
        const rule = ruleOf(r.origin)!;
        if (taken || steps.some((s) => sameRule(s.rule, rule))) continue;
        const at = locatedAt(locate, rule);
        if (elsewhere) { steps.push({ rule, ...at, matched: false, failed: [elsewhere] }); continue; }
        if (chosen && r.origin === chosen) {
          steps.push({ rule, ...at, matched: true, because: r.matches === null ? 'no match conditions: every connection' : describeMatch(r.matches.find((x) => x.test(a))!, a) });
          taken = true;
          continue;
        }
        const failed = r.route.length === 0 ? ['it has no route'] : (r.matches ?? []).map((x) => staticFailure(x, a)).filter((f): f is string => f !== undefined);
        steps.push({ rule, ...at, matched: false, failed: failed.length ? failed : ['a rule before it took the connection'] });
      }
    }
  }
  return steps;
}

/**
 * tls[] rules as the port's filter chains weigh them (gatewayTlsChains): every rule is looked at, the most specific
 * server name takes the connection whatever the rule's place; a match pilot dropped as a duplicate says which rule kept the name.
 */
function tlsRuleSteps(t: MeshTables, gateways: readonly string[], port: number, sni: string | undefined, chosen: RouteOrigin | undefined, locate: Locator): RuleStep[] {
  const { chains, dropped } = gatewayTlsChains(t, gateways, port);
  const winner = pickGatewayTlsChain(chains, sni);
  const name = (r: CompiledL4Rule) => `${r.origin.kind} ${r.origin.namespace}/${r.origin.name} ${r.origin.section}[${r.origin.rule}]`;
  const steps: RuleStep[] = [];
  for (const gateway of gateways) {
    const a: L4Attributes & { sni?: string } = { port, gateway, ...(sni ? { sni } : {}) };
    for (const vs of t.gatewayRoutes) {
      if (!vs.gateways.includes(gateway)) continue;
      const elsewhere = notServedHere(t, gateway, port, 'tls', vs);
      for (const r of vs.tls) {
        const rule = ruleOf(r.origin)!;
        if (steps.some((s) => sameRule(s.rule, rule))) continue;
        const at = locatedAt(locate, rule);
        if (elsewhere) { steps.push({ rule, ...at, matched: false, failed: [elsewhere] }); continue; }
        if (chosen && r.origin === chosen && winner) {
          steps.push({ rule, ...at, matched: true, because: describeMatch(winner.match, a) });
          continue;
        }
        if (r.route.length === 0) { steps.push({ rule, ...at, matched: false, failed: ['it has no route'] }); continue; }
        const failed = (r.matches ?? []).map((m): string => {
          const held = staticFailure(m, a);
          if (held) return held;
          const skip = dropped.find((d) => d.match === m);
          if (skip) return `skipped: sniHosts ${JSON.stringify(skip.duplicates)} already claimed on port ${port} by ${name(skip.claimedBy)} (istiod: "duplicate SNI host names")`;
          if (sniChainScore(m.sniHosts, sni) === 0) return sni ? `server name "${sni}" not in sniHosts ${JSON.stringify(m.sniHosts ?? [])}` : `the ClientHello names no server (SNI), and sniHosts ${JSON.stringify(m.sniHosts ?? [])} need one`;
          return `server name "${sni ?? '(none)'}" matches sniHosts ${JSON.stringify(m.sniHosts ?? [])}, but a more specific entry (${JSON.stringify(winner?.match.sniHosts ?? [])} of ${winner ? name(winner.rule) : '?'}) takes it`;
        });
        steps.push({ rule, ...at, matched: false, failed: failed.length ? failed : ['it has no match'] });
      }
    }
  }
  return steps;
}

/** Why a bound VirtualService adds no filter chain to the Gateway's servers on the port (pilot pickMatchingGatewayHosts); undefined when one serves it. */
function notServedHere(t: MeshTables, gateway: string, port: number, kind: 'tls' | 'tcp', vs: CompiledVirtualService): string | undefined {
  const servers = gatewayServersOn(t, gateway, port, kind);
  if (servers.some((s) => serverTakes(s, vs))) return undefined;
  const hosts = servers.flatMap((s) => s.hosts.map((h, i) => (s.hostNamespaces[i] ? `${s.hostNamespaces[i]}/${h}` : h)));
  return `VirtualService ${vs.namespace}/${vs.name}: its hosts ${JSON.stringify([...new Set(vs.hosts)])} overlap no host of the server of ${gateway} on port ${port} (${JSON.stringify(hosts)}) its namespace may bind: istiod builds no filter chain from it there`;
}

const sameRule = (a: RuleStep['rule'], b: RuleStep['rule']) => JSON.stringify(a) === JSON.stringify(b);

function locatedAt(locate: Locator, rule: NonNullable<ReturnType<typeof ruleOf>>): { location?: NonNullable<RuleStep['location']> } {
  const location = locate(rule, l4RulePath(rule));
  return location ? { location } : {};
}
