/**
 * Typed model of the policy language: the devmesh `Mesh` kind and the Istio
 * resources devmesh simulates. Field names and meanings are Istio's own (see the
 * proto comments in istio/api); these types describe *validated* specs, so
 * optional fields are really optional and defaults are applied by consumers.
 */

import type { Flavor } from './flavors';

// ---------- devmesh.dev/v1alpha1 Mesh ----------

/**
 * Application protocols of a service port, as Istio names them
 * (pkg/config/protocol): from `protocol`/`appProtocol` or the port name's
 * prefix (`http-web`, `grpc-api`, `tcp-db`). `http` (HTTP/1.1 to the app)
 * and `http2`/`grpc` (HTTP/2 end to end) are served at L7 per request;
 * `tcp`, `tls`, `https`, `mongo`, `redis` and `mysql` at L4 per connection
 * (protocols.ts says which are simulated).
 */
export type Protocol = 'http' | 'http2' | 'grpc' | 'grpc-web' | 'tcp' | 'tls' | 'https' | 'mongo' | 'redis' | 'mysql' | 'udp';

export interface SidecarPorts {
  inboundPort?: number;
  outboundPort?: number;
  adminPort?: number;
}

/**
 * A local upstream port (Consul Connect's model): the sidecar listens on
 * 127.0.0.1:<localPort> and carries each connection to the service port, for
 * clients that honour no proxy (database drivers, redis-cli, a gRPC client).
 */
export interface UpstreamSpec {
  /** The service as callers name it: `redis`, `redis.cache`, or its FQDN. */
  service: string;
  /** A service port; may be left out when the service has one. */
  port?: number;
  localPort: number;
}

export interface WorkloadSpec {
  name: string;
  /** Only on `spec.workloads` entries; a nested workload is in its service's namespace. */
  namespace?: string;
  labels?: Record<string, string>;
  serviceAccount?: string;
  /** The local port its app listens on, when it serves one container port. */
  port?: number;
  /** Container port (a targetPort number, or a name) -> the local port the app listens on. */
  ports?: Record<string, number>;
  command?: string[];
  cwd?: string;
  env?: Record<string, string>;
  image?: string;
  sidecar?: SidecarPorts;
  /** Local ports its app connects to for other services (`DEVMESH_UPSTREAM_<SERVICE>_<PORT>`). */
  upstreams?: UpstreamSpec[];
}

/** One port of a service, as a Kubernetes Service port. */
export interface ServicePortSpec {
  name?: string;
  /** What callers address. */
  port: number;
  /** The workload-side (container) port: a number or a container port name. Default: `port`. */
  targetPort?: number | string;
  /** devmesh's protocol names, or Kubernetes' L4 `TCP`/`UDP`/`SCTP`. */
  protocol?: Protocol | 'TCP' | 'UDP' | 'SCTP';
  appProtocol?: string;
}

export interface ServiceSpec {
  name: string;
  /** Default: spec.namespace. */
  namespace?: string;
  /** The one-port shorthand: `port` (+ `protocol`, `targetPort`). */
  port?: number;
  protocol?: Protocol;
  targetPort?: number | string;
  ports?: ServicePortSpec[];
  /** Labels of the workloads (in the service's namespace) behind it, as a Kubernetes Service selector. */
  selector?: Record<string, string>;
  /** Shorthand: workloads declared under the service (its namespace; `app: <service>` by default). */
  workloads?: WorkloadSpec[];
}

/**
 * The trace headers a sidecar's tracer reads and writes (Envoy has one
 * tracer per proxy, and each speaks its own format):
 * - `b3`: Envoy's Zipkin tracer (Istio's zipkin provider, trace_context_option
 *   USE_B3): reads `b3` or `x-b3-*`, writes `x-b3-traceid/spanid/parentspanid/sampled`;
 * - `w3c`: Envoy's OpenTelemetry tracer (Istio's opentelemetry provider):
 *   reads and writes `traceparent`, `tracestate` passed through;
 * - `b3+w3c`: the Zipkin tracer with USE_B3_WITH_W3C_PROPAGATION (Istio 1.28+
 *   zipkin.traceContextOption): reads B3, else `traceparent`; writes both.
 */
export type TracePropagation = 'b3' | 'w3c' | 'b3+w3c';

