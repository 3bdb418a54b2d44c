/**
 * The static walk of one TCP (or TLS passthrough) connection, the L4
 * counterpart of walk.ts: from a workload's sidecar to the workload that
 * would take it, decided by the functions the L4 chain runs
 * (chains.ts outboundL4Chain, inboundL4Chain) — the tcp[]/tls[] route plan
 * (planL4, with the ClientHello's server name on a TLS port), the endpoint
 * pick (chooseL4Endpoint), the tunnel's mTLS, PeerAuthentication on the
 * callee's port, and network RBAC over the policies as pilot rewrites them
 * for TCP (forTcp: an ALLOW rule with an HTTP-only field never matches, a
 * DENY rule loses those fields). Random choices are odds (odds.ts); the
 * records each sidecar would write are built with the sidecars' builders
 * (l4/decisions.ts). Pure.
 */
import type { MeshSnapshot, WorkloadInfo } from '../protocol';
import { authorityPort, qualifyHost } from '../policy/hosts';
import { protocolClass } from '../policy/protocols';
import type { AuthzRule, Resource } from '../policy/model';
import { compileTables, routeKey, serviceForAuthority, type CompiledL4Rule, type MeshTables } from '../sidecar/tables';
import { planL4, type L4ForwardPlan, type L4Plan } from '../sidecar/routing/l4Plan';
import { sniChainScore, type L4Attributes, type CompiledL4Match } from '../sidecar/routing/l4Match';
import { portsOf, requestedPort } from '../sidecar/routing/servicePorts';
import { newLbStats } from '../sidecar/routing/loadBalancer';
import { chooseL4Endpoint, l4LbKey } from '../sidecar/l4/endpoint';
import { tcpAuthorize, tcpAuthzRequest } from '../sidecar/l4/authz';
import { tcpCustomDecision } from '../sidecar/l4/extAuthz';
import { providerAt } from '../sidecar/filters/extAuthz';
import { l4AttemptRecord, l4MtlsRecord, l4RouteRecord, CONNECTED } from '../sidecar/l4/decisions';
import { explainPolicy, type AuthzDecision, type AuthzRequest } from '../sidecar/security/authorization';
import { admits } from '../sidecar/security/peerAuthentication';
import { httpOnlyFields, withoutHttpOnlyFields } from '../sidecar/security/tcpAuthorization';
import { poolLimits, tcpIdleTimeoutMs, UNLIMITED } from '../sidecar/resilience/connectionPool';
import { outlierSettings } from '../sidecar/resilience/outlierDetection';
import { clusterName } from '../sidecar/resilience/state';
import { authzRecord, ruleOf, type DecisionRecord, type RuleRef } from '../sidecar/decisions';
import { explore, merge } from './odds';
import type { EndpointStep, Outcome, ResourceRef, RuleStep } from './result';
import { denialReason, ExplainUsageError, type ExplainOptions, type Locator } from './walk';
import type { GatewayHandshake } from './gatewayTls';
import { explainGatewayConnection, gatewayRouteStep } from './walkGatewayL4';
import { isEgressGateway } from '../policy/egress-gateway';
import { egressGatewayServers, noEgressGatewayServer, planEgressGateway } from '../sidecar/l4/egressGatewayRoute';

export interface ExplainConnection {
  /** A workload name. */
  from: string;
  protocol: 'tcp' | 'tls';
  /** `host:port` as the app names it (its CONNECT target, or the service of its local upstream port). */
  target: string;
  /** tls: the server name of the app's ClientHello; absent: a ClientHello without SNI. */
  sni?: string;
  /** From the ingress: the client certificate (PEM) the client presents when a Gateway TLS server asks for one. */
  clientCert?: string;
  /** What a gRPC external authorizer (AuthorizationPolicy CUSTOM) is assumed to answer; unknown when absent. */
  extAuthz?: 'allow' | 'deny';
}

export interface L4RouteStep {
  source?: ResourceRef;
  rules: RuleStep[];
  chosen?: RuleRef;
  routeName?: string;
  action: 'forward' | 'refused';
  flag?: string;
  message?: string;
  destinations?: Array<{ host: string; port: number; subset?: string; weight?: number; probability: number }>;
}

export interface L4DestinationStep {
  cluster: string;
  host: string;
  port: number;
  subset?: string;
  probability: number;
  workloads: string[];
  problem?: string;
  loadBalancer: string;
  endpoints: Array<{ workload: string; probability: number }>;
  /** maxConnections (UO past it) and connectTimeout (UF past it), and where they come from. */
  connectionPool: { maxConnections?: number; connectTimeoutMs: number; idleTimeoutMs: number; source: string };
  /** Connect failures and timeouts count as gateway errors (and 5xx) for ejection. */
  outlierDetection?: Record<string, number | boolean>;
  at: EndpointStep[];
}

