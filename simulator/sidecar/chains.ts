/**
 * The request paths, composed in one place. Read top to bottom: each step
 * sees the request after the ones above it. Upgrades (WebSocket) are chosen
 * by the same filters as requests, then become a byte tunnel
 * (listeners/upgrade.ts). Every dependency is required: a chain that leaves
 * one out (and with it, say, outlier ejections or RBAC counters) does not compile.
 */
import type { Agent } from 'node:http';
import * as net from 'node:net';
import type { Certificates, ClientCredential } from '../protocol';
import { compose, type Filter, type Handler, type RequestContext } from './context';
import type { AppConnections } from './upstream/appClient';
import { app } from './filters/app';
import { appByProtocol, appH2c } from './filters/appH2c';
import { authz } from './filters/authz';
import { extAuthz } from './filters/extAuthz';
import { jwt } from './filters/jwt';
import { endpoint } from './filters/endpoint';
import { metrics } from './filters/metrics';
import { announcePeer, learnPeer } from './filters/peerMetadata';
import { route, type ProxyRole } from './filters/route';
import { gatewayHop } from './filters/gatewayHop';
import { servicePort } from './filters/servicePort';
import { trace } from './filters/trace';
import { upstream } from './filters/upstream';
import { connectTimeoutMs } from './resilience/connectionPool';
import { xfcc } from './filters/xfcc';
import { chaos } from './filters/chaos';
import { circuitBreaker } from './filters/circuitBreaker';
import { cors } from './filters/cors';
import { fault } from './filters/fault';
import { mirror } from './filters/mirror';
import { normalize } from './filters/normalize';
import { eligibleEndpoints, outlier } from './filters/outlier';
import { retry } from './filters/retry';
import { timeout } from './filters/timeout';
import { inboundUpgrade, outboundUpgrade, type UpgradeHandler } from './listeners/upgrade';
import type { Exchange } from './downstream';
import type { ResilienceState } from './resilience/state';
import type { JwksStore } from './security/jwksStore';
import { sendsMtls } from './security/upstreamTls';
import { externalTarget } from './routing/externalEndpoints';
import type { AuthzCall } from './upstream/authzCall';
import type { LbStats } from './routing/loadBalancer';
import type { Stats } from './stats';
import type { MeshTables } from './tables';
import type { H2Pool } from './upstream/h2Pool';
import type { H2cPool } from './upstream/h2cPool';
import { composeL4, type L4Handler } from './l4/context';
import { l4Authz } from './l4/authz';
import { l4ExtAuthz } from './l4/extAuthz';
import type { GrpcAuthzCall } from './upstream/authzGrpcCall';
import { l4Chaos } from './l4/chaos';
import { l4ConnectionLimit } from './l4/connectionLimit';
import { l4Endpoint } from './l4/endpoint';
import { l4GatewayRoute } from './l4/gatewayRoute';
import { l4EgressGatewayRoute } from './l4/egressGatewayRoute';
import { l4Outlier } from './l4/outlier';
import { l4LearnPeer } from './l4/peer';
import { l4Route } from './l4/route';
import { l4ServicePort } from './l4/servicePort';
import { toApp } from './l4/toApp';
import { toPeer, type ToPeerDeps } from './l4/toPeer';

/** Log lines for the control plane (ejections, RBAC audit and dry-run). */
export type SidecarLog = (level: 'info' | 'warn', message: string) => void;