export interface MeshSpec {
  trustDomain?: string;
  namespace?: string;
  /** Istio's root namespace: mesh-wide PeerAuthentication, AuthorizationPolicy, DestinationRule. */
  rootNamespace?: string;
  controlPort?: number;
  ingress?: { port?: number };
  /** devmesh's own: where spans go, how many, and which trace headers the sidecars read and write (default: `w3c` with `otlp`, else `b3`). */
  telemetry?: { otlp?: { endpoint: string }; sampling?: number; propagation?: TracePropagation };
  /** The mesh flavor whose profile applies: defaults, identity format, kinds (policy/flavors; only Istio's today). */
  flavor?: Flavor;
  /** An older Istio release whose defaults to apply, as Istio's `compatibilityVersion` (e.g. "1.23"). */
  compatibilityVersion?: string;
  /** The mesh-wide settings of Istio's MeshConfig that change what sidecars do. */
  meshConfig?: MeshConfigSpec;
  /** Istio's meshConfig.extensionProviders: the external authorizers AuthorizationPolicy CUSTOM names. */
  extensionProviders?: ExtensionProvider[];
  /** Istio's meshConfig.outboundTrafficPolicy: what a sidecar does with a host no registry entry names (default ALLOW_ANY). */
  outboundTrafficPolicy?: OutboundTrafficPolicy;
  /** How TCP connections travel between sidecars over mTLS (README "TCP"): a TLS connection each, or a CONNECT stream on the pair's HTTP/2 session. */
  tcpTunnel?: TcpTunnel;
  services: ServiceSpec[];
  /** Workloads declared outside any service (services select them by labels). */
  workloads?: WorkloadSpec[];
}

/** `tls`: one mTLS connection per TCP connection (Istio's sidecars); `h2`: a CONNECT stream on the pair's HTTP/2 session (HBONE-like). */
export type TcpTunnel = 'tls' | 'h2';

/** The transport a Mesh that names none gets (chosen by bench/tcp.ts: BENCHMARKS.md "TCP through the mesh"). */
export const DEFAULT_TCP_TUNNEL: TcpTunnel = 'tls';

/** The part of Istio's MeshConfig (istio/api mesh/v1alpha1/config.proto) devmesh simulates, same field names. */
export interface MeshConfigSpec {
  defaultHttpRetryPolicy?: HTTPRetry;
  pathNormalization?: { normalization?: 'DEFAULT' | 'NONE' | 'BASE' | 'MERGE_SLASHES' | 'DECODE_AND_MERGE_SLASHES' };
  connectTimeout?: string;
  enableAutoMtls?: boolean;
  defaultConfig?: { proxyHeaders?: ProxyHeadersSpec; gatewayTopology?: GatewayTopologySpec };
}

/** Istio's ProxyConfig.gatewayTopology (istio/api mesh/v1alpha1/proxy.proto): how a gateway treats what clients send. */
export interface GatewayTopologySpec {
  forwardClientCertDetails?: ProxyHeadersSpec['forwardedClientCert'];
  numTrustedProxies?: number;
  proxyProtocol?: object;
}

/** Istio's ProxyConfig.ProxyHeaders (istio/api mesh/v1alpha1/proxy.proto). */
export interface ProxyHeadersSpec {
  forwardedClientCert?: 'UNDEFINED' | 'SANITIZE' | 'FORWARD_ONLY' | 'APPEND_FORWARD' | 'SANITIZE_SET' | 'ALWAYS_FORWARD_ONLY';
  setCurrentClientCertDetails?: { subject?: boolean; uri?: boolean; dns?: boolean; cert?: boolean; chain?: boolean };
  requestId?: { disabled?: boolean };
  server?: { disabled?: boolean; value?: string };
  attemptCount?: { disabled?: boolean };
  envoyDebugHeaders?: { disabled?: boolean };
  metadataExchangeHeaders?: { mode?: 'UNDEFINED' | 'IN_MESH' };
  preserveHttp1HeaderCase?: boolean;
  xForwardedHost?: { enabled?: boolean };
  xForwardedPort?: { enabled?: boolean };
}

/** meshConfig's EnvoyExternalAuthorizationRequestBody. */
export interface ExtAuthzRequestBody {
  maxRequestBytes?: number;
  allowPartialMessage?: boolean;
  packAsBytes?: boolean;
}