export interface ExplainConnectionResult {
  connection: ExplainConnection;
  caller: { proxy: string; namespace: string; spiffeId: string; listener: 'outbound' | 'ingress' };
  /** From the ingress: the Gateway server port the client connects to, what kind of server it is, and its TLS handshake when it terminates TLS. */
  gateway?: {
    /** `mixed`: a port whose servers the server name splits, when it picked none of them. */
    port: number; kind: 'terminated' | 'passthrough' | 'tcp' | 'mixed'; gateways: string[]; handshake?: GatewayHandshake;
    /** The AuthorizationPolicies selecting the ingress, as its network RBAC reads them for this connection (none: no policy selects it). */
    authz?: EndpointStep['authz'];
    /** Its CUSTOM policies on this connection (the network ext_authz), when any matches. */
    custom?: EndpointStep['custom'];
  };
  defaults: { flavor: string; version: string };
  host: { authority: string; service?: { name: string; namespace: string; fqdn: string }; port?: { port: number; name: string; protocol: string }; problem?: string };
  route: L4RouteStep;
  destinations: L4DestinationStep[];
  /** A connection the route sends to the egress gateway: what the gateway does with it (its server on the port, its tls[]/tcp[] route, the external host). */
  egressGateway?: EgressGatewayStep;
  /** kind `answered`: connected to the app; `refused`: closed by the mesh. */
  outcomes: Outcome[];
  outcome: string;
  answered: boolean;
}

/**
 * The egress gateway's side of a connection a sidecar sent it (l4/egressGatewayRoute.ts in the gateway's inbound
 * L4 chain): the Gateways with a server on the Service port the sidecar named, the kind of server there, their
 * VirtualServices' tls[] (by the ClientHello's server name) or tcp[] rules, and the cluster it connects to.
 */
export interface EgressGatewayStep {
  proxy: string;
  port: number;
  /** `terminated`: a TLS server that terminates (ISTIO_MUTUAL: the sidecar's tunnel is its handshake), routed by tcp[]. */
  kind: 'passthrough' | 'terminated' | 'tcp';
  gateways: string[];
  route: L4RouteStep;
  destinations: L4DestinationStep[];
}

const pct = (p: number) => `${Number((p * 100).toFixed(1))} %`;
const LOOPBACK = '127.0.0.1';

export function explainConnection(snapshot: MeshSnapshot, c: ExplainConnection, opts: ExplainOptions = {}): ExplainConnectionResult {
  if (c.from === 'ingress' || c.from === snapshot.ingress.name) return explainGatewayConnection(snapshot, c, opts);
  if (c.clientCert !== undefined) throw new ExplainUsageError('--client-cert is for a client of the ingress (--from ingress): between sidecars the client certificate is the workload\'s own');
  if (!snapshot.workloads.some((w) => w.name === c.from)) {
    throw new ExplainUsageError(`--from ${c.from}: no such workload; use one of ${snapshot.workloads.map((w) => w.name).join(', ')} (a TCP connection leaves from a workload's sidecar)`);
  }
  const { tables, locate, ref } = walkTools(snapshot, opts);
  const t = tables(c.from);
  const proxy = t.identity.name;
  const base = {
    connection: c,
    caller: { proxy, namespace: t.identity.namespace, spiffeId: t.identity.spiffeId, listener: 'outbound' as const },
    defaults: { flavor: t.defaults.flavor, version: t.defaults.version },
  };
  const refusedEarly = (host: ExplainConnectionResult['host'], flag: string, reason: string, message: string): ExplainConnectionResult => {
    const outcomes: Outcome[] = [{ probability: 1, kind: 'refused', flags: flag, summary: `closed (${flag} ${reason}): ${message}`, records: [{ step: 'request', config: snapshot.version }] }];
    return { ...base, host, route: { rules: [], action: 'refused', flag, message }, destinations: [], outcomes, outcome: outcomes[0].summary, answered: false };
  };

  if (!/^[^\s:/]+:\d+$/.test(c.target)) throw new ExplainUsageError(`${c.protocol} ${c.target}: write the target as host:port, e.g. redis:6379`);
  const service = serviceForAuthority(t, c.target);
  if (!service) return refusedEarly({ authority: c.target, problem: `no service ${c.target} as ${proxy} resolves names (namespace ${t.hostNamespace})` }, 'NR', 'unknown-upstream', `${c.target} is not a mesh service`);
  const portNumber = requestedPort(service, authorityPort(c.target));
  const port = portNumber === undefined ? undefined : portsOf(service).find((p) => p.port === portNumber);
  const host: ExplainConnectionResult['host'] = { authority: c.target, service: { name: service.name, namespace: service.namespace, fqdn: service.fqdn } };
  if (!port) return refusedEarly({ ...host, problem: `${service.name}.${service.namespace} has no port ${authorityPort(c.target)}` }, 'NR', 'unknown-destination-port', `${service.name} has no port ${authorityPort(c.target)}`);
  host.port = { port: port.port, name: port.name, protocol: port.protocol };
  const kind = protocolClass(port.protocol);
  if (kind === 'http') host.problem = `port ${port.port} (${port.name}) is ${port.protocol}: the sidecar serves HTTP on it per request (devmesh explain METHOD URL), not one TCP relay`;
  if (c.protocol === 'tls' && kind !== 'tls') throw new ExplainUsageError(`tls ${c.target}: port ${port.port} (${port.name}) is ${port.protocol}, not TLS: routed without SNI (use tcp ${c.target})`);
  if (c.protocol === 'tcp' && kind === 'tls') throw new ExplainUsageError(`tcp ${c.target}: port ${port.port} (${port.name}) is ${port.protocol}: its tls[] rules route by the ClientHello's server name (use tls ${c.target} --sni NAME)`);
  if (kind === 'http') return refusedEarly(host, 'NR', 'http-port', host.problem!);

  const table = t.routes.get(routeKey(service.fqdn, port.port));
  if (!table) return refusedEarly(host, 'NR', 'unknown-port', `no route table for ${c.target}`);
  const attrs: L4Attributes & { sni?: string } = { port: port.port, sourceLabels: t.identity.labels, sourceNamespace: t.identity.namespace, gateway: 'mesh', ...(c.sni !== undefined ? { sni: c.sni.toLowerCase() } : {}) };
  const plans = merge(explore((random) => planL4(t, table, attrs, random)), planKey);
  const route = routeStep(plans, table.tls.length > 0 ? table.tls : table.tcp, table.tls.length > 0, attrs, locate, ref);

  const request: DecisionRecord = { step: 'request', config: snapshot.version, target: c.target };
  const egress: EgressWalk = { sni: attrs.sni };
  const { destinations, outcomes } = connectionOutcomes(t, tables, plans, request, c.target, locate, ref, c.extAuthz, egress);
  return { ...base, host, route, destinations, ...(egress.step ? { egressGateway: egress.step } : {}), ...ended(outcomes) };
}