export interface OutboundDeps {
  role: ProxyRole;
  random: () => number;
  lb: LbStats;
  pool: () => H2Pool;
  plaintextAgent: Agent;
  stats: Stats;
  /** Percentage of new traces recorded (Mesh spec.telemetry.sampling). */
  sampling: number;
  /** false leaves out the trace and metrics filters (the overhead benchmark's baseline). */
  observe?: boolean;
  /** Circuit breakers, outlier detectors and toxic relays of this sidecar. */
  resilience: ResilienceState;
  log: SidecarLog;
  /** Told about every ejection (a log line and a status report for the control plane). */
  onEject: (message: string) => void;
  /** A gateway's DestinationRule credentialNames (TLS origination), as the control plane last sent them. */
  credentials?: () => Readonly<Record<string, ClientCredential>> | undefined;
  /** End-user authentication and authorization at the ingress (RequestAuthentication, CUSTOM/DENY/ALLOW). */
  security?: SecurityDeps;
}

/** What the jwt and ext_authz filters need: the JWKS keys and a way to reach an external authorizer. */
export interface SecurityDeps {
  jwks: JwksStore;
  authzCall: AuthzCall;
  /** The Check call of envoyExtAuthzGrpc providers (the HTTP filter's and the network filter's). */
  grpcAuthzCall: GrpcAuthzCall;
  /** Epoch millis, for token lifetimes (tests pass a fixed clock). */
  now?: () => number;
}

/** Envoy's order on a proxy that enforces policy: jwt_authn, then ext_authz (CUSTOM), then RBAC (DENY, then ALLOW). */
export function securityFilters(s: SecurityDeps | undefined, stats: Stats, log: SidecarLog): Filter[] {
  if (!s) return [authz({ stats, log })];
  return [
    // RequestAuthentication: a token found must verify (401); a verified one names the end user (ctx.auth).
    jwt({ store: s.jwks, now: s.now, stats, log }),
    // AuthorizationPolicy CUSTOM: the external authorizer decides when its policies' rules match.
    extAuthz({ call: s.authzCall, grpcCall: s.grpcAuthzCall, stats, log }),
    // AuthorizationPolicy on the normalized path: DENY, then ALLOW, on the peer identity and the end user (AUDIT, dry-run logged).
    authz({ stats, log }),
  ];
}

/** The observability filters, or none when a benchmark measures the path without them. */
const observed = (on: boolean | undefined, ...filters: Filter[]): Filter[] => (on === false ? [] : filters);

/** What opening a new upstream connection to the picked endpoint costs: TCP (to its sidecar, or its address outside the mesh), plus mTLS when the call is mTLS (upstreamTls.ts). */
function openConnection(ctx: RequestContext, pool: () => H2Pool): Promise<void> {
  const ep = ctx.endpoint!;
  const timeoutMs = connectTimeoutMs(ctx.policy?.connectionPool?.tcp?.connectTimeout, ctx.tables.defaults.connectionPool);
  if (sendsMtls(ctx.tables, ep, ctx.policy, ctx.plan)) return pool().handshake({ port: ep.sidecar.inboundPort, spiffeId: ep.spiffeId }, timeoutMs);
  const to = ep.external && ctx.plan?.kind === 'forward' ? externalTarget(ep, ctx.plan) : { host: '127.0.0.1', port: ep.sidecar.inboundPort };
  return new Promise((resolve) => {
    const socket = net.connect(to);
    const done = () => { clearTimeout(timer); socket.destroy(); resolve(); };
    const timer = setTimeout(done, timeoutMs);
    socket.once('connect', done);
    socket.once('error', done);
  });
}

/** The cluster part: what a retry re-runs, a mirror copy goes through, and an external authorizer is called on. */
export function clusterChain(d: OutboundDeps): Handler {
  const r = d.resilience;
  return compose(
    [
      // Subset -> workloads (minus ejected hosts, and hosts a retry already tried) -> DestinationRule load balancer.
      endpoint({ lb: d.lb, random: d.random, eligible: eligibleEndpoints(r) }),
      // connectionPool limits: wait for a connection (as long as a real handshake to the peer takes), or 503 UO at once.
      circuitBreaker(r, { connect: (ctx) => openConnection(ctx, d.pool) }),
      // outlierDetection: count each host's 5xx and gateway errors; eject past the threshold.
      outlier({ state: r, onEject: d.onEject }),
      // Runtime chaos aimed at this workload: HTTP faults, or a TCP toxic relay in the path.
      chaos(r),
    ],
    // mTLS HTTP/2 to the peer sidecar (plaintext HTTP/1.1 for tls.mode DISABLE or a DISABLE peer under auto mTLS).
    upstream({ pool: d.pool, plaintextAgent: d.plaintextAgent, lb: d.lb, stats: d.stats, gateway: d.role !== 'sidecar', credentials: d.credentials }),
  );
}