/** meshConfig's EnvoyExternalAuthorizationHttpProvider (`port` may be written as a string, as Istio's tasks do). */
export interface ExtAuthzHttpProvider {
  service: string;
  port: number | string;
  timeout?: string;
  pathPrefix?: string;
  failOpen?: boolean;
  clearRouteCache?: boolean;
  statusOnError?: string;
  /** Deprecated in Istio: includeRequestHeadersInCheck. */
  includeHeadersInCheck?: string[];
  includeRequestHeadersInCheck?: string[];
  includeAdditionalHeadersInCheck?: Record<string, string>;
  includeRequestBodyInCheck?: ExtAuthzRequestBody;
  headersToUpstreamOnAllow?: string[];
  headersToDownstreamOnDeny?: string[];
  headersToDownstreamOnAllow?: string[];
}

/** meshConfig's EnvoyExternalAuthorizationGrpcProvider. */
export interface ExtAuthzGrpcProvider {
  service: string;
  port: number | string;
  timeout?: string;
  failOpen?: boolean;
  clearRouteCache?: boolean;
  statusOnError?: string;
  includeRequestBodyInCheck?: ExtAuthzRequestBody;
}

/** One entry of meshConfig.extensionProviders; the other provider kinds (tracing, logging) are accepted, not simulated. */
export interface ExtensionProvider {
  name: string;
  envoyExtAuthzHttp?: ExtAuthzHttpProvider;
  envoyExtAuthzGrpc?: ExtAuthzGrpcProvider;
  [other: string]: unknown;
}

/** The local ingress stands in for Istio's ingress gateway: its namespace and pod labels, which policies select. */
export const INGRESS_GATEWAY = {
  namespace: 'istio-system',
  labels: { istio: 'ingressgateway', app: 'istio-ingressgateway' } as Readonly<Record<string, string>>,
} as const;

export const MESH_DEFAULTS = {
  trustDomain: 'cluster.local',
  namespace: 'default',
  rootNamespace: 'istio-system',
  controlPort: 15000,
  ingressPort: 15080,
} as const;

// ---------- shared Istio types ----------

/** Istio's StringMatch: exactly one of exact / prefix / regex. */
export interface StringMatch {
  exact?: string;
  prefix?: string;
  regex?: string;
}

export interface Percent {
  value: number;
}

export interface PortSelector {
  number: number;
}

export interface WorkloadSelector {
  matchLabels?: Record<string, string>;
}

export interface Metadata {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** Set by Kubernetes; the Gateway API orders routes of equal precedence by it (oldest first). */
  creationTimestamp?: string;
}

// ---------- networking.istio.io VirtualService ----------

export interface HTTPMatchRequest {
  name?: string;
  uri?: StringMatch;
  scheme?: StringMatch;
  method?: StringMatch;
  authority?: StringMatch;
  headers?: Record<string, StringMatch>;
  port?: number;
  sourceLabels?: Record<string, string>;
  gateways?: string[];
  queryParams?: Record<string, StringMatch>;
  ignoreUriCase?: boolean;
  withoutHeaders?: Record<string, StringMatch>;
  sourceNamespace?: string;
  statPrefix?: string;
}

export interface Destination {
  host: string;
  subset?: string;
  port?: PortSelector;
}

export interface HeaderOperations {
  set?: Record<string, string>;
  add?: Record<string, string>;
  remove?: string[];
}

export interface Headers {
  request?: HeaderOperations;
  response?: HeaderOperations;
}

export interface HTTPRouteDestination {
  destination: Destination;
  weight?: number;
  headers?: Headers;
}

export interface HTTPRedirect {
  uri?: string;
  authority?: string;
  port?: number;
  derivePort?: 'FROM_PROTOCOL_DEFAULT' | 'FROM_REQUEST_PORT';
  scheme?: string;
  redirectCode?: number;
}

export interface HTTPDirectResponse {
  status: number;
  body?: { string?: string; bytes?: string };
}

export interface HTTPRewrite {
  uri?: string;
  authority?: string;
  uriRegexRewrite?: { match: string; rewrite: string };
}

export interface HTTPRetry {
  attempts?: number;
  perTryTimeout?: string;
  retryOn?: string;
  retryRemoteLocalities?: boolean;
  retryIgnorePreviousHosts?: boolean;
  backoff?: string;
}