/** What a walk needs to go on through the egress gateway: the ClientHello's server name; the gateway's step, once walked. */
interface EgressWalk {
  sni?: string;
  step?: EgressGatewayStep;
}

/**
 * The egress gateway's own route for a connection a sidecar tunnelled to its Service port `port`, by the functions
 * its chain runs (egressGatewayServers, planEgressGateway), and each way it ends from there (its outcomes' records
 * are its access-log entry's, after the inbound admission: the route, then the attempt to the external host).
 */
function egressGatewayWalk(gw: MeshTables, tables: (w: string) => MeshTables, port: number, sni: string | undefined, locate: Locator, ref: (k: string, ns: string, n: string) => ResourceRef, extAuthz?: 'allow' | 'deny'): { step: EgressGatewayStep; outcomes: Outcome[] } {
  const servers = egressGatewayServers(gw, port);
  const proxy = gw.identity.name;
  if (!servers) {
    const plan: L4Plan = { kind: 'error', flag: 'NR', reason: 'no-gateway-route', message: noEgressGatewayServer(port) };
    const step: EgressGatewayStep = { proxy, port, kind: 'tcp', gateways: [], route: { rules: [], action: 'refused', flag: 'NR', message: plan.message }, destinations: [] };
    return { step, outcomes: [{ probability: 1, kind: 'refused', flags: 'NR', summary: `closed (NR no-gateway-route): ${plan.message}`, records: [l4RouteRecord(plan, proxy)] }] };
  }
  const passthrough = servers.tls;
  const plans = merge(explore((random) => planEgressGateway(gw, servers, port, sni, random)), planKey);
  const route = gatewayRouteStep(gw, plans, servers.names, port, passthrough, sni, locate, ref);
  // The gateway's inbound has no CONNECT target: the request record is not its, nor an authority for the endpoint pick.
  const { destinations, outcomes } = connectionOutcomes(gw, tables, plans, { step: 'request', config: gw.snapshot.version }, undefined, locate, ref, extAuthz);
  return {
    step: { proxy, port, kind: passthrough ? 'passthrough' : terminates(gw, servers.names, port) ? 'terminated' : 'tcp', gateways: servers.names, route, destinations },
    outcomes: outcomes.map((o) => ({ ...o, records: o.records.slice(1) })),
  };
}

const terminates = (t: MeshTables, gateways: readonly string[], port: number) => gateways.some((g) => t.gateways.get(g)?.servers.some((s) => s.port === port && s.terminatedTcp));

