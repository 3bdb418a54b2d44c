/**
 * The static walk behind `devmesh explain`: one request, from a workload's
 * sidecar (or the ingress) to the workloads that would answer it, decided by
 * the functions the sidecars run — route plan, fault, mirror, endpoint pick,
 * retry and timeout policy, auto mTLS, PeerAuthentication, AuthorizationPolicy
 * — in the order the filter chains run them (chains.ts). Random choices are
 * explored as odds (odds.ts), never rolled; what each sidecar would record is
 * built with the sidecars' own record builders (decisions.ts). Pure: a
 * snapshot and a request in, a result out.
 */
import { byCreation } from '../policy/gateway-api/age';
import { isMixedTlsPort, mixedPortChain } from '../sidecar/routing/mixedTlsPort';
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { routeKey, serviceForAuthority, compileTables, type CompiledRule, type InboundPort, type MeshTables } from '../sidecar/tables';
import type { Endpoint, MeshSnapshot, WorkloadInfo } from '../protocol';
import type { Provenance } from '../policy/defaults';
import { formatDuration } from '../policy/duration';
import { authorityPort, hostMatches, qualifyHost, stripPort } from '../policy/hosts';
import { ISTIO_INGRESS_GATEWAY, terminatingMode, type ServerTls } from '../policy/gateway-tls';
import { droppedGatewayServers } from '../policy/gateway-merge';
import { selectsEgressGateway } from '../policy/egress-gateway';
import { planRoute, forwardAs } from '../sidecar/filters/route';
import { filtersSee, mutateRequestHeaders } from '../sidecar/connectionManager';
import { inboundXfcc } from '../sidecar/filters/xfcc';
import { faultFor } from '../sidecar/filters/fault';
import { chooseEndpoint, lbKey } from '../sidecar/filters/endpoint';
import { eligibleEndpoints } from '../sidecar/filters/outlier';
import { retryPolicyOf } from '../sidecar/filters/retry';
import { authzPoliciesAt, authzRequest } from '../sidecar/filters/authz';
import { customDecisionAt, providerAt } from '../sidecar/filters/extAuthz';
import { jwtOutcome, providersOf } from '../sidecar/filters/jwt';
import { JWT_STATUS, jwtHttpStatus } from '../sidecar/security/jwtStatus';
import type { ProviderResult } from '../sidecar/security/jwtVerify';
import type { RequestAuth } from '../sidecar/security/requestAuthentication';
import { destinationOf, inboundPortFor } from '../sidecar/filters/servicePort';
import { requestTarget, sourceOf } from '../sidecar/listeners/outbound';
import { newLbStats, type LbStats } from '../sidecar/routing/loadBalancer';
import type { ForwardPlan, PlanObserver, RoutePlan } from '../sidecar/routing/plan';
import { effectiveWeights } from '../sidecar/routing/weights';
import { mirrorTargets } from '../sidecar/routing/mirror';
import { backoffCeilingMs, retriable, type AttemptOutcome, type RetryPolicy } from '../sidecar/resilience/retryPolicy';
import { weightedIndex, type RandomSource } from '../random';
import { ResilienceState } from '../sidecar/resilience/state';
import { Stats } from '../sidecar/stats';
import type { GatewayListenerRef, RequestContext, Source } from '../sidecar/context';
import { headerMs, PER_TRY_TIMEOUT_HEADER, routeTimeoutMs, TIMEOUT_HEADER } from '../sidecar/resilience/timeoutPolicy';
import { callTimeoutMs } from '../sidecar/grpc/timeout';
import { httpToGrpcStatus, isGrpc } from '../sidecar/grpc/status';
import { GRPC_STATUS, grpcStatusName } from '../policy/grpc-status';
import { admissionUnder, poolLimits, UNLIMITED } from '../sidecar/resilience/connectionPool';
import { overflow } from '../sidecar/filters/circuitBreaker';
import { outlierSettings } from '../sidecar/resilience/outlierDetection';
import { assumeEjected } from './ejected';
import type { FaultDecision } from '../sidecar/resilience/faultDecision';
import { authorize, explainPolicy, type PolicyVerdict } from '../sidecar/security/authorization';
import { admits } from '../sidecar/security/peerAuthentication';
import { normalizePath } from '../sidecar/security/pathNormalize';
import { sendsMtls } from '../sidecar/security/upstreamTls';
import { portsOf, protocolOf, requestedPort, speaksHttp2 } from '../sidecar/routing/servicePorts';
import type { EffectivePolicy } from '../sidecar/routing/trafficPolicy';
import { clusterName } from '../sidecar/resilience/state';
import {
  attemptRecord, authzRecord, faultRecord, mirrorRecord, mtlsRecord, routeRecord, ruleOf,
  type DecisionRecord, type RuleRef,
} from '../sidecar/decisions';
import { explore, merge } from './odds';
import { gatewayHandshake, type GatewayChain, type GatewayHandshake } from './gatewayTls';
import { pastDeadline } from './deadline';
import { tokensIn, type TokenVerdicts } from './tokens';
import type { DestinationStep, EndpointStep, ExplainRequest, ExplainResult, HostStep, Location, Outcome, ResourceRef, RouteStep, RuleStep } from './result';

/** Finds where a resource (or one of its fields) is written; the CLI reads the policy files for it. */
export type Locator = (ref: { kind: string; namespace: string; name: string }, path?: readonly (string | number)[]) => Location | undefined;

export interface ExplainOptions {
  locate?: Locator;
  /** Epoch millis, for runtime faults' expiry. */
  now?: number;
  /** The request's JWTs, verified beforehand (verifyRequestTokens); without them a token is reported unverified. */
  tokens?: TokenVerdicts;
  /** The certificates the ingress serves on its Gateway ports, as `up` gives them (`namespace/name:port` -> chains): which chain a server name picks, and the client CA a MUTUAL server verifies with. */
  listenerCertificates?: Record<string, GatewayChain[]>;
}

/** A request explain cannot read (unknown workload, bad URL): a usage error, exit 2. */
export class ExplainUsageError extends Error {}

export function explainRequest(snapshot: MeshSnapshot, req: ExplainRequest, opts: ExplainOptions = {}): ExplainResult {
  return new Walk(snapshot, req, opts).run();
}

/** The request as the caller's sidecar holds it after the connection manager (path normalized). */
interface CallerRequest {
  method: string;
  path: string;
  authority: string;
  proxyForm: boolean;
  headers: IncomingHttpHeaders;
  gatewayListener?: GatewayListenerRef;
  /** At the ingress: the end user its RequestAuthentication verified, for `@request.auth.claims` route matches. */
  auth?: RequestAuth;
}

/** A Gateway API listener hostname (`*.example.com` matches one or more labels) against the request's host. */
function hostnameMatches(hostname: string, authority: string): boolean {
  const host = authority.replace(/:\d+$/, '').toLowerCase();
  const h = hostname.toLowerCase();
  return h.startsWith('*.') ? host.endsWith(h.slice(1)) : host === h;
}

const pct = (p: number) => `${Number((p * 100).toFixed(1))} %`;

class Walk {
  private readonly tablesOf = new Map<string | null, MeshTables>();
  private readonly caller: MeshTables;
  private readonly role: 'sidecar' | 'ingress';
  private readonly locate: Locator;
  private readonly now: number;
  private readonly tokens?: TokenVerdicts;
  /** A gRPC call (content-type application/grpc): the sidecars answer it with trailers-only 200s (grpc/localReply.ts). */
  private readonly grpc: boolean;