export interface HTTPFaultInjection {
  delay?: { fixedDelay?: string; exponentialDelay?: string; percentage?: Percent; percent?: number };
  abort?: { httpStatus?: number; grpcStatus?: string; http2Error?: string; percentage?: Percent };
}

export interface CorsPolicy {
  allowOrigins?: StringMatch[];
  allowMethods?: string[];
  allowHeaders?: string[];
  exposeHeaders?: string[];
  maxAge?: string;
  allowCredentials?: boolean;
  unmatchedPreflights?: 'UNSPECIFIED' | 'FORWARD' | 'IGNORE';
}

export interface HTTPMirrorPolicy {
  destination: Destination;
  percentage?: Percent;
}

export interface HTTPRoute {
  name?: string;
  match?: HTTPMatchRequest[];
  route?: HTTPRouteDestination[];
  redirect?: HTTPRedirect;
  directResponse?: HTTPDirectResponse;
  delegate?: { name?: string; namespace?: string };
  rewrite?: HTTPRewrite;
  timeout?: string;
  retries?: HTTPRetry;
  fault?: HTTPFaultInjection;
  mirror?: Destination;
  mirrors?: HTTPMirrorPolicy[];
  mirrorPercentage?: Percent;
  corsPolicy?: CorsPolicy;
  headers?: Headers;
}

export interface L4MatchAttributes {
  destinationSubnets?: string[];
  port?: number;
  sourceLabels?: Record<string, string>;
  gateways?: string[];
  sourceNamespace?: string;
}

export interface RouteDestination {
  destination: Destination;
  weight?: number;
}

export interface TCPRoute {
  match?: L4MatchAttributes[];
  route?: RouteDestination[];
}

export interface TLSMatchAttributes {
  /** SNI values to match (wildcards `*.example.com` allowed); required by Istio. */
  sniHosts: string[];
  destinationSubnets?: string[];
  port?: number;
  sourceLabels?: Record<string, string>;
  gateways?: string[];
  sourceNamespace?: string;
}

export interface TLSRoute {
  match: TLSMatchAttributes[];
  route?: RouteDestination[];
}

export interface VirtualServiceSpec {
  hosts?: string[];
  gateways?: string[];
  http?: HTTPRoute[];
  tcp?: TCPRoute[];
  tls?: TLSRoute[];
  exportTo?: string[];
}

// ---------- networking.istio.io DestinationRule ----------

export type SimpleLB = 'UNSPECIFIED' | 'RANDOM' | 'PASSTHROUGH' | 'ROUND_ROBIN' | 'LEAST_REQUEST' | 'LEAST_CONN';

export interface ConsistentHashLB {
  httpHeaderName?: string;
  httpCookie?: { name: string; path?: string; ttl?: string };
  useSourceIp?: boolean;
  httpQueryParameterName?: string;
  minimumRingSize?: number;
  ringHash?: { minimumRingSize?: number };
  maglev?: { tableSize?: number };
}

export interface LoadBalancerSettings {
  simple?: SimpleLB;
  consistentHash?: ConsistentHashLB;
  localityLbSetting?: unknown;
  warmupDurationSecs?: string;
}

export interface ConnectionPoolSettings {
  tcp?: {
    maxConnections?: number;
    connectTimeout?: string;
    tcpKeepalive?: { probes?: number; time?: string; interval?: string };
    maxConnectionDuration?: string;
    idleTimeout?: string;
  };
  http?: {
    http1MaxPendingRequests?: number;
    http2MaxRequests?: number;
    maxRequestsPerConnection?: number;
    maxRetries?: number;
    idleTimeout?: string;
    h2UpgradePolicy?: 'DEFAULT' | 'DO_NOT_UPGRADE' | 'UPGRADE';
    useClientProtocol?: boolean;
    maxConcurrentStreams?: number;
  };
}

export interface OutlierDetection {
  splitExternalLocalOriginErrors?: boolean;
  consecutiveLocalOriginFailures?: number;
  consecutiveGatewayErrors?: number;
  consecutive5xxErrors?: number;
  interval?: string;
  baseEjectionTime?: string;
  maxEjectionPercent?: number;
  minHealthPercent?: number;
}

export type TLSMode = 'DISABLE' | 'SIMPLE' | 'MUTUAL' | 'ISTIO_MUTUAL';