/**
 * A connection the egress gateway admitted (its mTLS, its CUSTOM and RBAC verdict: `v`), on through the gateway:
 * one outcome per way the gateway's own route ends. The caller's records stay the caller's hop (as its access log
 * has them, the gateway's admission after its attempt); `next` holds the gateway's entry. Denied by the gateway's
 * RBAC: it had routed and connected upstream all the same (its verdict waits for the first bytes), then closed.
 */
function throughEgressGateway(o: Outcome, v: L4Verdict, gw: { step: EgressGatewayStep; outcomes: Outcome[] }): Outcome[] {
  const proxy = gw.step.proxy;
  return gw.outcomes.map((g) => {
    const probability = o.probability * g.probability;
    const next = { proxy, records: [...v.records, ...g.records] };
    if (v.refused) return { ...o, probability, next };
    // No filter chain for it on a port not routed by the ClientHello (a TCP or terminating server, or no server there): the
    // gateway closes the tunnel before it is up, and the caller's attempt fails to connect (UF), as Envoy's does.
    const first = g.records[0];
    if (gw.step.kind !== 'passthrough' && first?.step === 'route' && first.action === 'refused') {
      const records = o.records.map((r) => (r.step === 'attempt' && r.endpoint === proxy ? { ...r, result: 'UF' } : r));
      return { probability, kind: 'refused', flags: 'UF', summary: `refused by the egress gateway ${proxy} before the tunnel is up (UF at the caller): ${g.summary}`, records, next };
    }
    const summary = g.kind === 'answered'
      ? `${g.summary} through the egress gateway ${proxy}`
      : `through the tunnel to the egress gateway ${proxy}, then ${g.summary.replace(/^closed/, 'closed by it')}`;
    return { probability, kind: g.kind, ...(g.flags ? { flags: g.flags } : {}), summary, records: o.records, next };
  });
}

/** Each way the routed connection can end: per plan its cluster, per endpoint what its sidecar decides. */
export function connectionOutcomes(t: MeshTables, tables: (w: string) => MeshTables, plans: Array<{ value: L4Plan; probability: number }>, request: DecisionRecord, authority: string | undefined, locate: Locator, ref: (k: string, ns: string, n: string) => ResourceRef, extAuthz?: 'allow' | 'deny', egress?: EgressWalk): { destinations: L4DestinationStep[]; outcomes: Outcome[] } {
  const proxy = t.identity.name;
  const destinations: L4DestinationStep[] = [];
  const outcomes: Outcome[] = [];
  for (const { value: plan, probability } of plans) {
    const routed = l4RouteRecord(plan, proxy);
    if (plan.kind === 'error') {
      outcomes.push({ probability, kind: 'refused', flags: plan.flag, summary: `closed (${plan.flag} ${plan.reason}): ${plan.message}`, records: [request, routed] });
      continue;
    }
    const { step, none, tlsMode } = destinationStep(t, plan, probability, authority);
    destinations.push(step);
    // One endpoint pick per connection: each workload's share, then what its sidecar decides.
    if (none) {
      outcomes.push({ probability, kind: 'refused', flags: none, summary: `closed (${none}): ${step.problem}`, records: [request, routed, l4AttemptRecord(undefined, none)] });
      continue;
    }
    for (const e of step.endpoints) {
      const ep = t.workloadByName.get(e.workload);
      // A ServiceEntry host's endpoint has no sidecar: a plain connection to its address.
      const v = ep ? verdictAt(t, tables(ep.name), ep, plan, tlsMode, locate, ref, step.at, extAuthz) : { records: [] as DecisionRecord[], result: CONNECTED };
      const p = probability * e.probability;
      const where = step.subset ? ` (subset ${step.subset}${step.probability < 1 ? `, ${pct(step.probability)}` : ''})` : step.probability < 1 ? ` (${pct(step.probability)})` : '';
      const records = [request, routed, l4AttemptRecord(e.workload, v.result), ...v.records];
      let o: Outcome;
      // Denied by its network ext_authz or RBAC: on the client's first bytes, the tunnel and its app connection already up (the attempt connected).
      if (v.refused) o = { probability: p, kind: 'refused', ...(v.result !== '403' && v.result !== CONNECTED ? { flags: v.result } : {}), summary: `closed by ${e.workload}'s sidecar${v.result === CONNECTED ? ' on the client\'s first bytes' : ''}: ${v.refused}`, records };
      else o = { probability: p, kind: 'answered', summary: `connected to ${e.workload}${where}${v.unless ? ` ${v.unless}` : ''}`, records };
      // The egress gateway routes what its inbound admitted on to the external host (its network RBAC decides on the first bytes, after it connected).
      if (egress && ep && isEgressGateway(ep) && v.result === CONNECTED) {
        const gw = egressGatewayWalk(tables(ep.name), tables, plan.port, egress.sni, locate, ref, extAuthz);
        egress.step ??= gw.step;
        outcomes.push(...throughEgressGateway(o, v, gw));
      } else outcomes.push(o);
    }
  }
  return { destinations, outcomes };
}