/** The app's call to another service (and the ingress's call into the mesh). */
export function outboundChain(d: OutboundDeps, toCluster: Handler = clusterChain(d)): Handler {
  const r = d.resilience;
  return compose(
    [
      // The path as Envoy's connection manager normalizes it (meshConfig.pathNormalization), before routing sees it.
      normalize(),
      // Trace: the client span starts first so it covers every step below; the context goes upstream.
      // Metrics: note the response size; istio_* (reporter=source) are recorded when the exchange ends.
      ...observed(d.observe, trace({ sampling: d.sampling, random: d.random, side: 'client' }), metrics()),
      // At the ingress gateway only: the policies that select it, before routing (claim routes read the verified token).
      ...(d.role === 'ingress' ? securityFilters(d.security, d.stats, d.log) : []),
      // Tell the callee's sidecar which workload calls (Istio's peer metadata exchange).
      announcePeer(),
      // Which VirtualService rule, and its own answers (no route, redirect, direct response).
      route({ role: d.role, random: d.random }),
      // fault: abort/delay from the rule or a runtime fault, before CORS and any retry (Istio's HCM order, listener_builder.go:438).
      fault({ random: d.random, now: r.now, stats: d.stats }),
      // corsPolicy: answer preflights here, add the allow headers to responses.
      cors(),
      // mirror: fire-and-forget copies through the cluster part.
      mirror({ random: d.random, send: toCluster, stats: d.stats }),
      // timeout: the rule's timeout bounds all attempts together.
      timeout({ stats: d.stats }),
      // retry: re-runs the cluster part; the body replays from a bounded buffer.
      retry(r),
    ],
    toCluster,
  );
}

export interface InboundDeps {
  appAgent: Agent;
  /** Kept-alive connections to the app's HTTP/1.1 ports for requests without a body (appClient.ts); appAgent for the rest. */
  appConnections: AppConnections;
  /** h2c sessions to the app's gRPC and HTTP/2 ports. */
  appH2c: () => H2cPool;
  sampling: number;
  random: () => number;
  observe?: boolean;
  stats: Stats;
  log: SidecarLog;
  security?: SecurityDeps;
  /** The egress gateway: what its Gateway server ports receive goes on to its own gateway listener (gatewayHop.ts). */
  egressGateway?: boolean;
}

/** A call that arrived at this workload's sidecar, after PeerAuthentication admitted the connection. */
export function inboundChain(d: InboundDeps): Handler {
  return compose(
    [
      // The path as Envoy's connection manager normalizes it, before authorization sees it.
      normalize(),
      // Which of this workload's ports the call is for (service port -> targetPort -> the app's port), and its mTLS mode.
      servicePort(),
      // Which workload called, when its certificate vouches for the name it gives.
      learnPeer(),
      // Trace: the server span, parent of whatever the app calls next.
      // Metrics: reporter=destination, recorded when the exchange ends.
      ...observed(d.observe, trace({ sampling: d.sampling, random: d.random, side: 'server' }), metrics()),
      // Tell the app who called (x-forwarded-client-cert); never trust one from the client. Envoy's connection manager
      // sets it before any filter, so the policies below read it too.
      xfcc(),
      // RequestAuthentication, then AuthorizationPolicy CUSTOM, DENY, ALLOW (see securityFilters).
      ...securityFilters(d.security, d.stats, d.log),
      // At the egress gateway: name the Gateway server port for its own listener, the "app" here.
      ...(d.egressGateway ? [gatewayHop()] : []),
    ],
    // To the app on the local port of the container port called: h2c for gRPC/HTTP/2 ports; else HTTP/1.1 keep-alive,
    // retrying a request the app never read (Istio's inbound reset-before-request).
    appByProtocol({ h2c: appH2c(d.appH2c), http1: app(d.appAgent, { random: d.random, stats: d.stats, connections: d.appConnections }) }),
  );
}