export interface ClientTLSSettings {
  mode?: TLSMode;
  clientCertificate?: string;
  privateKey?: string;
  caCertificates?: string;
  credentialName?: string;
  subjectAltNames?: string[];
  sni?: string;
  insecureSkipVerify?: boolean;
}

export interface PortTrafficPolicy {
  port?: PortSelector;
  loadBalancer?: LoadBalancerSettings;
  connectionPool?: ConnectionPoolSettings;
  outlierDetection?: OutlierDetection;
  tls?: ClientTLSSettings;
}

export interface TrafficPolicy {
  loadBalancer?: LoadBalancerSettings;
  connectionPool?: ConnectionPoolSettings;
  outlierDetection?: OutlierDetection;
  tls?: ClientTLSSettings;
  portLevelSettings?: PortTrafficPolicy[];
  tunnel?: unknown;
  proxyProtocol?: unknown;
}

export interface Subset {
  name: string;
  labels?: Record<string, string>;
  trafficPolicy?: TrafficPolicy;
}

export interface DestinationRuleSpec {
  host: string;
  trafficPolicy?: TrafficPolicy;
  subsets?: Subset[];
  exportTo?: string[];
  workloadSelector?: WorkloadSelector;
}

// ---------- networking.istio.io Gateway ----------

export interface GatewayServer {
  port: { number: number; protocol: string; name?: string; targetPort?: number };
  bind?: string;
  hosts: string[];
  tls?: unknown;
  name?: string;
}

export interface GatewaySpec {
  servers?: GatewayServer[];
  selector?: Record<string, string>;
}

// ---------- security.istio.io PeerAuthentication ----------

export type MtlsMode = 'UNSET' | 'DISABLE' | 'PERMISSIVE' | 'STRICT';

export interface PeerAuthenticationSpec {
  selector?: WorkloadSelector;
  mtls?: { mode?: MtlsMode };
  portLevelMtls?: Record<string, { mode?: MtlsMode }>;
}

// ---------- security.istio.io AuthorizationPolicy ----------

export interface AuthzSource {
  principals?: string[];
  notPrincipals?: string[];
  requestPrincipals?: string[];
  notRequestPrincipals?: string[];
  namespaces?: string[];
  notNamespaces?: string[];
  ipBlocks?: string[];
  notIpBlocks?: string[];
  remoteIpBlocks?: string[];
  notRemoteIpBlocks?: string[];
  serviceAccounts?: string[];
  notServiceAccounts?: string[];
}

export interface AuthzOperation {
  hosts?: string[];
  notHosts?: string[];
  ports?: string[];
  notPorts?: string[];
  methods?: string[];
  notMethods?: string[];
  paths?: string[];
  notPaths?: string[];
}

export interface AuthzCondition {
  key: string;
  values?: string[];
  notValues?: string[];
}

export interface AuthzRule {
  from?: { source?: AuthzSource }[];
  to?: { operation?: AuthzOperation }[];
  when?: AuthzCondition[];
}

export type AuthzAction = 'ALLOW' | 'DENY' | 'AUDIT' | 'CUSTOM';

export interface AuthorizationPolicySpec {
  selector?: WorkloadSelector;
  targetRef?: unknown;
  targetRefs?: unknown[];
  rules?: AuthzRule[];
  action?: AuthzAction;
  provider?: { name: string };
}

// ---------- security.istio.io RequestAuthentication ----------

export interface JWTHeader {
  name: string;
  prefix?: string;
}

export interface ClaimToHeader {
  header: string;
  claim: string;
}

export interface JWTRule {
  issuer?: string;
  audiences?: string[];
  /** A URL (http/https) or, in devmesh, a file path relative to the policy file. */
  jwksUri?: string;
  /** The CRD's alternative spelling of jwksUri. */
  jwks_uri?: string;
  jwks?: string;
  fromHeaders?: JWTHeader[];
  fromParams?: string[];
  fromCookies?: string[];
  outputPayloadToHeader?: string;
  forwardOriginalToken?: boolean;
  outputClaimToHeaders?: ClaimToHeader[];
  timeout?: string;
  spaceDelimitedClaims?: string[];
}

export interface RequestAuthenticationSpec {
  selector?: WorkloadSelector;
  targetRef?: unknown;
  targetRefs?: unknown[];
  jwtRules?: JWTRule[];
}