/** The outcomes merged, the headline, and whether any connects. */
export function ended(outcomes: Outcome[]): Pick<ExplainConnectionResult, 'outcomes' | 'outcome' | 'answered'> {
  const merged = merge(outcomes.map((o) => ({ value: o, probability: o.probability })), (o) => `${o.kind}|${o.summary}|${JSON.stringify(o.records)}|${JSON.stringify(o.next ?? null)}`).map(({ value, probability }) => ({ ...value, probability }));
  return {
    outcomes: merged,
    outcome: merged.map((o) => `${o.summary}${merged.length > 1 ? ` — ${pct(o.probability)}` : ''}`).join('\n'),
    answered: merged.some((o) => o.kind === 'answered'),
  };
}

/** What a connection's walk looks things up with: each workload's tables (compiled once), where a resource is written, and a resource reference with its place. */
export function walkTools(snapshot: MeshSnapshot, opts: ExplainOptions): { tables: (w: string) => MeshTables; locate: Locator; ref: (kind: string, namespace: string, name: string) => ResourceRef } {
  const tablesOf = new Map<string, MeshTables>();
  const tables = (w: string) => {
    let t = tablesOf.get(w);
    if (!t) tablesOf.set(w, (t = compileTables(snapshot, w)));
    return t;
  };
  const locate: Locator = opts.locate ?? (() => undefined);
  const ref = (kind: string, namespace: string, name: string): ResourceRef => {
    const location = locate({ kind, namespace, name });
    return location ? { kind, namespace, name, location } : { kind, namespace, name };
  };
  return { tables, locate, ref };
}

export function planKey(p: L4Plan): string {
  return p.kind === 'forward' ? `forward|${p.host}|${p.port}|${p.subset ?? ''}|${p.routeName}` : `error|${p.reason}`;
}

/** The rule path of a tcp[]/tls[] rule in its VirtualService, or of a TLSRoute's or TCPRoute's rules[] item. */
export const l4RulePath = (r: RuleRef) => (r.kind === 'TLSRoute' || r.kind === 'TCPRoute' ? ['spec', 'rules', r.rule] : ['spec', r.section ?? 'tcp', r.rule]);

/** Each rule as the route filter weighs it: matched, or the first static predicate (or the server name) each of its matches failed. */
function routeStep(plans: Array<{ value: L4Plan; probability: number }>, rules: readonly CompiledL4Rule[], tls: boolean, a: L4Attributes & { sni?: string }, locate: Locator, ref: (k: string, ns: string, n: string) => ResourceRef): L4RouteStep {
  const first = plans[0].value;
  const chosen = first.kind === 'forward' ? first.origin : undefined;
  const steps: RuleStep[] = [];
  for (const r of rules) {
    const rule = ruleOf(r.origin)!;
    const location = locate(rule, l4RulePath(rule));
    const at = location ? { location } : {};
    if (chosen && r.origin === chosen) {
      steps.push({ rule, ...at, matched: true, because: r.matches === null ? 'no match conditions: every connection' : describeMatch(r.matches.find((m) => m.test(a) && (!tls || sniOf(m, a.sni) > 0))!, a) });
      if (!tls) break;
      continue;
    }
    if (r.route.length === 0) { steps.push({ rule, ...at, matched: false, failed: ['it has no route'] }); continue; }
    const failed = (r.matches ?? []).map((m) => staticFailure(m, a) ?? (tls ? sniFailure(m, a.sni, chosen !== undefined) : undefined)).filter((f): f is string => f !== undefined);
    steps.push({ rule, ...at, matched: false, failed: failed.length ? failed : ['a rule before it took the connection'] });
  }
  const source = chosen ? ref(chosen.kind, chosen.namespace, chosen.name) : undefined;
  if (first.kind === 'error') return { ...(source ? { source } : {}), rules: steps, action: 'refused', flag: first.flag, message: first.message };
  const hit = rules.find((r) => r.origin === chosen);
  const dests = hit?.route ?? [];
  const total = dests.reduce((s, d) => s + (d.weight ?? (dests.length === 1 ? 100 : 0)), 0);
  return {
    ...(source ? { source } : {}), rules: steps, ...(chosen ? { chosen: ruleOf(chosen) } : {}), routeName: first.routeName, action: 'forward',
    destinations: plans.filter((p) => p.value.kind === 'forward').map(({ value, probability }) => {
      const f = value as L4ForwardPlan;
      const d = dests.find((x) => x.destination.subset === f.subset && qualifyHost(x.destination.host, chosen!.namespace) === f.host);
      return { host: f.host, port: f.port, ...(f.subset !== undefined ? { subset: f.subset } : {}), ...(d && dests.length > 1 && total > 0 ? { weight: d.weight ?? 0 } : {}), probability };
    }),
  };
}