/** What an upgrade chain needs besides its filters' dependencies: the tables, and where finished exchanges go. */
interface TunnelDeps {
  tables: () => MeshTables;
  onDone: (e: Exchange) => void;
}

export type OutboundUpgradeDeps = TunnelDeps & Pick<OutboundDeps, 'role' | 'random' | 'lb' | 'stats' | 'resilience' | 'log'> & {
  /** This sidecar's certificate for the mTLS connection of each tunnel. */
  certs: () => Certificates;
  /** The end-user filters (the ingress applies them to upgrades as to requests). */
  security: SecurityDeps;
};

/**
 * A WebSocket (or other Upgrade) the app opens: chosen like a request, then a
 * tunnel to the picked workload's sidecar. No trace, metrics, retry, timeout
 * or mirror: those are per request, and an upgraded connection is counted by
 * the istio_tcp_* metrics instead (sidecar.ts).
 */
export function outboundUpgradeChain(d: OutboundUpgradeDeps): UpgradeHandler {
  const r = d.resilience;
  return outboundUpgrade({ tables: d.tables, onDone: d.onDone, certs: d.certs }, [
    // The path as Envoy's connection manager normalizes it (meshConfig.pathNormalization), before routing sees it.
    normalize(),
    // At the ingress gateway only: the policies that select it, before routing.
    ...(d.role === 'ingress' ? securityFilters(d.security, d.stats, d.log) : []),
    // Tell the callee's sidecar which workload calls.
    announcePeer(),
    // Which VirtualService rule, and its own answers (no route, redirect, direct response).
    route({ role: d.role, random: d.random }),
    // fault: the upgrade request is aborted or delayed like any request.
    fault({ random: d.random, now: r.now, stats: d.stats }),
    // Subset -> workloads minus hosts outlier detection ejected -> DestinationRule load balancer.
    endpoint({ lb: d.lb, random: d.random, eligible: eligibleEndpoints(r) }),
  ]);
}

export type InboundUpgradeDeps = TunnelDeps & Pick<InboundDeps, 'stats' | 'log'> & { security: SecurityDeps };

/** An upgrade that arrived at this workload's sidecar: the inbound request's checks, then a TCP tunnel to the app. */
export function inboundUpgradeChain(d: InboundUpgradeDeps): UpgradeHandler {
  return inboundUpgrade({ tables: d.tables, onDone: d.onDone }, [
    // The path as Envoy's connection manager normalizes it, before authorization sees it.
    normalize(),
    // Which of this workload's ports the call is for (service port -> targetPort -> the app's port), and its mTLS mode.
    servicePort(),
    // Which workload called, when its certificate vouches for the name it gives.
    learnPeer(),
    // Tell the app who called (x-forwarded-client-cert), before the policies read the headers as for requests.
    xfcc(),
    // RequestAuthentication, then AuthorizationPolicy CUSTOM, DENY, ALLOW: denials, AUDIT and dry-run counted and logged as for requests.
    ...securityFilters(d.security, d.stats, d.log),
  ]);
}

/**
 * A connection the app opened to a TCP or TLS port (by CONNECT or a local
 * upstream port), per connection as Envoy's tcp_proxy serves it. Metrics,
 * the access log and the topology observe it from the context (l4/connection.ts).
 */