// ---------- networking.istio.io ServiceEntry, WorkloadEntry, Sidecar ----------

export type OutboundTrafficMode = 'ALLOW_ANY' | 'REGISTRY_ONLY';

export interface OutboundTrafficPolicy {
  mode?: OutboundTrafficMode;
  egressProxy?: unknown;
}

/** A port of a ServiceEntry (Istio's ServicePort): number, protocol, name, targetPort. */
export interface ServiceEntryPort {
  number: number;
  protocol?: string;
  name: string;
  targetPort?: number;
}

/** WorkloadEntry's spec, also a ServiceEntry's `endpoints[]` entry. */
export interface WorkloadEntrySpec {
  address?: string;
  /** Port name (of the ServiceEntry) -> the port on this endpoint. */
  ports?: Record<string, number>;
  labels?: Record<string, string>;
  network?: string;
  locality?: string;
  weight?: number;
  serviceAccount?: string;
}

export type ServiceEntryLocation = 'MESH_EXTERNAL' | 'MESH_INTERNAL';
export type ServiceEntryResolution = 'NONE' | 'STATIC' | 'DNS' | 'DNS_ROUND_ROBIN';

export interface ServiceEntrySpec {
  hosts: string[];
  addresses?: string[];
  ports?: ServiceEntryPort[];
  location?: ServiceEntryLocation;
  resolution?: ServiceEntryResolution;
  endpoints?: WorkloadEntrySpec[];
  workloadSelector?: { labels?: Record<string, string> };
  exportTo?: string[];
  subjectAltNames?: string[];
}

export interface IstioEgressListener {
  port?: { number?: number; protocol?: string; name?: string };
  bind?: string;
  captureMode?: string;
  // `namespace/host`: `./*`, `istio-system/*`, `*/api.example.com`, `~/*`.
  hosts: string[];
}

export interface SidecarSpec {
  workloadSelector?: { labels?: Record<string, string> };
  ingress?: unknown[];
  egress?: IstioEgressListener[];
  outboundTrafficPolicy?: OutboundTrafficPolicy;
  inboundConnectionPool?: unknown;
}

// ---------- telemetry.istio.io Telemetry ----------

/** Which side of a workload's traffic a tracing, logging or metrics entry applies to (telemetry.proto WorkloadMode). */
export type WorkloadMode = 'CLIENT_AND_SERVER' | 'CLIENT' | 'SERVER';

export interface TelemetryProviderRef {
  name: string;
}

/** A span tag whose value is a literal, a request header (with a default) or an environment variable of the proxy. */
export interface TracingCustomTag {
  literal?: { value: string };
  environment?: { name: string; defaultValue?: string };
  header?: { name: string; defaultValue?: string };
}

export interface TelemetryTracing {
  match?: { mode?: WorkloadMode };
  providers?: TelemetryProviderRef[];
  randomSamplingPercentage?: number;
  disableSpanReporting?: boolean;
  customTags?: Record<string, TracingCustomTag>;
  useRequestIdForTraceSampling?: boolean;
  enableIstioTags?: boolean;
}

export interface TelemetryAccessLogging {
  match?: { mode?: WorkloadMode };
  providers?: TelemetryProviderRef[];
  disabled?: boolean;
  filter?: { expression?: string };
}

/** telemetry.proto MetricSelector.IstioMetric. */
export type IstioMetricName = 'ALL_METRICS' | 'REQUEST_COUNT' | 'REQUEST_DURATION' | 'REQUEST_SIZE' | 'RESPONSE_SIZE'
  | 'TCP_OPENED_CONNECTIONS' | 'TCP_CLOSED_CONNECTIONS' | 'TCP_SENT_BYTES' | 'TCP_RECEIVED_BYTES' | 'GRPC_REQUEST_MESSAGES' | 'GRPC_RESPONSE_MESSAGES';

export interface TelemetryMetricsOverride {
  match?: { metric?: IstioMetricName; customMetric?: string; mode?: WorkloadMode };
  disabled?: boolean;
  tagOverrides?: Record<string, { operation?: 'UPSERT' | 'REMOVE'; value?: string }>;
}

export interface TelemetryMetrics {
  providers?: TelemetryProviderRef[];
  overrides?: TelemetryMetricsOverride[];
  reportingInterval?: string;
}

