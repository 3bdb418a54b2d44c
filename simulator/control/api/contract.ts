/**
 * The control API's contract: every JSON shape `devmesh up` serves on
 * 127.0.0.1 and writes to `.devmesh/session.json`. The control plane builds
 * these, and the CLI, the VS Code extension and the topology page read them,
 * all from this one module: a field renamed here fails the build of every
 * side that reads it (test/webview/contract.test.ts shows it). Types only, no
 * imports and no runtime code, so a browser bundle takes it as it is.
 *
 *   GET  /api/health             Health (503 while starting)
 *   GET  /api/topology           Topology
 *   GET  /api/config             ConfigView
 *   GET  /api/config/:version    MeshSnapshot    a recent version's snapshot (the last 32 are kept), for explain --trace
 *   GET  /api/events             server-sent MeshEvent (topology.updated: TopologyUpdatedEvent)
 *   GET  /api/traces             TraceList       ?service=&rule=<rule key>&minDuration=<ms>&errors=true&limit=
 *   GET  /api/traces/:id         Trace
 *   GET  /api/logs               LogPage         ?workload=&limit=&after=<seq>
 *   GET  /api/rules              RuleList        ?rule=<rule key>&edge=<source>%3E<destination>
 *   GET  /api/telemetry          TelemetryStatus
 *   GET  /api/faults             FaultList
 *   POST /api/faults             FaultRequest -> FaultAdded (201)
 *   DELETE /api/faults[/:id]     FaultsCleared
 *   GET  /metrics                Prometheus text of every sidecar
 *   *    /api/sidecars/<name>/…  that sidecar's admin port
 *   errors                       ApiErrorBody with the HTTP status
 */

// ---------- finding the API ----------

/** `.devmesh/session.json` beside the Mesh file (0600): where the API is and the token it wants. */
export interface SessionInfo {
  /** Always loopback: `http://127.0.0.1:<port>`. Readers refuse anything else. */
  apiUrl: string;
  /** Sent as `authorization: Bearer <token>`. */
  token: string;
  /** The `devmesh up` process. */
  pid: number;
  /** Opens the browser dashboard already authorised (the token is in the fragment, never sent to a server). */
  dashboardUrl?: string;
  /** Where each Gateway API Gateway port listens (a port below 1024, or one in use, is mapped to a free one). */
  gatewayListeners?: SessionGatewayListener[];
}

export interface SessionGatewayListener {
  /** `namespace/name` of the Gateway. */
  gateway: string;
  /** The port as the Gateway writes it. */
  port: number;
  protocol: 'HTTP' | 'HTTPS';
  /** `http(s)://127.0.0.1:<local port>`. */
  url: string;
}

/** The body of every error answer. */
export interface ApiErrorBody {
  /** Stable code: `not-found`, `invalid-fault`, `unknown-fault`, `unauthorized`, ... */
  error: string;
  message: string;
}

/** `GET /api/health`: 200 when every sidecar serves, 503 while starting or stopping. */
export interface Health {
  ready: boolean;
}

// ---------- topology ----------

export type ProcessHealth = 'up' | 'down';

/** Figures shared by workload and service edges, over the window. */
export interface EdgeTraffic {
  /** Requests in the window. */
  requests: number;
  /** 5xx, resets and proxy failures in the window. */
  errors: number;
  /** Requests per second over the window (or since the edge was first seen, if later). */
  requestsPerSecond: number;
  /** errors / requests, 0..1 (a TCP connection that failed counts as an error, one that connected as a request); 0 when there were none. */
  errorRate: number;
  /** Latency percentiles in ms over the window; null when there were no requests. */
  latencyMs: { p50: number; p95: number; p99: number } | null;
  /** Share of requests (and TCP connections) sent over mutual TLS, 0..1. */
  mtlsShare: number;
  /** Epoch ms of the last request seen on this edge. */
  lastSeen: number;
  /** What the calls on it speak: `http`, `grpc`, `tcp` (sorted; several when a caller uses several ports). */
  protocols: string[];
  /** TCP connections over the window (TCP and TLS ports; Istio's istio_tcp_* for this edge); absent on an edge without any. */
  tcp?: TcpEdgeTraffic;
  /** Which routes the caller's sidecar applied in the window, most used first: `HTTPRoute ns/name`, `GRPCRoute ns/name`, `VirtualService ns/name`; empty: the default route. */
  routedBy: string[];
}