function sniOf(m: CompiledL4Match, sni: string | undefined): number {
  return sniChainScore(m.sniHosts, sni);
}

export function describeMatch(m: CompiledL4Match, a: L4Attributes & { sni?: string }): string {
  const s = m.source as { port?: number; sourceLabels?: Record<string, string>; sourceNamespace?: string; sniHosts?: string[] };
  const parts: string[] = [];
  if (s.port !== undefined) parts.push(`port ${s.port}`);
  // A gateway (no source attributes) does not look at them: say so rather than claim they matched.
  const ignored = a.sourceLabels === undefined ? ' (not checked at a gateway)' : '';
  if (s.sourceLabels) parts.push(`sourceLabels ${Object.entries(s.sourceLabels).map(([k, v]) => `${k}=${v}`).join(',')}${ignored}`);
  if (s.sourceNamespace) parts.push(`sourceNamespace ${s.sourceNamespace}${ignored}`);
  if (s.sniHosts?.includes('*')) parts.push(`sniHosts ${JSON.stringify(s.sniHosts)}: any server name, or none (a filter chain without server_names)`);
  else if (s.sniHosts && a.sni) parts.push(`server name "${a.sni}" in sniHosts ${JSON.stringify(s.sniHosts)}`);
  return parts.length ? parts.join(', ') : 'a match without conditions';
}

/** The first static predicate a connection fails (pilot evaluates these while building the listener). */
export function staticFailure(m: CompiledL4Match, a: L4Attributes): string | undefined {
  if (m.test(a)) return undefined;
  const s = m.source as { port?: number; sourceLabels?: Record<string, string>; sourceNamespace?: string; gateways?: string[] };
  if (s.port !== undefined && s.port !== a.port) return `port ${a.port} is not ${s.port}`;
  const have = a.sourceLabels;
  const label = have && Object.entries(s.sourceLabels ?? {}).find(([k, v]) => have[k] !== v);
  if (label && have) return `source label ${label[0]}=${have[label[0]] ?? '(unset)'} is not ${label[1]}`;
  if (s.sourceNamespace !== undefined && a.sourceNamespace !== undefined && s.sourceNamespace !== a.sourceNamespace) return `source namespace ${a.sourceNamespace} is not ${s.sourceNamespace}`;
  return `gateway ${a.gateway} not in gateways ${JSON.stringify(s.gateways ?? [])}`;
}

function sniFailure(m: CompiledL4Match, sni: string | undefined, taken: boolean): string {
  if (sniOf(m, sni) === 0 && !sni) return 'the ClientHello names no server (SNI)';
  return sniOf(m, sni) > 0 && taken ? `server name "${sni}" matches, but a more specific sniHosts entry (or an earlier rule) takes it` : `server name "${sni}" not in sniHosts ${JSON.stringify(m.sniHosts ?? [])}`;
}

export function destinationStep(t: MeshTables, plan: L4ForwardPlan, probability: number, authority: string | undefined): { step: L4DestinationStep; none?: 'NR' | 'UH'; tlsMode?: string } {
  const first = chooseL4Endpoint(t, plan, authority, LOOPBACK, newLbStats(), () => 0.5);
  const step: L4DestinationStep = {
    cluster: clusterName(plan), host: plan.host, port: plan.port, ...(plan.subset !== undefined ? { subset: plan.subset } : {}), probability,
    workloads: [], loadBalancer: '', endpoints: [], connectionPool: { connectTimeoutMs: 0, idleTimeoutMs: 0, source: '' }, at: [],
  };
  if (first.kind === 'unknown-subset') {
    step.problem = first.error;
    return { step, none: 'NR' };
  }
  step.workloads = first.endpoints.map((e) => e.name);
  const none = first.endpoints.length === 0 ? 'UH' as const : undefined;
  if (none) step.problem = `no workload of ${plan.host}${plan.subset ? ` in subset "${plan.subset}"` : ''} to connect to`;
  const policy = first.policy;
  const lb = policy.loadBalancer;
  step.loadBalancer = lb?.consistentHash ? 'consistent hash (on the source IP: a connection has no headers)' : lb?.simple && lb.simple !== 'UNSPECIFIED' ? lb.simple : t.defaults.loadBalancer;
  // A whole round-robin cycle of connections, one pick each.
  const n = Math.max(1, first.candidates.length);
  const picks: Array<{ value: string; probability: number }> = [];
  for (let i = 0; i < n; i++) {
    for (const b of explore((random) => {
      const stats = newLbStats();
      stats.roundRobin.set(l4LbKey(plan), i);
      return chooseL4Endpoint(t, plan, authority, LOOPBACK, stats, random);
    })) if (b.value.kind === 'chosen' && b.value.pick) picks.push({ value: b.value.pick.endpoint.name, probability: b.probability / n });
  }
  step.endpoints = merge(picks, (w) => w).map((e) => ({ workload: e.value, probability: e.probability }));
  const limits = poolLimits(policy.connectionPool, t.defaults.connectionPool);
  step.connectionPool = {
    ...(limits.maxConnections !== UNLIMITED ? { maxConnections: limits.maxConnections } : {}),
    connectTimeoutMs: limits.connectTimeoutMs,
    // The caller's tcp_proxy idle_timeout, by the same function the sidecar's toPeer uses.
    idleTimeoutMs: tcpIdleTimeoutMs(policy.connectionPool, t.defaults.connectionPool),
    source: policy.connectionPool?.tcp ? 'DestinationRule connectionPool.tcp' : `Istio ${t.defaults.version} defaults`,
  };
  if (policy.outlierDetection) step.outlierDetection = { ...outlierSettings(policy.outlierDetection, t.defaults.outlierDetection) };
  return { step, ...(none ? { none } : {}), ...(policy.tls?.mode ? { tlsMode: policy.tls.mode } : {}) };
}