/** A Gateway API resource a policy attaches to (Istio's PolicyTargetReference). */
export interface PolicyTargetReference {
  group?: string;
  kind: string;
  name: string;
  namespace?: string;
}

export interface TelemetrySpec {
  selector?: WorkloadSelector;
  targetRef?: PolicyTargetReference;
  targetRefs?: PolicyTargetReference[];
  tracing?: TelemetryTracing[];
  accessLogging?: TelemetryAccessLogging[];
  metrics?: TelemetryMetrics[];
}

// ---------- gateway.networking.k8s.io (Kubernetes Gateway API) ----------

/** A reference to a route's parent: a Gateway (ingress) or, GAMMA, a Service (mesh). */
export interface ParentReference {
  group?: string;
  kind?: string;
  namespace?: string;
  name: string;
  sectionName?: string;
  port?: number;
}

/** A reference to a backend; a Kubernetes Service unless group/kind say otherwise. */
export interface BackendObjectReference {
  group?: string;
  kind?: string;
  name: string;
  namespace?: string;
  port?: number;
}

export interface HTTPHeaderNameValue {
  name: string;
  value: string;
}

export interface HTTPHeaderFilter {
  set?: HTTPHeaderNameValue[];
  add?: HTTPHeaderNameValue[];
  remove?: string[];
}

export interface HTTPPathModifier {
  type: 'ReplaceFullPath' | 'ReplacePrefixMatch';
  replaceFullPath?: string;
  replacePrefixMatch?: string;
}

export interface HTTPRequestRedirectFilter {
  scheme?: 'http' | 'https';
  hostname?: string;
  path?: HTTPPathModifier;
  port?: number;
  statusCode?: 301 | 302 | 303 | 307 | 308;
}

export interface HTTPURLRewriteFilter {
  hostname?: string;
  path?: HTTPPathModifier;
}

export interface HTTPRequestMirrorFilter {
  backendRef: BackendObjectReference;
  percent?: number;
  fraction?: { numerator: number; denominator?: number };
}

export interface HTTPCORSFilter {
  allowOrigins?: string[];
  allowCredentials?: boolean;
  allowMethods?: string[];
  allowHeaders?: string[];
  exposeHeaders?: string[];
  maxAge?: number;
}

export type HTTPRouteFilterType = 'RequestHeaderModifier' | 'ResponseHeaderModifier' | 'RequestRedirect' | 'URLRewrite' | 'RequestMirror' | 'CORS' | 'ExtensionRef' | 'ExternalAuth';

export interface HTTPRouteFilter {
  type: HTTPRouteFilterType;
  requestHeaderModifier?: HTTPHeaderFilter;
  responseHeaderModifier?: HTTPHeaderFilter;
  requestRedirect?: HTTPRequestRedirectFilter;
  urlRewrite?: HTTPURLRewriteFilter;
  requestMirror?: HTTPRequestMirrorFilter;
  cors?: HTTPCORSFilter;
  extensionRef?: { group: string; kind: string; name: string };
}

export interface HTTPPathMatch {
  type?: 'Exact' | 'PathPrefix' | 'RegularExpression';
  value?: string;
}

export interface HTTPHeaderMatch {
  type?: 'Exact' | 'RegularExpression';
  name: string;
  value: string;
}

export interface HTTPRouteMatch {
  path?: HTTPPathMatch;
  headers?: HTTPHeaderMatch[];
  queryParams?: HTTPHeaderMatch[];
  method?: string;
}

export interface HTTPBackendRef extends BackendObjectReference {
  weight?: number;
  filters?: HTTPRouteFilter[];
}

export interface HTTPRouteTimeouts {
  request?: string;
  backendRequest?: string;
}

export interface HTTPRouteRetry {
  codes?: number[];
  attempts?: number;
  backoff?: string;
}

export interface HTTPRouteRule {
  name?: string;
  matches?: HTTPRouteMatch[];
  filters?: HTTPRouteFilter[];
  backendRefs?: HTTPBackendRef[];
  timeouts?: HTTPRouteTimeouts;
  retry?: HTTPRouteRetry;
  sessionPersistence?: unknown;
}

export interface HTTPRouteSpec {
  parentRefs?: ParentReference[];
  hostnames?: string[];
  rules?: HTTPRouteRule[];
}

export interface GRPCMethodMatch {
  type?: 'Exact' | 'RegularExpression';
  service?: string;
  method?: string;
}