  constructor(private readonly snapshot: MeshSnapshot, private readonly req: ExplainRequest, private readonly opts: ExplainOptions) {
    const from = req.from === 'ingress' || req.from === snapshot.ingress.name ? null : req.from;
    if (from !== null && !snapshot.workloads.some((w) => w.name === from)) {
      throw new ExplainUsageError(`--from ${req.from}: no such workload; use one of ${[...snapshot.workloads.map((w) => w.name), 'ingress'].join(', ')}`);
    }
    const unknown = (req.ejected ?? []).find((w) => !snapshot.workloads.some((x) => x.name === w));
    if (unknown !== undefined) throw new ExplainUsageError(`--ejected ${unknown}: no such workload; use one of ${snapshot.workloads.map((w) => w.name).join(', ')}`);
    this.role = from === null ? 'ingress' : 'sidecar';
    this.caller = this.tables(from);
    this.locate = opts.locate ?? (() => undefined);
    this.now = opts.now ?? Date.now();
    this.tokens = opts.tokens;
    this.grpc = isGrpc(Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k.toLowerCase(), v])));
  }

  private tables(workload: string | null): MeshTables {
    let t = this.tablesOf.get(workload);
    if (!t) this.tablesOf.set(workload, (t = compileTables(this.snapshot, workload)));
    return t;
  }

  run(): ExplainResult {
    const t = this.caller;
    // https:// at the ingress: the Istio Gateway server port whose TLS the ingress terminates (istioTls below).
    const https = this.role === 'ingress' && /^https:\/\//i.test(this.req.url);
    const target = requestTarget(https ? this.req.url.replace(/^https/i, 'http') : this.req.url, undefined);
    if ('error' in target) throw new ExplainUsageError(`${this.req.url}: ${target.error}; write the URL as http://host[:port]/path`);
    const headers: IncomingHttpHeaders = {};
    for (const [k, v] of Object.entries(this.req.headers)) headers[k.toLowerCase()] = v;
    headers.host = target.authority;
    const proxyForm = this.role === 'ingress' ? this.req.proxyForm === true : true;
    // The connection manager normalizes the path before any filter (normalize.ts).
    const path = normalizePath(target.path, t.defaults.pathNormalization);
    const tls = https && !this.req.gateway ? this.istioTls(target.authority) : undefined;
    // A port shared with TLS servers: the server name may pick one of their chains, where no HTTP request is read.
    const tlsPort = tls?.port ?? Number(authorityPort(target.authority) ?? 443);
    const chain = https && !this.req.gateway && isMixedTlsPort(t, tlsPort) ? mixedPortChain(t, tlsPort, clientServerName(target.authority)) : undefined;
    if (chain === 'tcp' || chain === 'passthrough') {
      const sni = clientServerName(target.authority);
      throw new ExplainUsageError(`${this.req.url}: on port ${tlsPort} the server name ${sni ? `"${sni}"` : '(none)'} picks ${chain === 'tcp' ? 'a TLS server that terminates and routes the stream by tcp[]' : 'a TLS passthrough route (tls[] sniHosts)'}, not an HTTPS server: walk its connection with tls ${sni ?? 'HOST'}:${tlsPort}`);
    }
    // The client's handshake with the server port's chains: the one its server name picks, and whether it admits the client's certificate.
    const handshake = tls ? this.handshake(tls.port, target.authority) : undefined;
    // The XFCC the ingress sets from a verified client certificate goes upstream: the handshake step says it.
    if (tls && handshake) tls.handshake = handshake;
    // The connection manager's own mutations before any filter reads the headers, as the sidecar's (downstream.ts): the
    // app's XFCC sanitized at the outbound, the gateway's SANITIZE_SET and x-forwarded-for. A generated x-request-id is
    // random, so explain leaves it out (a hash on it is as good as random either way).
    mutateRequestHeaders(headers, t.defaults.proxyHeaders, {
      listener: this.role === 'ingress' ? 'gateway' : 'outbound',
      sourceAddress: LOOPBACK,
      verifiedClientXfcc: handshake?.client?.verified ? handshake.xfcc : undefined,
      tls: this.role === 'ingress' && https,
    });
    // Nor do the connection-specific headers a client sent reach a filter here (the view is the forwarded headers themselves).
    filtersSee(headers, headers);
    const gatewayListener = this.gatewayListener() ?? (tls ? { gateway: ISTIO_INGRESS_GATEWAY, port: tls.port, scheme: 'https' as const, istio: true } : undefined);
    const request: CallerRequest = { method: this.req.method.toUpperCase(), path, authority: target.authority, proxyForm, headers, ...(gatewayListener ? { gatewayListener } : {}) };

    if (handshake?.refused) return this.closedInHandshake({ ...this.hostStep(request.authority, path, proxyForm), ...(tls ? { tls } : {}) }, tls!.port, handshake.refused);
    // At the ingress gateway, the policies that select it decide before it routes (chains.ts outboundChain).
    const gate = this.role === 'ingress' ? this.ingressGate(request, https, handshake?.client?.verified ? handshake.client.principal : undefined, https ? clientServerName(target.authority) : undefined) : undefined;
    if (gate?.auth) request.auth = gate.auth;
    const host: HostStep = gatewayListener && !gatewayListener.istio ? this.gatewayHostStep(gatewayListener, request.authority, path) : { ...this.hostStep(request.authority, path, proxyForm), ...(tls ? { tls } : {}) };
    const seen = { missed: new Map<CompiledRule, string[]>(), matched: undefined as { rule: CompiledRule; because: string } | undefined };
    const observer: PlanObserver = {
      missed: (rule, failed) => { if (!seen.missed.has(rule)) seen.missed.set(rule, failed); },
      matched: (rule, match) => { seen.matched ??= { rule, because: match?.describe?.() ?? (match ? 'a match' : 'no match conditions: every request') }; },
      gateway: (name, hosts, matched) => { if (!host.gateways!.some((g) => g.name === name)) host.gateways!.push({ name, hosts, matched }); },
      virtualService: (name, gateway, outcome, domain) => { if (!host.virtualServices!.some((v) => v.name === name && v.gateway === gateway)) host.virtualServices!.push({ name, gateway, outcome, ...(domain !== undefined ? { domain } : {}) }); },
    };
    if (gate?.refused) return this.refusedAtIngress(host, gate.step, gate.records, gate.refused);
    const plans = explore((random) => planRoute(t, this.role, request, random, observer));
    const route = this.routeStep(plans.map((b) => ({ plan: b.value, probability: b.probability })), seen, request.headers);
    const destinations: DestinationStep[] = [];
    const outcomes: Outcome[] = [];
    const proxy = t.identity.name;
    for (const { value: plan, probability } of merge(plans, planKey)) {
      const routed = routeRecord(plan, proxy);
      if (plan.kind === 'error') {
        outcomes.push({ probability, kind: 'refused', status: plan.error.status, flags: plan.error.flag, summary: `${plan.error.status}${plan.error.flag ? ` ${plan.error.flag}` : ''}: ${firstLine(plan.error.message)}`, records: [routed] });
        continue;
      }
      if (plan.kind !== 'forward') {
        outcomes.push({ probability, kind: 'mesh', status: plan.status, summary: plan.kind === 'redirect' ? `${plan.status} redirect to ${plan.location} (${plan.routeName})` : `${plan.status} direct response from route ${plan.routeName}`, records: [routed] });
        continue;
      }
      const step = this.destinationStep(plan, probability, request);
      destinations.push(step);
      outcomes.push(...this.outcomesOf(plan, probability, routed, step, request));
    }
    const merged = merge(outcomes.map((o) => ({ value: o, probability: o.probability })), (o) => `${o.kind}|${o.summary}|${JSON.stringify(o.records)}`)
      .map(({ value, probability }) => ({ ...value, probability }));
    if (isGrpc(headers)) for (const o of merged) grpcCallerSees(o);
    // What the ingress's own policies decided comes first in its records (decisions.ts recordsOf: request, authz, route, ...).
    if (gate?.records.length) for (const o of merged) o.records = [...gate.records, ...o.records];
    return {
      ...this.about(),
      host, ...(gate?.shown ? { ingress: gate.step } : {}), route, destinations, outcomes: merged,
      outcome: headline(merged, route),
      answered: merged.some((o) => o.kind !== 'refused'),
    };
  }

  /** What every result says first: the request, the proxy that decides it first, and whose defaults. */
  private about(): Pick<ExplainResult, 'request' | 'caller' | 'defaults'> {
    const t = this.caller;
    return {
      request: this.req,
      caller: { proxy: t.identity.name, namespace: t.identity.namespace, spiffeId: t.identity.spiffeId, listener: this.role === 'ingress' ? 'ingress' : 'outbound' },
      defaults: { flavor: t.defaults.flavor, version: t.defaults.version },
    };
  }

  /** The ingress gateway's own RequestAuthentication and AuthorizationPolicies (those selecting it), on the request as the connection manager hands it to them. */
  private ingressGate(request: CallerRequest, https: boolean, clientPrincipal: string | undefined, sni: string | undefined) {
    const t = this.caller;
    const step: EndpointStep = {
      workload: t.identity.name,
      mtls: { sends: false, why: `the client's own connection${https ? ', TLS terminated at the ingress' : ''}; the ingress's jwt_authn, ext_authz and RBAC run before it routes` },
      authz: { policies: [], allowed: true, reason: 'no AuthorizationPolicy selects the ingress gateway' },
    };
    const records: DecisionRecord[] = [];
    // The source the ingress's filters see: sourceOf, as its listener makes it (outbound.ts).
    const g = this.guard(t, step, records, { headers: request.headers, path: request.path, authority: request.authority, source: { ...sourceOf(t, LOOPBACK), ...(clientPrincipal ? { clientPrincipal } : {}), ...(sni ? { sni } : {}) } });
    const shown = step.jwt !== undefined || step.custom !== undefined || step.authz.policies.length > 0;
    return { step, records, shown, ...g };
  }

  /** The result when the ingress refuses the request before routing it: no route is looked up, nothing goes on. */
  private refusedAtIngress(host: HostStep, step: EndpointStep, records: DecisionRecord[], refused: { status: number; why: string }): ExplainResult {
    const t = this.caller;
    const reply = this.localReply(refused.status);
    const status = reply.kind === 'response' ? reply.status : refused.status;
    const grpcStatus = reply.kind === 'response' ? reply.grpcStatus : undefined;
    const flags = step.refusedBy === 'RequestAuthentication' ? undefined : 'UAEX';
    const outcome: Outcome = { probability: 1, kind: 'refused', status, ...(grpcStatus !== undefined ? { grpcStatus } : {}), ...(flags ? { flags } : {}), summary: `${replyHead(status, grpcStatus)} ${refused.why} at the ingress gateway ${t.identity.name}`, records };
    const route: RouteStep = { rules: [], action: 'refused', status, message: `not routed: the ingress gateway refused the request first` };
    return {
      ...this.about(),
      host, ingress: step, route, destinations: [], outcomes: [outcome],
      outcome: headline([outcome], route),
      answered: false,
    };
  }

  /**
   * The client's TLS handshake on an Istio Gateway server port, over the
   * chains the ingress serves there (unknown when explain was given none):
   * the request's host is its server name, the assumed client certificate
   * (`--client-cert`) what it presents.
   */
  private handshake(port: number, authority: string): GatewayHandshake | undefined {
    const chains = this.opts.listenerCertificates?.[`${ISTIO_INGRESS_GATEWAY}:${port}`];
    if (!chains) return undefined;
    const sni = clientServerName(authority);
    try {
      return gatewayHandshake(chains, sni, this.req.clientCert, this.now);
    } catch (e) {
      throw new ExplainUsageError(`--client-cert: ${(e as Error).message}`);
    }
  }

  /** The result when the ingress's TLS server closes the connection after (or in) the handshake: no request is read. */
  private closedInHandshake(host: HostStep, port: number, why: string): ExplainResult {
    const summary = `connection closed by the ingress gateway ${this.caller.identity.name}: Istio Gateway server port ${port}: ${why}`;
    const route: RouteStep = { rules: [], action: 'refused', message: 'not routed: the TLS handshake did not admit the client' };
    return { ...this.about(), host, route, destinations: [], outcomes: [{ probability: 1, kind: 'refused', summary, records: [] }], outcome: summary, answered: false };
  }

  /** The Gateway API Gateway port `--gateway` names, as the ingress serves it (one listener per Gateway port). */
  private gatewayListener(): GatewayListenerRef | undefined {
    const g = this.req.gateway;
    if (g === undefined) return undefined;
    if (this.role !== 'ingress') throw new ExplainUsageError(`--gateway ${g}: a Gateway's listener is the ingress's; use --from ingress`);
    const m = /^(?:([^/:]+)\/)?([^/:]+)(?::(\d+))?$/.exec(g);
    if (!m) throw new ExplainUsageError(`--gateway ${g}: write it as name, namespace/name, or name:port`);
    const key = `${m[1] ?? this.snapshot.namespace}/${m[2]}`;
    const ports = [...this.caller.gatewayPorts.values()].filter((p) => p.gateway === key).sort((a, b) => a.port - b.port);
    const known = () => [...new Set([...this.caller.gatewayPorts.values()].map((p) => `${p.gateway}:${p.port}`))].join(', ') || 'none';
    if (ports.length === 0) throw new ExplainUsageError(`--gateway ${g}: no Gateway API Gateway ${key} with an HTTP listener (known: ${known()})`);
    const port = m[3] === undefined ? ports[0] : ports.find((p) => p.port === Number(m[3]));
    if (!port) throw new ExplainUsageError(`--gateway ${g}: Gateway ${key} has no listener on port ${m[3]} (known: ${known()})`);
    if (m[3] === undefined && ports.length > 1) throw new ExplainUsageError(`--gateway ${g}: Gateway ${key} listens on ${ports.map((p) => p.port).join(', ')}; name the port (${key}:${ports[0].port})`);
    return { gateway: key, port: port.port, scheme: port.protocol === 'HTTPS' ? 'https' : 'http' };
  }

  /**
   * The Istio Gateway server port that terminates an https:// request's TLS:
   * the URL's port (443 when none) if a TLS-terminating server there covers
   * the host, else the one such port whose servers do (the URL may name the
   * local port devmesh mapped it to).
   */
  private istioTls(authority: string): HostStep['tls'] {
    const host = stripPort(authority).toLowerCase();
    // Oldest Gateway first, as pilot merges them (the first server of a host keeps it).
    const ordered = byCreation(this.snapshot.gateways, (gw) => ({ created: gw.metadata.creationTimestamp, name: gw.metadata.name, namespace: gw.metadata.namespace ?? this.snapshot.namespace }));
    const keyOf = (gw: (typeof ordered)[number]) => `${gw.metadata.namespace ?? this.snapshot.namespace}/${gw.metadata.name}`;
    // Not the servers pilot's mergeGateways skips (a host an earlier server with tls names on the port).
    const dropped = droppedGatewayServers(ordered.filter((gw) => !selectsEgressGateway(gw.spec)).map((gw) => ({ key: keyOf(gw), spec: gw.spec })));
    const servers = ordered.flatMap((gw) => (gw.spec.servers ?? []).map((server, i) => ({ gw, server, i })))
      .filter(({ gw, i }) => !dropped.has(`${keyOf(gw)}#${i}`))
      .filter(({ server }) => terminatingMode(server) && (server.hosts ?? []).some((h) => hostMatches(h.includes('/') ? h.slice(h.indexOf('/') + 1) : h, host)));
    const asked = Number(authorityPort(authority) ?? 443);
    const ports = [...new Set(servers.map(({ server }) => server.port.number))];
    const port = ports.includes(asked) ? asked : ports.length === 1 ? ports[0] : undefined;
    if (port === undefined) return undefined;
    return {
      port,
      servers: servers.filter(({ server }) => server.port.number === port).map(({ gw, server }) => {
        const tls = (server.tls ?? {}) as ServerTls;
        const certificate = terminatingMode(server) === 'ISTIO_MUTUAL' ? 'of the mesh CA (ISTIO_MUTUAL)'
          : tls.credentialName ? `of Secret ${tls.credentialName} (istio-system, else the Gateway's namespace)`
            : tls.serverCertificate ? `from ${tls.serverCertificate}` : 'minted by devmesh (no credentialName)';
        return { gateway: `${gw.metadata.namespace ?? this.snapshot.namespace}/${gw.metadata.name}`, mode: terminatingMode(server)!, certificate };
      }),
    };
  }

  private gatewayHostStep(l: GatewayListenerRef, authority: string, path: string): HostStep {
    const table = this.caller.gatewayPorts.get(`${l.gateway}:${l.port}`)!;
    return { authority, path, via: 'gateway', gateways: table.listeners.map((x) => ({ name: `${l.gateway}:${l.port} listener ${x.name}`, hosts: [x.hostname ?? '*'], matched: x.hostname === undefined || hostnameMatches(x.hostname, authority) })), virtualServices: [] };
  }

  private hostStep(authority: string, path: string, proxyForm: boolean): HostStep {
    const t = this.caller;
    const byGateway = this.role === 'ingress' && !proxyForm && t.gateways.size > 0;
    if (byGateway) return { authority, path, via: 'gateway', gateways: [], virtualServices: [] };
    const service = serviceForAuthority(t, authority);
    if (!service) return { authority, path, via: 'mesh', problem: `no service ${authority} as ${t.identity.name} resolves names (namespace ${t.hostNamespace})` };
    const port = requestedPort(service, authorityPort(authority));
    const info = port === undefined ? undefined : portsOf(service).find((p) => p.port === port);
    return {
      authority, path, via: 'mesh',
      service: { name: service.name, namespace: service.namespace, fqdn: service.fqdn },
      ...(info ? { port: { port: info.port, name: info.name, protocol: info.protocol } } : {}),
      ...(info ? {} : { problem: `${service.name}.${service.namespace} has no port ${authorityPort(authority) ?? '(none given)'}` }),
    };
  }

  private ref(kind: string, namespace: string, name: string, path?: readonly (string | number)[]): ResourceRef {
    const location = this.locate({ kind, namespace, name }, path);
    return location ? { kind, namespace, name, location } : { kind, namespace, name };
  }

  private ruleLocation(rule: RuleRef): Location | undefined {
    return this.locate(rule, rulePath(rule));
  }

  private routeStep(plans: Array<{ plan: RoutePlan; probability: number }>, seen: { missed: Map<CompiledRule, string[]>; matched?: { rule: CompiledRule; because: string } }, headers: IncomingHttpHeaders): RouteStep {
    const t = this.caller;
    const first = plans[0].plan;
    const rules: RuleStep[] = [];
    for (const [rule, failed] of seen.missed) {
      const ref = ruleOf(rule.origin)!;
      rules.push({ rule: ref, location: this.ruleLocation(ref), matched: false, failed });
    }
    if (seen.matched) {
      const ref = ruleOf(seen.matched.rule.origin)!;
      rules.push({ rule: ref, location: this.ruleLocation(ref), matched: true, because: seen.matched.because });
    }
    const origin = first.kind !== 'error' ? first.origin : undefined;
    const source = origin ? this.ref(origin.kind, origin.namespace, origin.name) : undefined;
    if (first.kind === 'error') return { source, rules, action: 'refused', status: first.error.status, message: firstLine(first.error.message) };
    const step: RouteStep = { source, rules, chosen: ruleOf(first.origin), routeName: first.routeName, action: first.kind };
    if (first.kind !== 'forward') return { ...step, status: first.status, message: first.kind === 'redirect' ? `redirect to ${first.location}` : 'direct response' };
    const routeDests = first.rule?.route ?? [];
    const weights = effectiveWeights(routeDests);
    const total = weights.reduce((a, b) => a + b, 0);
    step.destinations = merge(plans.map((p) => ({ value: p.plan, probability: p.probability })), planKey).map(({ value, probability }) => {
      const f = value as ForwardPlan;
      const i = routeDests.findIndex((d) => d.destination.subset === f.subset && qualifyHost(d.destination.host, first.origin?.namespace ?? t.hostNamespace) === f.host);
      return { host: f.host, port: f.port, ...(f.subset !== undefined ? { subset: f.subset } : {}), ...(i >= 0 && total > 0 && routeDests.length > 1 ? { weight: routeDests[i].weight ?? weights[i] } : {}), probability };
    });
    // Timeout, retries, faults and mirrors belong to the rule: read with the rule's first destination.
    const ms = routeTimeoutMs(first.rule, headers, t.defaults.routeTimeoutMs);
    const timeoutSource = headers[TIMEOUT_HEADER] !== undefined ? `the request's ${TIMEOUT_HEADER} header`
      : first.rule?.timeout !== undefined ? `the rule's timeout (${first.rule.timeout})` : defaultSource(t.defaults.provenance.routeTimeoutMs, t.defaults.version, 'no route timeout');
    step.timeout = ms === undefined ? { source: timeoutSource } : { ms, source: timeoutSource };
    const { policy } = retryPolicyOf(t, first);
    step.retries = policy ? retriesOf(policy, t, first) : { retries: 0, on: '', source: 'retries disabled (attempts 0 or unset in the rule\'s retries)' };
    if (policy?.origin === 'route' && first.origin) {
      const at = this.locate(ruleOf(first.origin)!, [...rulePath(ruleOf(first.origin)!), 'retries']);
      if (at) step.retries.location = at;
    }
    step.faults = faultOdds(explore((random) => faultFor(t, first, this.now, random)));
    step.mirrors = merge(explore((random) => mirrorTargets(first.rule, random)).flatMap((b) => b.value.map((d) => ({ value: d.host, probability: b.probability }))), (h) => h)
      .map(({ value, probability }) => ({ host: value, probability }));
    return step;
  }

  private destinationStep(plan: ForwardPlan, probability: number, request: CallerRequest): DestinationStep {
    const t = this.caller;
    const req = { headers: request.headers, path: plan.path, sourceIp: LOOPBACK };
    const first = chooseEndpoint(t, plan, req, newLbStats(), () => 0.5);
    const dr = t.destinationRules.get(plan.host);
    const drRefs = (t.destinationRuleSources.get(plan.host) ?? []).map((n) => { const [ns, name] = n.split('/'); return this.ref('DestinationRule', ns, name); });
    const subsetDef = plan.subset ? dr?.subsets?.find((s) => s.name === plan.subset) : undefined;
    const step: DestinationStep = {
      cluster: clusterName(plan), host: plan.host, port: plan.port, ...(plan.subset !== undefined ? { subset: plan.subset } : {}), probability,
      ...(drRefs.length ? { destinationRule: drRefs } : {}),
      ...(subsetDef ? { selector: subsetDef.labels ?? {} } : {}),
      workloads: first.kind === 'unknown-subset' ? [] : first.endpoints.map((w) => w.name),
      loadBalancer: { policy: 'none', source: '' },
      endpoints: [],
      policy: { levels: [], connectionPool: {}, connectionPoolSource: '' },
      at: [],
    };
    if (first.kind === 'unknown-subset') {
      step.problem = first.error;
      return step;
    }
    if (first.endpoints.length === 0) step.problem = plan.subset ? `subset ${plan.subset} selects no workload of ${plan.service.name}` : `${plan.service.name} has no workload`;
    // The first attempt's pick, over a round robin's whole cycle (one pick per candidate from one set of stats).
    const lb = newLbStats();
    const rounds = Math.max(1, first.candidates.length);
    const picks: Array<{ value: string; probability: number }> = [];
    for (let i = 0; i < rounds; i++) {
      // Through the outlier filter: a host assumed ejected is not among the first pick's odds, as in the outcomes.
      const ctx = { plan, tables: t } as RequestContext;
      for (const b of explore((random) => { const outliers = this.outlierFilter(plan, random); return chooseEndpoint(t, plan, req, lb, random, (e, p) => outliers(ctx, e, p)); })) if (b.value.kind === 'picked') picks.push({ value: b.value.pick!.endpoint.name, probability: b.probability / rounds });
    }
    step.endpoints = merge(picks, (w) => w).map((e) => ({ workload: e.value, probability: e.probability }));
    const ejected = (this.req.ejected ?? []).filter((w) => step.workloads.includes(w) && !step.endpoints.some((e) => e.workload === w));
    if (ejected.length) step.ejected = ejected;
    const policy = first.policy;
    step.loadBalancer = lbOf(policy, t);
    step.policy = {
      levels: policyLevels(dr, plan),
      ...poolOf(policy, t),
      ...(policy.outlierDetection ? { outlierDetection: { ...outlierSettings(policy.outlierDetection, t.defaults.outlierDetection) } } : {}),
      ...(policy.tls?.mode ? { tls: policy.tls.mode } : {}),
    };
    // The cluster's endpoints themselves: a ServiceEntry's are no workload of the mesh.
    for (const ep of first.endpoints) {
      const v = this.verdictAt(plan, ep, policy, request);
      if (step.endpoints.some((e) => e.workload === ep.name)) step.at.push(v.step);
    }
    return step;
  }

  private readonly verdicts = new Map<string, Verdict>();

  /**
   * The load balancer's outlier filter as the sidecar runs it, over a
   * detector of its own that has seen the assumed failures (`--ejected`):
   * ejected hosts are not picked, unless below minHealthPercent.
   */
  private outlierFilter(plan: ForwardPlan, random: RandomSource): (ctx: RequestContext, endpoints: WorkloadInfo[], p: EffectivePolicy) => WorkloadInfo[] {
    const state = new ResilienceState(new Stats(), random, () => this.now);
    const eligible = eligibleEndpoints(state);
    return (ctx, endpoints, p) => {
      assumeEjected(state, clusterName(plan), endpoints, p, this.caller.defaults.outlierDetection, this.req.ejected);
      return eligible(ctx, endpoints, p);
    };
  }

  /**
   * The callee's sidecar's own answer (RBAC 403, JWT 401): to a gRPC call, a
   * trailers-only 200 whose grpc-status maps it, which is what the caller's
   * attempt reads (grpc/localReply.ts).
   */
  private localReply(status: number): AttemptOutcome {
    return this.grpc ? { kind: 'response', status: 200, grpcStatus: httpToGrpcStatus(status) } : { kind: 'response', status };
  }

  /** What the app is assumed to answer (`--app-status`, and for a gRPC call `--app-grpc-status`; a gRPC status alone comes on a 200). */
  private appAnswer(): AttemptOutcome | undefined {
    const { appStatus, appGrpcStatus } = this.req;
    if (appStatus === undefined && appGrpcStatus === undefined) return undefined;
    return { kind: 'response', status: appStatus ?? 200, ...(appGrpcStatus !== undefined ? { grpcStatus: appGrpcStatus } : {}) };
  }

  /** How the call goes out to one workload and what its sidecar's inbound decides (once per workload and destination). */
  private verdictAt(plan: ForwardPlan, ep: WorkloadInfo, policy: EffectivePolicy, request: CallerRequest): Verdict {
    const key = `${ep.name}|${plan.host}|${plan.port}|${plan.subset ?? ''}`;
    let v = this.verdicts.get(key);
    if (!v) this.verdicts.set(key, (v = this.decideAt(plan, ep, policy, request)));
    return v;
  }

  private decideAt(plan: ForwardPlan, ep: WorkloadInfo, policy: EffectivePolicy, request: CallerRequest): Verdict {
    const t = this.caller;
    const external = (ep as Endpoint).external;
    if (external) {
      // A ServiceEntry endpoint (or the passthrough's original destination): no sidecar there, so no
      // PeerAuthentication or AuthorizationPolicy; the app outside the mesh answers.
      const step: EndpointStep = { workload: ep.name, mtls: { sends: false, why: `outside the mesh (${external.address}): no sidecar, no mesh mTLS` }, authz: { policies: [], allowed: true, reason: 'outside the mesh: no sidecar enforces AuthorizationPolicy' } };
      return { step, records: [], outcome: this.appAnswer() };
    }
    const sends = sendsMtls(t, ep, policy, plan);
    const dest = this.tables(ep.name);
    const why = policy.tls?.mode ? `DestinationRule tls.mode ${policy.tls.mode}`
      : !t.defaults.autoMtls ? 'no DestinationRule tls, and auto mTLS is off (meshConfig.enableAutoMtls)'
        : sends ? `auto mTLS: ${ep.name} accepts mTLS on this port` : `auto mTLS: ${ep.name} turned mTLS off (PeerAuthentication DISABLE), so plaintext`;
    // The request as the callee's sidecar receives it: the route's rewrite and header operations applied.
    const sent = { path: request.path, authority: request.authority, headers: { ...request.headers } as OutgoingHttpHeaders };
    delete sent.headers.host;
    forwardAs(sent, plan, t.defaults.proxyHeaders);
    const inbound = inboundPortFor(dest, destinationOf(plan), sent.authority);
    const peer = { tls: sends, spiffeId: sends ? t.identity.spiffeId : undefined };
    const source = { workload: t.identity.name, labels: {}, spiffeId: peer.spiffeId, tls: sends, address: LOOPBACK };
    const step: EndpointStep = { workload: ep.name, mtls: { sends, why }, authz: { policies: [], allowed: true, reason: 'no AuthorizationPolicy selects it' } };
    const records: DecisionRecord[] = [];
    if (inbound) {
      const admitted = admits(inbound.mtls.mode, peer);
      const m = /^([^/ ]+)\/([^ ]+)/.exec(inbound.mtls.source);
      step.port = { port: inbound.number, mode: inbound.mtls.mode, source: m ? this.ref('PeerAuthentication', m[1], m[2]) : 'default', admitted };
      if (!admitted) {
        // The callee's listener closes the connection: a plaintext one is reset, a TLS one fails its handshake.
        const flag = sends ? 'UF' : 'UC';
        const who = m ? `PeerAuthentication ${m[1]}/${m[2]}` : 'the default';
        return { step, records, outcome: { kind: 'error', flag, reason: sends ? 'upstream-connect-failure' : 'upstream-reset' }, refused: `${ep.name}'s port ${inbound.number} is ${inbound.mtls.mode} (${who}) and refuses a ${sends ? 'mTLS' : 'plaintext'} connection` };
      }
      records.push(mtlsRecord(ep.name, inbound.number, inbound.mtls, peer, admitted));
    }
    const path = normalizePath(sent.path, dest.defaults.pathNormalization);
    // The callee's connection manager sets its XFCC before its policies read the headers (filters/xfcc.ts); offline, the caller's certificate hash is a stand-in.
    const xfcc = inboundXfcc(dest, { spiffeId: peer.spiffeId, certHash: CALLER_CERT_HASH }, sent.headers['x-forwarded-client-cert']);
    if (xfcc === undefined) delete sent.headers['x-forwarded-client-cert'];
    else sent.headers['x-forwarded-client-cert'] = xfcc;
    const guarded = this.guard(dest, step, records, { headers: sent.headers as IncomingHttpHeaders, path, authority: sent.authority, source, inbound });
    if (guarded.refused) return { step, records, outcome: this.localReply(guarded.refused.status), refused: guarded.refused.why };
    return { step, records, outcome: guarded.unknown ? undefined : this.appAnswer() };
  }

  /**
   * What a proxy that enforces policy decides before the request goes on, in
   * Envoy's order (chains.ts securityFilters): RequestAuthentication
   * (jwt_authn), AuthorizationPolicy CUSTOM (ext_authz), then DENY and ALLOW
   * (RBAC). At a workload's inbound, and at the ingress gateway before it
   * routes. `unknown`: an external authorizer decides and no answer is assumed.
   */
  private guard(dest: MeshTables, step: EndpointStep, records: DecisionRecord[], req: { headers: IncomingHttpHeaders; path: string; authority: string; source: Source; inbound?: InboundPort }): { refused?: { status: number; why: string }; unknown?: boolean; auth?: RequestAuth } {
    const { headers, path } = req;
    // RequestAuthentication (jwt_authn), before any AuthorizationPolicy: a token found must verify; a verified one names the end user.
    const jwt = this.jwtAt(dest, headers, path);
    if (jwt.view) step.jwt = jwt.view;
    if (jwt.refused) step.refusedBy = 'RequestAuthentication';
    if (jwt.refused) return { refused: jwt.refused };
    const auth = jwt.auth ? { auth: jwt.auth } : {};
    const policies = authzPoliciesAt(dest);
    if (policies.length === 0) return auth;
    const areq = authzRequest({ tables: dest, source: req.source, method: this.req.method.toUpperCase(), path, authority: req.authority, inbound: req.inbound, downstream: { headers }, auth: jwt.auth });
    // AuthorizationPolicy CUSTOM (ext_authz) before DENY and ALLOW: its matching rules ask the external authorizer.
    const custom = customDecisionAt(dest, areq);
    let unknown = false;
    if (custom.kind === 'deny') {
      step.custom = { policies: [custom.policy], verdict: `denied without asking: ${custom.why} (pilot turns the policy into a DENY)` };
      step.refusedBy = 'CUSTOM';
      return { refused: { status: 403, why: `RBAC: access denied by AuthorizationPolicy ${custom.policy} (CUSTOM): ${custom.why}` } };
    }
    if (custom.kind === 'ask') {
      const provider = providerAt(dest, custom.provider);
      const asked = `the external authorizer ${custom.provider}${provider ? ` (${provider.address})` : ''}`;
      const assumed = this.req.extAuthz;
      step.custom = { policies: custom.policies, provider: custom.provider, ...(provider ? { address: provider.address } : {}), verdict: assumed === undefined ? `${asked} decides (assume its answer with --ext-authz allow|deny)` : `${asked} is assumed to ${assumed}` };
      if (assumed === 'deny') step.refusedBy = 'CUSTOM';
      if (assumed === 'deny') return { refused: { status: 403, why: `denied by ${asked}, asked by AuthorizationPolicy ${custom.policies.join(', ')} (CUSTOM)` } };
      // Its answer unknown: so is the request's (as an app's unknown answer); if it allows, DENY and ALLOW decide next.
      unknown = assumed === undefined;
    }
    const decision = authorize(policies, areq, dest.snapshot.namespace);
    step.authz = {
      policies: policies.map((p) => explainPolicy(p, areq, dest.snapshot.namespace)).map((x) => this.verdictView(x)),
      allowed: decision.allowed,
      reason: decision.policy,
    };
    records.push(authzRecord(decision, step.workload));
    if (decision.allowed) return { ...auth, unknown };
    return { refused: { status: 403, why: `RBAC: access denied ${denialReason(step)}` } };
  }

  /** Why one more request overflows the destination's connection pool under the assumed load (undefined: it does not). */
  private overflowAt(plan: ForwardPlan, policy: EffectivePolicy): string | undefined {
    const cp = policy.connectionPool;
    if (!cp || !this.req.inFlight) return undefined;
    const limits = poolLimits(cp, this.caller.defaults.connectionPool, speaksHttp2(protocolOf(plan.service, plan.port)));
    const a = admissionUnder(limits, this.req.inFlight);
    if (a.kind !== 'overflow') return undefined;
    return `${overflow(a.reason === 'pending' ? 'http1MaxPendingRequests' : 'http2MaxRequests').message}: ${this.req.inFlight} request(s) already in flight to ${clusterName(plan)}`;
  }

  /** The RequestAuthentication verdict at a proxy: each provider's, from the verdicts verified before the walk (tokens.ts). */
  private jwtAt(dest: MeshTables, headers: IncomingHttpHeaders, path: string): { view?: EndpointStep['jwt']; auth?: RequestAuth; refused?: { status: number; why: string } } {
    const providers = providersOf(dest);
    if (providers.length === 0) return {};
    const results = providers.map((p) => {
      const tokens = tokensIn(p, headers as Record<string, string | string[] | undefined>, path);
      return tokens.length === 0 ? { status: 'JwtMissed' as const } : this.tokens?.(p, tokens);
    });
    const shown = (i: number) => ({ policy: providers[i].policy, issuer: providers[i].issuer });
    if (results.some((r) => r === undefined)) {
      return { view: { providers: providers.map((_, i) => ({ ...shown(i), result: results[i] ? JWT_STATUS[results[i]!.status] : 'a token, not verified (explain was given no keys)' })), status: 'not verified' } };
    }
    const verified = results as ProviderResult[];
    const { status, auth } = jwtOutcome(providers, verified);
    const view = { providers: providers.map((_, i) => ({ ...shown(i), result: verified[i].status === 'JwtMissed' ? 'no token (passes, no end user)' : JWT_STATUS[verified[i].status] })), status: JWT_STATUS[status], ...(auth ? { principal: auth.principal } : {}) };
    if (status === 'Ok') return { view, ...(auth ? { auth } : {}) };
    const by = [...new Set(providers.map((p) => p.policy))].join(', ');
    return { view, refused: { status: jwtHttpStatus(status), why: `${JWT_STATUS[status]} (RequestAuthentication ${by})` } };
  }

  private verdictView(v: PolicyVerdict): EndpointStep['authz']['policies'][number] {
    const ref = this.ref('AuthorizationPolicy', v.policy.namespace, v.policy.name);
    return {
      policy: ref, action: v.action, dryRun: v.dryRun, matched: v.matched,
      rules: v.rules.map((r) => {
        const location = this.locate({ kind: 'AuthorizationPolicy', namespace: v.policy.namespace, name: v.policy.name }, ['spec', 'rules', r.rule]);
        return { ...r, ...(location ? { location } : {}) };
      }),
    };
  }

  /**
   * The attempts of one routed request, as the retry filter makes them: each
   * picks an endpoint (avoiding the ones tried, as retryIgnorePreviousHosts
   * does, through the outlier filter's own eligibility), ends as that
   * workload's verdict, and is tried again while the retry policy's own test
   * says so and retries are left.
   */
  private attempts(plan: ForwardPlan, policy: RetryPolicy | undefined, request: CallerRequest, lb: LbStats, random: RandomSource): Attempt[] {
    const t = this.caller;
    const req = { headers: request.headers, path: plan.path, sourceIp: LOOPBACK };
    const tried = new Set<string>();
    const outliers = this.outlierFilter(plan, random);
    const out: Attempt[] = [];
    // The timeouts as the timeout and retry filters read them (the request's own headers first).
    const perTryMs = (policy && headerMs(request.headers[PER_TRY_TIMEOUT_HEADER])) || policy?.perTryTimeoutMs;
    const routeMs = callTimeoutMs(plan.rule, request.headers, t.defaults.routeTimeoutMs);
    // The route timeout bounds the attempts and the backoffs between them, as Envoy's router does. The
    // attempts' time is known (the app's assumed delay, the per-try timeouts); the backoffs are jittered
    // draws, so whether the deadline passes in a wait (or in the attempt after it) is a choice with odds.
    let elapsed = 0;
    const backoffs: number[] = [];
    let late = 0;
    const deadlinePasses = (fixedMs: number): boolean => {
      if (routeMs === undefined) return false;
      const p = pastDeadline(fixedMs, backoffs, routeMs);
      const before = late;
      late = Math.max(late, p);
      return p > before && weightedIndex([1 - p, p - before], random, 'percentage') === 1;
    };
    for (let n = 1; ; n++) {
      if (n > 1 && deadlinePasses(elapsed)) {
        return [...out, { error: { status: 504, flag: 'UT', message: `upstream request timeout (the route timeout, ${formatDuration(routeMs!)}, passed during the backoff before retry ${n - 1})` }, retried: false, inBackoff: true }];
      }
      const ctx = { plan, tables: t, avoidEndpoints: policy?.ignorePreviousHosts && tried.size > 0 ? new Set(tried) : undefined } as RequestContext;
      let selected: string[] = [];
      const choice = chooseEndpoint(t, plan, req, lb, random, (endpoints, p) => {
        selected = endpoints.map((e) => e.name);
        return outliers(ctx, endpoints, p);
      });
      if (choice.kind === 'unknown-subset') return [...out, { error: { status: 503, flag: 'NR', message: choice.error }, retried: false }];
      if (!choice.pick) {
        const why = selected.length > 0 ? `outlier detection ejected every host of ${clusterName(plan)} (${selected.join(', ')})` : plan.subset ? `subset ${plan.subset} selects no workload` : 'the service has no workload';
        return [...out, { error: { status: 503, flag: 'UH', message: `no healthy upstream: ${why}` }, retried: false }];
      }
      const ep = choice.pick.endpoint;
      tried.add(ep.name);
      // The circuit breaker before the connection: with the assumed requests in flight, one more may overflow (503 UO).
      const full = this.overflowAt(plan, choice.policy);
      if (full) {
        out.push({ endpoint: ep.name, verdict: { step: this.verdictAt(plan, ep, choice.policy, request).step, records: [], outcome: { kind: 'error', flag: 'UO', reason: 'upstream-overflow' }, refused: full }, retried: false });
        return out;
      }
      let verdict = this.verdictAt(plan, ep, choice.policy, request);
      // An attempt the app answers takes the app's time; one the mesh refuses, none.
      const app = verdict.refused === undefined ? this.req.appDelayMs ?? 0 : 0;
      const spent = perTryMs && app >= perTryMs ? perTryMs : app;
      if (deadlinePasses(elapsed + spent)) {
        return [...out, { endpoint: ep.name, verdict: timedOut(verdict, 'upstream-timeout', `upstream request timeout (the route timeout, ${formatDuration(routeMs!)}, passed during attempt ${n})`), retried: false }];
      }
      elapsed += spent;
      if (spent < app) verdict = timedOut(verdict, 'upstream-per-try-timeout', `upstream request timeout (perTryTimeout ${formatDuration(perTryMs!)})`);
      const again = !!policy && verdict.outcome !== undefined && retriable(policy, verdict.outcome);
      const left = n <= (policy?.retries ?? 0);
      out.push({ endpoint: ep.name, verdict, retried: again && left, exhausted: again && !left });
      if (!(again && left)) return out;
      backoffs.push(backoffCeilingMs(policy!, n));
    }
  }

  /** Each way a routed request can end: fault, then the attempts with their endpoints and verdicts. */
  private outcomesOf(plan: ForwardPlan, probability: number, routed: DecisionRecord, step: DestinationStep, request: CallerRequest): Outcome[] {
    const t = this.caller;
    const out: Outcome[] = [];
    const where = plan.subset ? `subset ${plan.subset}` : plan.service.name;
    const share = step.probability < 1 ? ` (${where}, ${pct(step.probability)})` : plan.subset ? ` (${where})` : '';
    const { policy } = retryPolicyOf(t, plan);
    // Round robin turns with each request: a whole cycle of requests, from one set of stats.
    // A round robin's counter is wherever earlier requests left it, and retries pick from fewer
    // candidates (hosts tried are avoided): every start in one cycle of all those lengths.
    const rounds = cycleOf(step.workloads.length);
    const runs: Array<{ value: Attempt[]; probability: number }> = [];
    for (let i = 0; i < rounds; i++) {
      for (const b of explore((random) => this.attempts(plan, policy, request, lbAt(plan, i), random))) runs.push({ value: b.value, probability: b.probability / rounds });
    }
    const tries = merge(runs, (a) => JSON.stringify(a.map((x) => [x.endpoint, x.error?.flag, x.retried])));
    for (const f of merge(explore((random) => faultFor(t, plan, this.now, random)), (d) => JSON.stringify(d))) {
      const p = probability * f.probability;
      const fault = f.value;
      const faulted = fault.delayMs !== undefined || fault.abort ? [faultRecord(fault, plan)] : [];
      const delayed = fault.delayMs !== undefined ? ` after a ${formatDuration(fault.delayMs)} injected delay` : '';
      if (fault.abort) {
        const s = fault.abort.grpcStatus !== undefined ? `200 grpc-status ${fault.abort.grpcStatus}` : `${fault.abort.httpStatus}`;
        out.push({ probability: p, kind: 'refused', status: fault.abort.grpcStatus !== undefined ? 200 : fault.abort.httpStatus, ...(fault.abort.grpcStatus !== undefined ? { grpcStatus: fault.abort.grpcStatus } : {}), flags: fault.delayMs !== undefined ? 'DI,FI' : 'FI', summary: `${s} fault filter abort${delayed} (${faultSource(fault, plan)})`, records: [routed, ...faulted] });
        continue;
      }
      // The mirror filter runs after the fault filter: a copy per mirror its percentage picks.
      for (const m of merge(explore((random) => mirrorTargets(plan.rule, random).map((d) => d.host)), (h) => h.join(','))) {
        const mirrored = m.value.length ? [mirrorRecord(m.value, plan)] : [];
        for (const run of tries) out.push(this.outcomeOf(run.value, p * m.probability * run.probability, [routed, ...faulted, ...mirrored], share, delayed));
      }
    }
    return out;
  }

  /** What the caller gets from its attempts: the last one's answer, URX when it would have been retried but none were left. */
  private outcomeOf(attempts: Attempt[], probability: number, before: DecisionRecord[], share: string, delayed: string): Outcome {
    const records = [...before];
    attempts.forEach((a, i) => {
      // An unknown subset is no cluster at all: the router fails before any attempt (the sidecar records none);
      // a route timeout during a backoff ends the request before the next attempt starts.
      if (a.error?.flag === 'NR' || a.inBackoff) return;
      const result = a.error ? a.error.flag : a.verdict!.outcome?.kind === 'error' ? a.verdict!.outcome.flag : a.verdict!.outcome?.kind === 'response' ? String(a.verdict!.outcome.status) : 'app';
      records.push(attemptRecord(i + 1, { ...(a.endpoint ? { endpoint: a.endpoint } : {}), result, retried: a.retried }), ...(a.verdict?.records ?? []));
    });
    const last = attempts[attempts.length - 1];
    const made = attempts.filter((a) => !a.inBackoff);
    const n = made.length;
    const after = n > 1 ? ` after ${n} attempts (${made.map((a) => a.endpoint).join(', ')})` : '';
    const urx = last.exhausted ? ['URX'] : [];
    if (last.error) {
      return { probability, kind: 'refused', status: last.error.status, flags: last.error.flag, summary: `${last.error.status} ${last.error.flag}: ${last.error.message}${after}`, records };
    }
    const v = last.verdict!;
    if (v.refused) {
      const status = v.outcome?.kind === 'response' ? v.outcome.status : v.outcome?.kind === 'error' && v.outcome.flag === 'UT' ? 504 : 503;
      const grpcStatus = v.outcome?.kind === 'response' ? v.outcome.grpcStatus : undefined;
      const flags = [...(v.outcome?.kind === 'error' ? [v.outcome.flag] : status === 403 || grpcStatus === GRPC_STATUS.PERMISSION_DENIED ? ['UAEX'] : []), ...urx].join(',');
      // Envoy's own words for an RBAC denial; a refused connection says its flag, as the access log would.
      const head = v.outcome?.kind === 'error' ? `${status} ${v.outcome.flag}:` : replyHead(status, grpcStatus);
      return { probability, kind: 'refused', status, ...(grpcStatus !== undefined ? { grpcStatus } : {}), ...(flags ? { flags } : {}), summary: `${head} ${v.refused}${after}${urx.length ? ' (URX)' : ''}`, records };
    }
    const status = v.outcome?.kind === 'response' ? v.outcome.status : undefined;
    const grpcStatus = v.outcome?.kind === 'response' ? v.outcome.grpcStatus : undefined;
    const flags = urx.join(',');
    const summary = status === undefined ? `forwarded to ${last.endpoint}${share}${delayed}: the app answers${after}` : `${status}${grpcStatus !== undefined ? ` grpc-status ${grpcStatus} ${grpcStatusName(grpcStatus)}` : ''} from ${last.endpoint}${share}${delayed}${after}${flags ? ` (${flags})` : ''}`;
    return { probability, kind: 'answered', ...(status !== undefined ? { status } : {}), ...(grpcStatus !== undefined ? { grpcStatus } : {}), ...(flags ? { flags } : {}), summary, records };
  }
}