export interface L4Verdict {
  records: DecisionRecord[];
  result: string;
  refused?: string;
  /** Connected only if an external authorizer whose answer is not assumed allows it: says so. */
  unless?: string;
}

/** How the tunnel goes out to one workload and what its sidecar's inbound decides (l4/toPeer.ts, l4/servicePort.ts, l4/authz.ts). */
export function verdictAt(caller: MeshTables, dest: MeshTables, ep: WorkloadInfo, plan: L4ForwardPlan, tls: string | undefined, locate: Locator, ref: (k: string, ns: string, n: string) => ResourceRef, at: EndpointStep[], extAuthz?: 'allow' | 'deny'): L4Verdict {
  const sends = tls !== 'DISABLE';
  const step: EndpointStep = {
    workload: ep.name,
    mtls: { sends, why: tls ? `DestinationRule tls.mode ${tls}` : 'a TCP tunnel between sidecars is mTLS unless the DestinationRule says DISABLE' },
    authz: { policies: [], allowed: true, reason: 'no AuthorizationPolicy selects it' },
  };
  if (!at.some((s) => s.workload === ep.name)) at.push(step);
  const records: DecisionRecord[] = [];
  const peer = { tls: sends, spiffeId: sends ? caller.identity.spiffeId : undefined };
  const inbound = dest.inbound?.byDestination.get(`${plan.host}:${plan.port}`.toLowerCase());
  if (!inbound) return { records, result: '404', refused: `${ep.name} serves no port ${plan.host}:${plan.port}` };
  const admitted = admits(inbound.mtls.mode, peer);
  const m = /^([^/ ]+)\/([^ ]+)/.exec(inbound.mtls.source);
  step.port = { port: inbound.number, mode: inbound.mtls.mode, source: m ? ref('PeerAuthentication', m[1], m[2]) : 'default', admitted };
  records.push(l4MtlsRecord(ep.name, inbound, peer));
  if (!admitted) return { records, result: 'UF', refused: `port ${inbound.number} is ${inbound.mtls.mode} (${m ? `PeerAuthentication ${m[1]}/${m[2]}` : 'the default'}) and resets a ${sends ? 'mTLS' : 'plaintext'} connection` };
  const req = tcpAuthzRequest({ spiffeId: peer.spiffeId, address: LOOPBACK }, inbound.number, undefined, dest.flavor.identity);
  // CUSTOM first (l4/extAuthz.ts): a gRPC authorizer's network ext_authz, before DENY and ALLOW.
  const custom = customGate(dest, req, extAuthz);
  if (custom) step.custom = custom.view;
  if (custom?.refused) {
    step.refusedBy = 'CUSTOM';
    if (custom.record) records.push(authzRecord(custom.record, ep.name));
    return { records, result: CONNECTED, refused: custom.refused };
  }
  const unless = custom?.unless ? { unless: custom.unless } : {};
  const rbac = networkRbac(dest, req, locate, ref);
  if (!rbac) return { records, result: CONNECTED, ...unless };
  step.authz = rbac.step;
  records.push(authzRecord(rbac.decision, ep.name));
  if (rbac.decision.allowed) return { records, result: CONNECTED, ...unless };
  return { records, result: CONNECTED, refused: `RBAC: access denied ${denialReason(step)}` };
}