export interface GRPCRouteMatch {
  method?: GRPCMethodMatch;
  headers?: HTTPHeaderMatch[];
}

export interface GRPCRouteFilter {
  type: 'RequestHeaderModifier' | 'ResponseHeaderModifier' | 'RequestMirror' | 'ExtensionRef';
  requestHeaderModifier?: HTTPHeaderFilter;
  responseHeaderModifier?: HTTPHeaderFilter;
  requestMirror?: HTTPRequestMirrorFilter;
  extensionRef?: { group: string; kind: string; name: string };
}

export interface GRPCBackendRef extends BackendObjectReference {
  weight?: number;
  filters?: GRPCRouteFilter[];
}

export interface GRPCRouteRule {
  name?: string;
  matches?: GRPCRouteMatch[];
  filters?: GRPCRouteFilter[];
  backendRefs?: GRPCBackendRef[];
  sessionPersistence?: unknown;
}

export interface GRPCRouteSpec {
  parentRefs?: ParentReference[];
  hostnames?: string[];
  rules?: GRPCRouteRule[];
}

/** A backend of a TLSRoute or TCPRoute rule (Gateway API BackendRef). */
export interface L4BackendRef extends BackendObjectReference {
  weight?: number;
}

/** TLSRoute (gateway.networking.k8s.io/v1alpha2, v1alpha3): TLS connections routed by the SNI of their ClientHello, bytes untouched. */
export interface TLSRouteSpec {
  parentRefs?: ParentReference[];
  hostnames?: string[];
  rules?: { name?: string; backendRefs?: L4BackendRef[] }[];
}

/** TCPRoute (gateway.networking.k8s.io/v1alpha2): opaque TCP connections to weighted backends. */
export interface TCPRouteSpec {
  parentRefs?: ParentReference[];
  rules?: { name?: string; backendRefs?: L4BackendRef[] }[];
}

/** A Kubernetes Secret (or other object) a listener's TLS names. */
export interface SecretObjectReference {
  group?: string;
  kind?: string;
  name: string;
  namespace?: string;
}

export interface RouteNamespaces {
  from?: 'All' | 'Same' | 'Selector' | 'None';
  selector?: { matchLabels?: Record<string, string>; matchExpressions?: unknown[] };
}

export interface Listener {
  name: string;
  hostname?: string;
  port: number;
  protocol: string;
  tls?: { mode?: 'Terminate' | 'Passthrough'; certificateRefs?: SecretObjectReference[]; options?: Record<string, string> };
  allowedRoutes?: { namespaces?: RouteNamespaces; kinds?: { group?: string; kind: string }[] };
}

export interface KubernetesGatewaySpec {
  gatewayClassName: string;
  listeners?: Listener[];
  addresses?: unknown[];
  infrastructure?: unknown;
}

export interface ReferenceGrantSpec {
  from: { group: string; kind: string; namespace: string }[];
  to: { group: string; kind: string; name?: string }[];
}

// ---------- resources ----------

export interface SpecByKind {
  Mesh: MeshSpec;
  VirtualService: VirtualServiceSpec;
  DestinationRule: DestinationRuleSpec;
  Gateway: GatewaySpec;
  PeerAuthentication: PeerAuthenticationSpec;
  AuthorizationPolicy: AuthorizationPolicySpec;
  RequestAuthentication: RequestAuthenticationSpec;
  ServiceEntry: ServiceEntrySpec;
  WorkloadEntry: WorkloadEntrySpec;
  Sidecar: SidecarSpec;
  Telemetry: TelemetrySpec;
  HTTPRoute: HTTPRouteSpec;
  GRPCRoute: GRPCRouteSpec;
  TLSRoute: TLSRouteSpec;
  TCPRoute: TCPRouteSpec;
  /** A Gateway API Gateway (`kind: Gateway` in gateway.networking.k8s.io). */
  KubernetesGateway: KubernetesGatewaySpec;
  ReferenceGrant: ReferenceGrantSpec;
}

export type Kind = keyof SpecByKind;
export type IstioKind = Exclude<Kind, 'Mesh'>;

/** A resource as it travels between parts: plain JSON, no source positions. */
export interface Resource<K extends Kind = Kind> {
  apiVersion: string;
  kind: K;
  metadata: Metadata;
  spec: SpecByKind[K];
}