export function outboundL4Chain(d: {
  random: () => number;
  lb: LbStats;
  resilience: ResilienceState;
  tunnel: ToPeerDeps;
  log: (level: 'info' | 'warn', message: string) => void;
  /** The ingress's network RBAC counters (rbac.tcp.*). */
  stats: Stats;
  /**
   * `sidecar`: the addressed service's tcp[]/tls[] rules; `ingress`: the rules bound to the Gateway whose TCP port it came to;
   * `egress`: at the egress gateway, the rules bound to the Gateways with a server on the port the caller's sidecar named.
   */
  role: ProxyRole;
  /** The ingress's network ext_authz: calls a gRPC external authorizer (AuthorizationPolicy CUSTOM). */
  authzCall: GrpcAuthzCall;
}): L4Handler {
  const r = d.resilience;
  return composeL4(
    [
      // Which tcp[]/tls[] rule (by port, source, and on TLS ports the ClientHello's SNI; at the ingress, by Gateway port) and which destination.
      d.role === 'ingress' ? l4GatewayRoute({ random: d.random }) : d.role === 'egress' ? l4EgressGatewayRoute({ random: d.random }) : l4Route({ random: d.random }),
      // At the ingress: the AuthorizationPolicies selecting the gateway, for TCP, once the server name picked the filter chain (a passthrough port).
      // CUSTOM first (a gRPC provider's network ext_authz), then DENY and ALLOW (network RBAC), as pilot orders the filters; both decide on the client's first bytes, once toPeer connected.
      ...(d.role === 'ingress' ? [l4ExtAuthz({ call: d.authzCall, stats: d.stats, log: d.log }), l4Authz(d)] : []),
      // Subset -> workloads (minus ejected hosts) -> the DestinationRule's load balancer.
      l4Endpoint({ lb: d.lb, random: d.random, state: r }),
      // connectionPool.tcp.maxConnections: past the limit, the connection is closed at once (UO).
      l4ConnectionLimit(r),
      // outlierDetection: connect failures and timeouts count against the host; a connection that succeeds resets it.
      l4Outlier({ state: r, onEject: (m) => d.log('warn', m) }),
      // Runtime chaos: a TCP toxic relay in the path to the peer.
      l4Chaos(r),
    ],
    // A tunnel to the peer's sidecar (mTLS unless tls.mode DISABLE), within connectTimeout; then the bytes flow.
    toPeer({ ...d.tunnel, gateway: d.role !== 'sidecar' }),
  );
}

/** A tunnel (or a plaintext client) that reached this workload's inbound listener for a TCP or TLS port. */
export function inboundL4Chain(d: {
  stats: Stats;
  log: (level: 'info' | 'warn', message: string) => void;
  /** At the egress gateway: what its Gateway server ports receive is routed on (outboundL4Chain, role `egress`), not sent to an app. */
  egressGateway?: L4Handler;
  /** The network ext_authz's calls to a gRPC external authorizer (AuthorizationPolicy CUSTOM). */
  authzCall: GrpcAuthzCall;
}): L4Handler {
  return composeL4(
    [
      // Which of this workload's ports it is for, and whether that port's mTLS mode admits the peer.
      l4ServicePort(),
      // Which workload called, when its certificate vouches for the name it gives.
      l4LearnPeer(),
      // AuthorizationPolicy CUSTOM for TCP: a gRPC external authorizer checks the connection once, on the client's first bytes (an HTTP provider has no network filter).
      l4ExtAuthz({ call: d.authzCall, stats: d.stats, log: d.log }),
      // AuthorizationPolicy DENY then ALLOW for TCP (HTTP-only fields as Istio treats them on TCP), once per connection, on the client's first bytes
      // (both wait in onData as Envoy's filters do: the app below is connected first, and what it says first reaches the client).
      l4Authz(d),
    ],
    // TCP to the app on the local port of the container port called (at the egress gateway: on to the external host).
    d.egressGateway ?? toApp(),
  );
}