/** An edge's TCP connections over the window, as the caller's sidecar counted them. */
export interface TcpEdgeTraffic {
  /** Connections that reached the callee in the window. */
  connections: number;
  /** Connections that failed (no route, overflow, connect failure, refused). */
  failed: number;
  /** Connections open now. */
  open: number;
  /** Bytes both ways in the window (also of connections still open). */
  bytes: number;
  connectionsPerSecond: number;
  bytesPerSecond: number;
}

/** A fault that applies to an edge's traffic (runtime `devmesh fault` or a VirtualService rule). */
export interface ActiveFaultRef {
  id: string;
  kind: 'delay' | 'abort' | 'tcp';
  /** Where it comes from: `runtime` (devmesh fault / POST /api/faults) or `VirtualService ns/name`. */
  source: string;
  percentage?: number;
  httpStatus?: number;
  fixedDelayMs?: number;
}

/**
 * Caller workload -> callee workload, as the caller's sidecar saw it
 * (reporter=source), over a sliding window (`windowSeconds`).
 */
export interface WorkloadEdge extends EdgeTraffic {
  /** `source->destination`, stable across updates. */
  id: string;
  /** Calling workload, or `istio-ingressgateway` for traffic from outside. */
  source: string;
  /** Called workload, or `unknown` when no workload was picked (no route, unknown host). */
  destination: string;
  /** Service the caller addressed (short name). */
  service: string;
  activeFaults: ActiveFaultRef[];
  /** Workloads of `service` the caller's outlier detection has ejected. */
  ejectedEndpoints: string[];
}

/** Caller service -> callee service (workload edges summed). */
export interface ServiceEdge extends EdgeTraffic {
  id: string;
  /** Calling service, or `istio-ingressgateway`. */
  source: string;
  destination: string;
  /** The workload edges folded into this one. */
  workloadEdges: string[];
  activeFaults: ActiveFaultRef[];
  ejectedEndpoints: string[];
}

/** The live part of the topology; also the data of each `topology.updated` event. */
export interface TopologyEdges {
  generatedAt: number;
  windowSeconds: number;
  edges: WorkloadEdge[];
  serviceEdges: ServiceEdge[];
}

/** One workload (a pod, in Kubernetes terms) with its sidecar's listeners, as the running config has it. */
export interface WorkloadInfo {
  name: string;
  service: string;
  namespace: string;
  labels: Record<string, string>;
  serviceAccount: string;
  /** spiffe://<trustDomain>/ns/<namespace>/sa/<serviceAccount> */
  spiffeId: string;
  /** Where the app listens on 127.0.0.1 (its first local port; PORT for the app). */
  appPort: number;
  /** Container port (a service targetPort, by number or name) -> the local port the app listens on for it. Absent: every container port is appPort. */
  ports?: Record<string, number>;
  sidecar: { inboundPort: number; outboundPort: number; adminPort: number };
  /** Local upstream ports its sidecar listens on, each leading to a service port (Consul Connect's model). */
  upstreams?: UpstreamInfo[];
}

/** A local upstream port: 127.0.0.1:<localPort> on the workload's sidecar leads to <service>:<port>. */
export interface UpstreamInfo {
  /** FQDN of the service. */
  service: string;
  /** The service port. */
  port: number;
  localPort: number;
}

