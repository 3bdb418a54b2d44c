/**
 * What `devmesh explain` answers, as plain JSON (`--format json`, the
 * extension's Explain Request view): each step in the order the sidecars
 * decide, the records they would write (decisions.ts), and the outcomes with
 * their odds.
 */
import type { DecisionRecord, RuleRef } from '../sidecar/decisions';
import type { GatewayHandshake } from './gatewayTls';

/** Where a resource or one of its fields is written. */
export interface Location {
  file: string;
  /** 1-based. */
  line: number;
  column: number;
}

export interface ResourceRef {
  kind: string;
  namespace: string;
  name: string;
  location?: Location;
}

export interface ExplainRequest {
  /** A workload name, or `ingress`. */
  from: string;
  method: string;
  url: string;
  headers: Record<string, string>;
  /** At the ingress: the request came in proxy form (`curl -x`), not routed by Gateways. */
  proxyForm?: boolean;
  /** At the ingress: the Gateway API Gateway (`name`, `namespace/name`, with `:port` when it has several) the request came in on; its routes decide. */
  gateway?: string;
  /** What the app is assumed to answer (predicts retries); unknown when absent. */
  appStatus?: number;
  /** How long the app is assumed to take to answer (predicts per-try and route timeouts); 0 when absent. */
  appDelayMs?: number;
  /** For a gRPC call: the grpc-status the app is assumed to answer with (predicts retries on unavailable, cancelled, ...); unknown when absent. */
  appGrpcStatus?: number;
  /** Requests the caller's sidecar is assumed to have in flight to the destination cluster already (connection-pool overflow is load dependent); 0 when absent. */
  inFlight?: number;
  /** Workloads assumed to have failed past their cluster's outlier-detection threshold, in the order they failed (the sidecar's detector ejects them, up to maxEjectionPercent); none when absent. */
  ejected?: string[];
  /** What an external authorizer (AuthorizationPolicy CUSTOM) is assumed to answer; unknown when absent. */
  extAuthz?: 'allow' | 'deny';
  /** At the ingress, for an https:// request: the client certificate (PEM) the client presents when the Gateway server asks for one; none when absent. */
  clientCert?: string;
}

/** Where the request goes before any rule: the service host and port, or the Gateways at the ingress. */
export interface HostStep {
  authority: string;
  path: string;
  service?: { name: string; namespace: string; fqdn: string };
  port?: { port: number; name: string; protocol: string };
  /** `gateway`: an origin-form request at the ingress, routed by Gateways; `mesh`: by the host's route table. */
  via: 'mesh' | 'gateway';
  gateways?: Array<{ name: string; hosts: string[]; matched: boolean }>;
  /** `domain`: the virtual host Envoy serves the Host from (the most specific of the names the servers and VirtualServices share). */
  virtualServices?: Array<{ name: string; gateway: string; outcome: string; domain?: string }>;
  /** Why it resolves to nothing, when it does not. */
  problem?: string;
  /** An https:// request at the ingress: the Istio Gateway server port that terminates its TLS, its mode and certificate source. */
  tls?: { port: number; servers: Array<{ gateway: string; mode: string; certificate: string }>; handshake?: GatewayHandshake };
}

export interface RuleStep {
  rule: RuleRef;
  location?: Location;
  matched: boolean;
  /** Not matched: the first condition each of its matches failed. */
  failed?: string[];
  /** Matched: the match (its conditions) that did, or that the rule has none. */
  because?: string;
}

export interface RouteStep {
  /** The route table's source; none: the default route to the service. */
  source?: ResourceRef;
  rules: RuleStep[];
  chosen?: RuleRef;
  routeName?: string;
  action: 'forward' | 'redirect' | 'direct' | 'refused';
  status?: number;
  message?: string;
  /** forward: each destination the weights can pick. */
  destinations?: Array<{ host: string; port: number; subset?: string; weight?: number; probability: number }>;
  timeout?: { ms?: number; source: string };
  retries?: { retries: number; on: string; perTryTimeoutMs?: number; source: string; location?: Location };
  faults?: Array<{ kind: 'delay' | 'abort'; probability: number; delayMs?: number; status?: number; grpcStatus?: number; source: string }>;
  mirrors?: Array<{ host: string; probability: number }>;
}