/**
 * A proxy's CUSTOM policies on one connection (l4/extAuthz.ts tcpCustomDecision),
 * for the walk: what explain shows, and whether it closes the connection —
 * a provider that cannot be used closes it as a network RBAC DENY (`record`:
 * the authz record the sidecar writes); an authorizer's denial is an
 * assumption (`--ext-authz deny`), and without one the connection goes on
 * `unless` the authorizer denies it.
 */
export function customGate(t: MeshTables, req: AuthzRequest, assumed: 'allow' | 'deny' | undefined): { view: NonNullable<EndpointStep['custom']>; refused?: string; flag?: 'UAEX'; record?: AuthzDecision; unless?: string } | undefined {
  const custom = tcpCustomDecision(t, req);
  switch (custom.kind) {
    case 'none':
      return undefined;
    case 'ignored':
      return { view: { policies: custom.policies, provider: custom.provider, verdict: `not applied: ${custom.provider} is an envoyExtAuthzHttp provider, and pilot builds a network ext_authz only for envoyExtAuthzGrpc` } };
    case 'deny':
      return {
        view: { policies: [custom.policy], verdict: `closes the connection without asking: ${custom.why} (pilot turns the policy into a network RBAC DENY)` },
        refused: `RBAC: access denied by AuthorizationPolicy ${custom.policy} (CUSTOM): ${custom.why}`,
        record: { allowed: false, policy: custom.policy },
      };
    case 'ask': {
      const provider = providerAt(t, custom.provider);
      const asked = `the external authorizer ${custom.provider}${provider ? ` (${provider.address})` : ''}`;
      const view = { policies: custom.policies, provider: custom.provider, ...(provider ? { address: provider.address } : {}), verdict: assumed === undefined ? `${asked} checks the connection (assume its answer with --ext-authz allow|deny)` : `${asked} is assumed to ${assumed}` };
      if (assumed === 'deny') return { view, flag: 'UAEX', refused: `closed by ext_authz (UAEX): denied by ${asked}, asked by AuthorizationPolicy ${custom.policies.join(', ')} (CUSTOM)` };
      return { view, ...(assumed === undefined ? { unless: `unless ${asked} denies it (UAEX)` } : {}) };
    }
  }
}

/**
 * A proxy's network RBAC on one connection (l4/authz.ts): the policies that
 * select it (a workload, or the ingress gateway) as TCP reads them, the
 * decision with its rule as written, and each policy's view; none when no
 * policy selects the proxy.
 */
export function networkRbac(t: MeshTables, req: AuthzRequest, locate: Locator, ref: (k: string, ns: string, n: string) => ResourceRef): { decision: AuthzDecision; step: EndpointStep['authz'] } | undefined {
  const decided = tcpAuthorize(t, req);
  if (!decided) return undefined;
  const { decision, written } = decided;
  return { decision, step: { policies: written.map((p) => tcpPolicyView(p, req, t.snapshot.namespace, locate, ref)), allowed: decision.allowed, reason: decision.policy } };
}

/** One policy rule by rule as network RBAC reads it: an HTTP-only field ignores an ALLOW rule, and drops out of a DENY rule. */
function tcpPolicyView(p: Resource<'AuthorizationPolicy'>, req: AuthzRequest, ns: string, locate: Locator, ref: (k: string, ns: string, n: string) => ResourceRef): EndpointStep['authz']['policies'][number] {
  const allow = (p.spec.action ?? 'ALLOW') === 'ALLOW';
  const rules = (p.spec.rules ?? []).map((r: AuthzRule | null, i) => {
    const rule = r ?? {};
    const http = httpOnlyFields(rule);
    if (allow && http.length) return { rule: i, matched: false, failed: `HTTP-only ${http.join(', ')}: an ALLOW rule with them never matches a TCP connection` };
    const one = explainPolicy({ ...p, spec: { ...p.spec, rules: [http.length ? withoutHttpOnlyFields(rule) : rule] } }, req, ns).rules[0];
    const dropped = http.length ? ` (HTTP-only ${http.join(', ')} dropped for TCP)` : '';
    return one.matched ? { rule: i, matched: true, ...(dropped ? { failed: `matches${dropped}` } : {}) } : { rule: i, matched: false, failed: `${one.failed}${dropped}` };
  });
  const v = explainPolicy(p, req, ns);
  const r = ref('AuthorizationPolicy', v.policy.namespace, v.policy.name);
  const located = rules.map((x) => {
    const location = locate({ kind: 'AuthorizationPolicy', namespace: v.policy.namespace, name: v.policy.name }, ['spec', 'rules', x.rule]);
    return location ? { ...x, location } : x;
  });
  return { policy: r, action: v.action, dryRun: v.dryRun, matched: rules.findIndex((x) => x.matched), rules: located };
}