/** A workload of the running config, with what the control plane knows of its processes. */
export interface TopologyWorkload extends WorkloadInfo {
  /** devmesh starts this workload's app (it has a `command`). */
  managed: boolean;
  pids: { sidecar: number | null; app: number | null };
  /** sidecar: it serves; app: its sidecar reaches it on `appPort` (the sidecar watches and reports). */
  health: { sidecar: ProcessHealth; app: ProcessHealth };
  restarts: { sidecar: number; app: number };
  /** Config version the sidecar applied. */
  configVersion: number;
}

export interface TopologyService {
  name: string;
  namespace: string;
  fqdn: string;
  /** The first port (the one-port shorthand). */
  port: number;
  protocol: string;
  /** Every port of the service, as callers address it (a multi-port service has several). */
  ports: TopologyServicePort[];
  /** The workloads behind it (nested, or picked by its selector); one workload may back several services. */
  workloads: string[];
}

export interface TopologyServicePort {
  name?: string;
  port: number;
  /** The container port it targets on the workloads (a number, or a name they map). */
  targetPort?: number | string;
  protocol?: string;
  /** How an app reaches this port through its sidecar (proxy form, CONNECT, local upstream ports). */
  reach?: ServicePortReach;
}

/** The three ways an app reaches one service port (simulator/control/reach.ts). */
export interface ServicePortReach {
  /** `http://reviews:9080/` through HTTP_PROXY: HTTP/1.1 ports only. */
  proxyForm?: string;
  /** `reviews:9080`, the CONNECT target for HTTPS_PROXY, https_proxy and grpc_proxy. */
  connect: string;
  /** Local upstream ports leading here: 127.0.0.1:<localPort> on that workload's sidecar. */
  upstreams: Array<{ workload: string; localPort: number }>;
}

/** The ingress gateway's sidecar, as the running config has it. */
export interface IngressInfo {
  name: string;
  port: number;
  adminPort: number;
  serviceAccount: string;
  spiffeId: string;
  labels: Record<string, string>;
  /** The Gateway API listeners it serves: one local listener per port of each Gateway devmesh runs. */
  listeners?: GatewayListenerInfo[];
}

/** A port of a Gateway API Gateway, or an Istio Gateway server port that terminates TLS, as the ingress serves it. */
export interface GatewayListenerInfo {
  /** `namespace/name` of the Gateway. */
  gateway: string;
  /** The port as the Gateway writes it (what routes and redirects see). */
  port: number;
  protocol: 'HTTP' | 'HTTPS';
  /** Where devmesh listens on 127.0.0.1: the port itself, or a free one for a port below 1024. */
  localPort: number;
  /** An Istio Gateway server port that terminates TLS (`gateway` is then the ingress gateway): the Gateways with servers on it. */
  istio?: string[];
  /** Whether the port asks for a client certificate (MUTUAL, ISTIO_MUTUAL: required; mixed with SIMPLE or OPTIONAL_MUTUAL: optional). */
  clientCert?: 'required' | 'optional';
}

export interface TopologyIngress extends IngressInfo {
  pid: number | null;
  health: ProcessHealth;
  restarts: number;
}

/** A host ejected by a caller's outlier detection, as that sidecar reported it. */
export interface OutlierEjection {
  /** The calling workload (or the ingress) whose detector ejected the host. */
  reporter: string;
  /** Envoy-style cluster name, `outbound|port|subset|host`. */
  cluster: string;
  /** The ejected workload. */
  host: string;
  /** ISO time the ejection ends (the host returns at the next interval sweep after it). */
  until?: string;
  reason?: string;
}

/** A fault added at run time (`devmesh fault add`, `POST /api/faults`), as it is in force. */
export interface RuntimeFault {
  id: string;
  /** Target: a service (`name`, `name.namespace` or FQDN, as given), optionally narrowed to a subset/workload or a caller. */
  service: string;
  /** The FQDN of the target service, resolved when the fault was added. */
  host?: string;
  subset?: string;
  workload?: string;
  source?: string;
  delay?: { fixedDelayMs: number; percentage: number };
  abort?: { httpStatus: number; percentage: number };
  tcp?: { type: 'latency' | 'bandwidth' | 'reset_peer' | 'timeout' | 'slow_close'; [k: string]: unknown };
  /** Epoch millis after which the fault no longer applies. */
  expiresAt?: number;
}