/** One workload's verdict on a call: its records, how the attempt ends as the retry policy judges it (unknown: the app's answer), and why it refuses. */
interface Verdict {
  step: EndpointStep;
  records: DecisionRecord[];
  outcome?: AttemptOutcome;
  refused?: string;
}

interface Attempt {
  endpoint?: string;
  verdict?: Verdict;
  /** The cluster had nothing to send to. */
  error?: { status: number; flag: string; message: string };
  retried: boolean;
  /** Retriable, but no retries left (URX). */
  exhausted?: boolean;
  /** Not an attempt: the route timeout passed while waiting to make it (the error says so). */
  inBackoff?: boolean;
}

/** A verdict whose app answer came too late: the attempt ends as UT (504 upstream request timeout). */
function timedOut(v: Verdict, reason: string, why: string): Verdict {
  return { ...v, outcome: { kind: 'error', flag: 'UT', reason }, refused: why };
}

/** Load-balancer stats whose round-robin counter for the plan's cluster stands at `n`. */
function lbAt(plan: ForwardPlan, n: number): LbStats {
  const lb = newLbStats();
  lb.roundRobin.set(lbKey(plan), n);
  return lb;
}

/** The least common multiple of 1..n: a round robin over n, then n-1, ... candidates repeats after it (capped: n > 7 is read as 7). */
function cycleOf(n: number): number {
  let l = 1;
  for (let k = 2; k <= Math.min(n, 7); k++) l = (l * k) / gcd(l, k);
  return l;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/** Where an app's connection to its sidecar comes from. */
const LOOPBACK = '127.0.0.1';
/** Where the sha256 of the caller's certificate goes in an XFCC explain writes (it has no certificates of its own). */
const CALLER_CERT_HASH = 'caller-certificate-sha256';

function planKey(p: RoutePlan): string {
  return p.kind === 'forward' ? `forward|${p.host}|${p.port}|${p.subset ?? ''}` : p.kind === 'error' ? `error|${p.error.reason}` : `${p.kind}|${p.status}`;
}

function firstLine(s: string): string {
  return s.replace(/^devmesh: /, '').split('\n')[0];
}

/** The field path of a rule in its resource. */
export function rulePath(rule: RuleRef): (string | number)[] {
  return rule.kind === 'VirtualService' ? ['spec', 'http', rule.rule] : ['spec', 'rules', rule.rule];
}

function defaultSource(p: Provenance | undefined, version: string, what: string): string {
  if (!p) return `${what} (Istio ${version} default)`;
  const from = p.from === 'meshConfig' || p.from === 'mesh' ? p.source : p.from === 'compatibilityVersion' ? `compatibilityVersion ${p.version}: ${p.source}` : `Istio ${p.version} default: ${p.source}`;
  return `${what} (${from})`;
}

function retriesOf(p: RetryPolicy, t: MeshTables, plan: ForwardPlan): NonNullable<RouteStep['retries']> {
  const on = [...p.on].join(',') + (p.statusCodes.size > 0 ? ` (status ${[...p.statusCodes].join(',')})` : '');
  const source = p.origin === 'route' ? `the rule's retries (${plan.routeName})`
    : p.origin === 'meshConfig' ? 'Mesh spec.meshConfig.defaultHttpRetryPolicy'
      : defaultSource(t.defaults.provenance['retry.attempts'], t.defaults.version, 'the default retry policy').replace(/^the default retry policy \((.*)\)$/, '$1') + retriableCodesNote(t);
  return { retries: p.retries, on, ...(p.perTryTimeoutMs ? { perTryTimeoutMs: p.perTryTimeoutMs } : {}), source };
}

function retriableCodesNote(t: MeshTables): string {
  const p = t.defaults.provenance['retry.retriableStatusCodes'];
  return p?.from === 'compatibilityVersion' ? `; retriable status codes ${t.defaults.retry.retriableStatusCodes.join(',')} from compatibilityVersion ${p.version}` : '';
}

function faultOdds(branches: Array<{ value: FaultDecision; probability: number }>): NonNullable<RouteStep['faults']> {
  const out: NonNullable<RouteStep['faults']> = [];
  const delay = branches.filter((b) => b.value.delayMs !== undefined);
  const abort = branches.filter((b) => b.value.abort);
  if (delay.length) out.push({ kind: 'delay', probability: delay.reduce((a, b) => a + b.probability, 0), delayMs: delay[0].value.delayMs, source: delay[0].value.source ?? 'route' });
  if (abort.length) {
    const a = abort[0].value.abort!;
    out.push({ kind: 'abort', probability: abort.reduce((x, b) => x + b.probability, 0), status: a.httpStatus, ...(a.grpcStatus !== undefined ? { grpcStatus: a.grpcStatus } : {}), source: abort[0].value.source ?? 'route' });
  }
  return out;
}

function faultSource(d: FaultDecision, plan: ForwardPlan): string {
  return d.source === 'route' ? `the fault of ${plan.origin ? `${plan.origin.kind} ${plan.origin.namespace}/${plan.origin.name} rule ${plan.origin.rule}` : plan.routeName}` : `runtime fault ${d.source}`;
}

function lbOf(policy: { loadBalancer?: import('../policy/model').LoadBalancerSettings }, t: MeshTables): DestinationStep['loadBalancer'] {
  const lb = policy.loadBalancer;
  const ch = lb?.consistentHash;
  if (ch) {
    const on = ch.httpHeaderName ? `header ${ch.httpHeaderName}` : ch.httpCookie ? `cookie ${ch.httpCookie.name}` : ch.useSourceIp ? 'the source IP' : ch.httpQueryParameterName ? `query parameter ${ch.httpQueryParameterName}` : 'nothing';
    return { policy: `consistent hash on ${on}`, source: 'DestinationRule trafficPolicy.loadBalancer.consistentHash' };
  }
  if (lb?.simple && lb.simple !== 'UNSPECIFIED') return { policy: lb.simple, source: 'DestinationRule trafficPolicy.loadBalancer.simple' };
  return { policy: t.defaults.loadBalancer, source: defaultSource(t.defaults.provenance.loadBalancer, t.defaults.version, 'no loadBalancer.simple').replace(/^no loadBalancer\.simple \((.*)\)$/, '$1') };
}

function poolOf(policy: { connectionPool?: import('../policy/model').ConnectionPoolSettings }, t: MeshTables): Pick<DestinationStep['policy'], 'connectionPool' | 'connectionPoolSource'> {
  const limits = poolLimits(policy.connectionPool, t.defaults.connectionPool);
  const shown: Record<string, number> = {};
  // The limits only (`multiplexed` is how the cluster speaks, not a limit).
  for (const [k, v] of Object.entries(limits)) if (typeof v === 'number' && v !== UNLIMITED) shown[k] = v;
  return {
    connectionPool: shown,
    connectionPoolSource: policy.connectionPool ? 'DestinationRule connectionPool, the rest Istio\'s defaults' : `Istio ${t.defaults.version} defaults (no limit but connectTimeout; ${t.defaults.provenance['connectionPool.maxConnections']?.source ?? ''})`,
  };
}

/** Which levels of the DestinationRule shape the policy for this subset and port (trafficPolicy.ts merges them). */
function policyLevels(dr: import('../policy/model').DestinationRuleSpec | undefined, plan: ForwardPlan): string[] {
  if (!dr) return ['no DestinationRule'];
  const levels: string[] = [];
  if (dr.trafficPolicy) levels.push('trafficPolicy');
  if (dr.trafficPolicy?.portLevelSettings?.some((p) => p.port?.number === plan.port)) levels.push(`trafficPolicy.portLevelSettings port ${plan.port} (replaces the top level for this port)`);
  const sub = plan.subset ? dr.subsets?.find((s) => s.name === plan.subset)?.trafficPolicy : undefined;
  if (sub) levels.push(`subset ${plan.subset} trafficPolicy (overrides field by field)`);
  if (sub?.portLevelSettings?.some((p) => p.port?.number === plan.port)) levels.push(`subset ${plan.subset} portLevelSettings port ${plan.port}`);
  return levels.length ? levels : ['DestinationRule without trafficPolicy'];
}

export function denialReason(at: Pick<EndpointStep, 'authz'>): string {
  const deny = at.authz.policies.find((p) => p.action === 'DENY' && !p.dryRun && p.matched >= 0);
  if (deny) return `by AuthorizationPolicy ${deny.policy.namespace}/${deny.policy.name} (DENY) rule ${deny.matched}`;
  const allows = at.authz.policies.filter((p) => p.action === 'ALLOW' && !p.dryRun);
  if (allows.length === 0) return `(${at.authz.reason})`;
  const first = allows[0];
  const why = first.rules.length === 0 ? 'it has no rules, so it matches nothing'
    : first.rules.length === 1 ? `${first.rules[0].failed} (rule 0)` : first.rules.map((r) => `rule ${r.rule}: ${r.failed}`).join('; ');
  return `by AuthorizationPolicy ${first.policy.namespace}/${first.policy.name}: ${why}${allows.length > 1 ? `; no other ALLOW policy matched either (${allows.length - 1} more)` : ''}`;
}

function headline(outcomes: Outcome[], route: RouteStep): string {
  const retries = route.retries && route.retries.retries > 0 ? `; up to ${route.retries.retries} retries on ${route.retries.on}` : '';
  const lines = outcomes.map((o) => `${o.summary}${outcomes.length > 1 ? ` — ${pct(o.probability)}` : ''}`);
  return lines.join('\n') + (outcomes.some((o) => o.kind === 'answered') ? retries : '');
}

/**
 * What a gRPC caller reads from the mesh's own answer: Envoy turns it into a
 * trailers-only response whose grpc-status maps the HTTP status
 * (sidecar/grpc/localReply.ts); an abort that names its gRPC status says it already.
 */
/** How an answer the caller gets starts its summary: the HTTP status, or for a gRPC call its grpc-status on a trailers-only response. */
function replyHead(status: number, grpcStatus: number | undefined): string {
  return grpcStatus !== undefined ? `grpc-status ${grpcStatus} ${grpcStatusName(grpcStatus)} (a trailers-only ${status}):` : `${status}`;
}

function grpcCallerSees(o: Outcome): void {
  if (o.kind !== 'refused' || o.status === undefined || o.status === 200 || o.grpcStatus !== undefined) return;
  const code = httpToGrpcStatus(o.status);
  // On the wire, and in the caller's access log, the status is 200.
  o.status = 200;
  o.grpcStatus = code;
  o.summary += `; the gRPC caller gets grpc-status ${code} ${grpcStatusName(code)} (a trailers-only 200)`;
}

/** The server name a TLS client sends for the host it connects to: none for an address (Node's and OpenSSL's clients). */
function clientServerName(authority: string): string | undefined {
  const host = stripPort(authority).toLowerCase();
  return /^[\d.]+$|^\[/.test(host) ? undefined : host;
}