/** One destination (cluster) the route can pick, as its callers' sidecar sees it. */
export interface DestinationStep {
  cluster: string;
  host: string;
  port: number;
  subset?: string;
  probability: number;
  destinationRule?: ResourceRef[];
  /** The subset's labels and the workloads they select (all of the service's without a subset). */
  selector?: Record<string, string>;
  workloads: string[];
  problem?: string;
  loadBalancer: { policy: string; source: string };
  /** Each workload's share of this destination's requests. */
  endpoints: Array<{ workload: string; probability: number }>;
  /** Workloads of the cluster its outlier detection is assumed to have ejected (`--ejected`), left out of `endpoints`. */
  ejected?: string[];
  /** The traffic policy in force after merging (port level, subset level), and what it falls back on. */
  policy: {
    levels: string[];
    connectionPool: Record<string, number>;
    connectionPoolSource: string;
    outlierDetection?: Record<string, number | boolean>;
    tls?: string;
  };
  /** Per workload: how the call goes out and what its sidecar decides. */
  at: EndpointStep[];
}

export interface EndpointStep {
  workload: string;
  mtls: { sends: boolean; why: string };
  /** The inbound port the call is for, and its PeerAuthentication. */
  port?: { port: number; mode: string; source: ResourceRef | 'default'; admitted: boolean };
  /** RequestAuthentication at the workload: each provider's verdict on the tokens it found, and the requirement's. */
  jwt?: { providers: Array<{ policy: string; issuer: string; result: string }>; status: string; principal?: string };
  /** AuthorizationPolicy CUSTOM rules that matched: the external authorizer asked, or the denial without asking. */
  custom?: { policies: string[]; provider?: string; address?: string; verdict: string };
  /** The step that refused the request before DENY and ALLOW were looked at. */
  refusedBy?: 'RequestAuthentication' | 'CUSTOM';
  authz: {
    policies: Array<{
      policy: ResourceRef;
      action: string;
      dryRun: boolean;
      matched: number;
      rules: Array<{ rule: number; matched: boolean; failed?: string; location?: Location }>;
    }>;
    allowed: boolean;
    reason: string;
  };
}

export interface Outcome {
  probability: number;
  /** answered: the app answers; mesh: the mesh answers for it (redirect, direct response); refused: the mesh refuses. */
  kind: 'answered' | 'mesh' | 'refused';
  status?: number;
  /** For a gRPC call: the grpc-status the caller gets, when known (the mesh's own answer, or the app's assumed one). */
  grpcStatus?: number;
  flags?: string;
  summary: string;
  records: DecisionRecord[];
  /**
   * A connection through the egress gateway: the records of the gateway's own access-log entry for it (its inbound
   * admission and verdict, then its route and attempt to the external host), the hop after the caller's.
   */
  next?: { proxy: string; records: DecisionRecord[] };
}

export interface ExplainResult {
  request: ExplainRequest;
  caller: { proxy: string; namespace: string; spiffeId: string; listener: 'outbound' | 'ingress' };
  defaults: { flavor: string; version: string };
  host: HostStep;
  /** From the ingress: what the policies selecting the ingress gateway decide before it routes (absent when none selects it). */
  ingress?: EndpointStep;
  route: RouteStep;
  destinations: DestinationStep[];
  outcomes: Outcome[];
  /** The headline: the most likely outcome, and what else can happen. */
  outcome: string;
  /** Some outcome reaches an app or gets the mesh's own answer (exit 0); else every one is refused (exit 1). */
  answered: boolean;
}