/** `GET /api/topology`. */
export interface Topology extends TopologyEdges {
  mesh: string;
  /** Config version in force. */
  version: number;
  ready: boolean;
  trustDomain: string;
  namespace: string;
  services: TopologyService[];
  workloads: TopologyWorkload[];
  ingress: TopologyIngress;
  /** Runtime faults in force. */
  faults: RuntimeFault[];
  outliers: OutlierEjection[];
}

// ---------- a sidecar's admin port ----------

/**
 * `GET /api/sidecars/<name>/config_dump`: that sidecar's own config dump,
 * forwarded from its admin port; `proxyConfig` is its effective
 * configuration in Envoy's terms (listeners, routes, clusters, endpoints,
 * secrets), what `devmesh proxy-config` prints.
 */
export interface SidecarConfigDump {
  version: number;
  mesh: string;
  proxyConfig: import('../../proxy-config/types').ProxyConfigDump;
  [section: string]: unknown;
}

// ---------- config ----------

/** A finding as `devmesh validate` prints it, with the printed line in `text`. */
export interface ApiDiagnostic {
  file: string;
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
  severity: 'error' | 'warning' | 'info';
  /** A code of the diagnostics catalogue (`unknown-subset`, `port-in-use`, ...). */
  code: string;
  message: string;
  text: string;
}

/** `GET /api/config`: the config in force and the last edit that was refused. */
export interface ConfigView {
  version: number;
  /** Epoch ms the version in force was applied. */
  appliedAt: number;
  /** `rejected` until an edit is accepted again after a refused one. */
  state: 'ok' | 'rejected';
  /** The policy files read (relative to where `devmesh up` runs). */
  files: string[];
  lastRejection: { time: number; files: string[]; diagnostics: ApiDiagnostic[] } | null;
  /** The Gateway API as a Kubernetes controller would report it, and where devmesh serves each Gateway port. */
  gatewayApi: GatewayApiConfig;
}

/** A condition as Kubernetes writes it in a status. */
export interface KubeCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
}

export interface GatewayApiConfig {
  gateways: GatewayApiGateway[];
  routes: GatewayApiRoute[];
}

export interface GatewayApiGateway {
  namespace: string;
  name: string;
  gatewayClassName: string;
  /** Whether devmesh runs it (class istio or devmesh); other classes are left to their controllers, with no status here. */
  managed: boolean;
  status?: {
    conditions: KubeCondition[];
    listeners: { name: string; attachedRoutes: number; supportedKinds: { group: string; kind: string }[]; conditions: KubeCondition[] }[];
  };
  /** Where devmesh serves each port on 127.0.0.1 (TLS and TCP listeners: `tls://` / `tcp://` at their own port), and for HTTPS with which certificates (never their keys). */
  local?: { port: number; protocol: 'HTTP' | 'HTTPS' | 'TLS' | 'TCP'; url: string; certificates?: { hostname: string | null; source: string }[] }[];
}

export interface GatewayApiRoute {
  kind: 'HTTPRoute' | 'GRPCRoute' | 'TLSRoute' | 'TCPRoute';
  namespace: string;
  name: string;
  status: {
    parents: {
      parentRef: { group: string; kind: string; namespace: string; name: string; sectionName?: string; port?: number };
      controllerName: string;
      conditions: KubeCondition[];
    }[];
  };
}

// ---------- faults ----------

/** `POST /api/faults`: durations as Istio strings ("2s") or milliseconds. */
export interface FaultRequest {
  service: string;
  subset?: string;
  workload?: string;
  source?: string;
  abort?: { httpStatus: number; percentage?: number };
  delay?: { fixedDelay: string | number; percentage?: number };
  tcp?: { type: string; latency?: string | number; jitter?: string | number; rate?: number; timeout?: string | number; delay?: string | number; percentage?: number };
  /** How long the fault lasts ("2m"); default 10m; "0" = until cleared. */
  for?: string | number;
}

/** A fault as `GET /api/faults` lists it: one line for humans, the expiry as an ISO time. */
export type ListedFault = Omit<RuntimeFault, 'expiresAt'> & { description: string; expiresAt: string | null };

export interface FaultList { faults: ListedFault[] }
export interface FaultAdded { fault: RuntimeFault & { description: string }; faults: ListedFault[] }
export interface FaultsCleared { cleared: string[]; faults: ListedFault[] }

// ---------- traces ----------

export type SpanKind = 'client' | 'server';

/** One finished span of one hop, as a sidecar recorded it. */
export interface SpanRecord {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  /** `host:port/path`, Envoy's operation name. */
  name: string;
  /** client: the caller's sidecar (and the ingress edge); server: the callee's. */
  kind: SpanKind;
  /** Which listener recorded it. */
  role: 'ingress' | 'outbound' | 'inbound';
  /** Epoch milliseconds (fractional). */
  start: number;
  durationMs: number;
  /** 5xx, reset, or no response. */
  error: boolean;
  /** The workload whose sidecar recorded the span (`istio-ingressgateway` at the edge). */
  workload: string;
  /** Canonical service of that workload (its `app` label or service name). */
  service: string;
  namespace: string;
  attributes: Record<string, string | number | boolean>;
  /** What the sidecar decided for this hop, with the rules behind it; absent when it noted nothing. */
  decisions?: DecisionRecord[];
}

/** One trace in a list: its root and its size. */
export interface TraceSummary {
  traceId: string;
  /** The root span's operation and service (the earliest span when the root is not here). */
  root: { name: string; service: string; workload: string };
  start: number;
  durationMs: number;
  spans: number;
  errors: number;
  services: string[];
}

/** `GET /api/traces`: most recent first. */
export interface TraceList { traces: TraceSummary[]; stored: number }

/** `GET /api/traces/:id`: every span, by start time. */
export interface Trace { traceId: string; summary: TraceSummary; spans: SpanRecord[] }

// ---------- decisions ----------

/*
 * What a sidecar decided for one request, each with the origin behind it
 * (simulator/sidecar/decisions.ts builds them, in the sidecars and in
 * `devmesh explain`); spans and access-log entries carry them.
 */

/** A rule of a resource: a route rule (VirtualService http[i], HTTPRoute rules[i]) or an AuthorizationPolicy rule. */
export interface RuleRef {
  kind: string;
  namespace: string;
  name: string;
  rule: number;
  /** A VirtualService's tcp[] or tls[] list; absent: http[] (and every other kind's rules[]). */
  section?: 'tcp' | 'tls';
}

export type DecisionRecord = RequestRecord | RouteRecord | FaultRecord | MirrorRecord | AttemptRecord | MtlsRecord | AuthzRecord;

/**
 * What the decisions below were made over, first at a caller's sidecar: the
 * config version in force (`GET /api/config/:version` serves it while it is
 * kept) and the request headers some policy of it reads (route matches,
 * authorization conditions, hash keys, Envoy's timeout headers; never
 * credentials), so `devmesh explain --trace` walks the same request over the
 * same policies.
 */
export interface RequestRecord {
  step: 'request';
  config: number;
  headers?: Record<string, string>;
  /** A TCP connection: the `host:port` the app named (its CONNECT target, or its local upstream port's service), which the walk starts from. */
  target?: string;
  /**
   * The hosts of the routed cluster its caller's outlier detection held out
   * when the request's first endpoint was picked, in the order they were
   * ejected; `devmesh explain --trace` walks the hop with them (`--ejected`).
   */
  ejected?: string[];
}

/** Which rule routed the request (or that none did), and where to. */
export interface RouteRecord {
  step: 'route';
  /** The proxy that decided (workload, or the ingress's name). */
  proxy: string;
  /** Envoy's route name: the rule's `name`, else `<resource>.<index>`; `default` without a route resource. */
  route: string;
  rule?: RuleRef;
  action: 'forward' | 'redirect' | 'direct' | 'refused';
  /** forward: the destination service host, service port and subset. */
  host?: string;
  port?: number;
  subset?: string;
  /** redirect, direct, refused: the status the route answers with, and for refused the flag and reason. */
  status?: number;
  flag?: string;
  reason?: string;
}

/** A fault that acted on the request: the route rule's, or a runtime fault's (`devmesh fault add`). */
export interface FaultRecord {
  step: 'fault';
  rule?: RuleRef;
  runtime?: string;
  delayMs?: number;
  abort?: number;
  grpcStatus?: number;
}

export interface MirrorRecord {
  step: 'mirror';
  rule?: RuleRef;
  /** Hosts a copy went to. */
  to: string[];
}

/** One try at the cluster: the endpoint the load balancer picked and how it ended. */
export interface AttemptRecord {
  step: 'attempt';
  n: number;
  endpoint?: string;
  /** The status the attempt got, or the flag it failed with (`UF`, `UT`, `UO`, `FI` ...). */
  result: string;
  retried: boolean;
}

/** PeerAuthentication at the callee's inbound port. */
export interface MtlsRecord {
  step: 'mtls';
  proxy: string;
  /** The container port, as portLevelMtls keys it. */
  port: number;
  mode: string;
  /** `ns/name` of the PeerAuthentication that set the mode, or `default`. */
  source: string;
  peer?: string;
  admitted: boolean;
}

export interface AuthzRecord {
  step: 'authz';
  proxy: string;
  allowed: boolean;
  /** The policy and rule that decided, when one did (none: no ALLOW policy, or none matched). */
  rule?: RuleRef;
  action?: string;
  /** `ns/name` of the deciding policy, or why none decided. */
  reason: string;
  audit?: string[];
  dryRun?: { allowed: boolean; policy: string };
}

// ---------- per-rule counters ----------

/** One rule as the lenses and the topology show it. */
export interface RuleStats {
  /** `kind/namespace/name/index`, e.g. `VirtualService/default/reviews/1` or `AuthorizationPolicy/default/ratings-viewer/0`; a VirtualService's tcp[]/tls[] rule: `VirtualService/default/tcp-echo/tcp/0` (its requests are connections). */
  rule: string;
  /** Requests in the last minute. */
  requestsPerMinute: number;
  /** Requests in the last 10 minutes. */
  requests: number;
  /** How many of `requests` were TCP connections (every one of a tcp[]/tls[] rule's; an AuthorizationPolicy rule's that network RBAC decided). */
  connections: number;
  /** 5xx, resets and proxy failures, as a share of `requests` (0 without requests). */
  errorRate: number;
  /** Of the latencies sampled in the last 10 minutes; null without requests. */
  p99Ms: number | null;
  /** Epoch millis of the last request it decided. */
  lastHit: number;
  /** Since the control plane started. */
  total: number;
  /** caller -> callee workloads it sent traffic over (route rules) or decided for (authorization rules), last 10 minutes. */
  edges: Array<{ source: string; destination: string; requests: number }>;
  /** Trace ids of sampled requests it decided, newest first. */
  traces: string[];
}

/** `GET /api/rules`: every rule that decided a request since the control plane started, most requests in the window first. */
export interface RuleList {
  /** The window `requests`, `errorRate`, `p99Ms` and `edges` cover (10 minutes). */
  windowMs: number;
  /** The control plane's clock when it answered (epoch millis), to read `lastHit` against. */
  now: number;
  rules: RuleStats[];
}

// ---------- access logs ----------

/** One access-log entry under Istio's JSON keys, plus devmesh's own (workload, listener, ...). */
export interface AccessLogEntry {
  start_time: string;
  method: string;
  path: string;
  protocol: string;
  response_code: number;
  response_flags: string;
  response_code_details: string;
  connection_termination_details: string;
  upstream_transport_failure_reason: string;
  bytes_received: number;
  bytes_sent: number;
  duration: number;
  upstream_service_time: string;
  x_forwarded_for: string;
  user_agent: string;
  request_id: string;
  authority: string;
  upstream_host: string;
  upstream_cluster: string;
  upstream_local_address: string;
  downstream_local_address: string;
  downstream_remote_address: string;
  requested_server_name: string;
  route_name: string;
  /** Workload whose sidecar logged it (`istio-ingressgateway` at the edge). */
  workload: string;
  listener: string;
  /** Workload the request went to (outbound) or came from (inbound), when known. */
  peer_workload: string;
  downstream_peer: string;
  proxy_error: string;
  trace_id: string;
  /** The gRPC status by name (`UNAVAILABLE`); `-` when the call ended without one; empty for a request that is not gRPC. */
  grpc_status: string;
  /** What the sidecar decided for the request, with the rules behind it (JSON only). */
  decisions: DecisionRecord[];
}

/** An entry as the control plane keeps it: `seq` grows by one per entry, for `?after=`. */
export type StoredLogEntry = AccessLogEntry & { seq: number };

/** `GET /api/logs`: oldest first. */
export interface LogPage { entries: StoredLogEntry[]; lastSeq: number; dropped: number }

/** `GET /api/telemetry`: store sizes and export counters. */
export interface TelemetryStatus {
  batches: number;
  traces: number;
  maxTraces: number;
  logs: number;
  otlp: { url: string; sent: number; failed: number; dropped: number } | null;
}

// ---------- events ----------

export type MeshEventType =
  | 'mesh.ready'
  | 'mesh.stopping'
  | 'config.applied'
  | 'config.rejected'
  /** The Mesh file's workloads or services changed while running: workloads started, stopped or restarted. */
  | 'mesh.changed'
  | 'certs.rotated'
  | 'process.started'
  | 'process.crashed'
  | 'process.restarted'
  | 'process.stopped'
  /** A sidecar's unpinned port was taken by another process at startup and given a new one. */
  | 'ports.moved'
  /** Live edges (TopologyEdges in data), at most a few per second; streamed, not kept for replay. */
  | 'topology.updated'
  | 'faults.changed';

/** One event of `GET /api/events` (the SSE `data:` line; `event:` is its type). */
export interface MeshEvent {
  id: number;
  time: number;
  type: MeshEventType;
  /** Workload name, `istio-ingressgateway`, the shared sidecar process's name, or absent for mesh-wide events. */
  workload?: string;
  /** `app` or `sidecar` for process events. */
  process?: 'app' | 'sidecar';
  message: string;
  data?: Record<string, unknown>;
}

/** `data` of process.started / crashed / restarted / stopped. */
export interface ProcessEventData {
  pid?: number;
  restarts?: number;
  code?: number | null;
  signal?: string | null;
  /** process.crashed: the restart comes after this backoff. */
  restartInMs?: number;
  /** A shared sidecar process: the workloads (and the ingress) whose sidecars it hosts, all down while it is. */
  sidecars?: string[];
}

/** `data` of config.applied. */
export interface ConfigAppliedData {
  version: number;
  /** Sidecars that run it / that were told. */
  applied: number;
  sidecars: number;
  ms: number;
  /** Why the version changed (files edited, a fault added, a port moved, ...). */
  why: string;
  failed: Array<{ name: string; error?: string }>;
}

/** `event: topology.updated`: the live edges, at most a few times a second. */
export interface TopologyUpdatedEvent extends MeshEvent {
  type: 'topology.updated';
  data: TopologyEdges & Record<string, unknown>;
}
