/**
 * The shape of the defaults a mesh flavor applies: every value a sidecar
 * falls back on when a policy leaves something out (retries, timeouts,
 * load balancing, outlier detection, connection pools, mTLS, path
 * normalization, mirrors, proxy headers). Plain JSON: the resolved table
 * travels in the snapshot, and every value carries where it came from
 * (`provenance`), so `devmesh explain` and hovers can say which default
 * applied and from which version.
 */

import type { HTTPRetry, TracePropagation } from '../model';
import type { Flavor } from '../flavors';

export type { Flavor, TracePropagation };

export type PathNormalization = 'NONE' | 'BASE' | 'MERGE_SLASHES' | 'DECODE_AND_MERGE_SLASHES';

/** Envoy's forward_client_cert_details, as Istio's ProxyHeaders.forwardedClientCert names it. */
export type ForwardClientCert = 'SANITIZE' | 'FORWARD_ONLY' | 'APPEND_FORWARD' | 'SANITIZE_SET' | 'ALWAYS_FORWARD_ONLY';

/** The three kinds of listener Istio builds proxy headers for (pilot's ListenerClass). */
export type ListenerClass = 'outbound' | 'inbound' | 'gateway';

export interface RetryDefaults {
  /** Retries after the first try. */
  attempts: number;
  /** Envoy retry_on conditions, comma-separated. */
  retryOn: string;
  /** Status codes `retriable-status-codes` covers. */
  retriableStatusCodes: number[];
  /** Envoy's previous_hosts predicate (never with consistent hashing). */
  retryIgnorePreviousHosts: boolean;
  /** Envoy's jittered back-off: base interval and the cap as a multiple of it. */
  backoffBaseMs: number;
  backoffMaxFactor: number;
}

export interface OutlierDefaults {
  consecutive5xxErrors: number;
  /** 0 = not enforced. */
  consecutiveGatewayErrors: number;
  consecutiveLocalOriginFailures: number;
  intervalMs: number;
  baseEjectionTimeMs: number;
  maxEjectionPercent: number;
  minHealthPercent: number;
  maxEjectionTimeMs: number;
}

export interface ConnectionPoolDefaults {
  maxConnections: number;
  http1MaxPendingRequests: number;
  http2MaxRequests: number;
  maxRetries: number;
  /** 0 = unlimited. */
  maxRequestsPerConnection: number;
  idleTimeoutMs: number;
  /** A TCP connection through the mesh with no bytes either way for this long is closed (Envoy tcp_proxy idle_timeout); 0 = never. */
  tcpIdleTimeoutMs: number;
  connectTimeoutMs: number;
}

export interface ProxyHeaderDefaults {
  /** The Server header each listener class writes; null = pass the upstream's through (PASS_THROUGH). */
  server: Record<ListenerClass, string | null>;
  /** x-envoy-attempt-count on upstream requests. */
  attemptCount: boolean;
  /** Generate x-request-id when the request has none. */
  requestId: boolean;
  /** x-forwarded-client-cert at the sidecar's inbound listener; the gateway's is its own (gateway topology). */
  forwardedClientCert: Record<'inbound' | 'gateway', ForwardClientCert>;
  /** Which fields of the peer certificate go into x-forwarded-client-cert (Hash and By always). */
  setCurrentClientCertDetails: { subject: boolean; uri: boolean; dns: boolean };
  /** x-envoy-upstream-service-time, x-envoy-overloaded, x-envoy-original-path, x-envoy-expected-rq-timeout-ms. */
  envoyDebugHeaders: boolean;
  /** Append x-forwarded-host when a route rewrites the authority. */
  xForwardedHost: boolean;
  /** x-forwarded-port with the port the client connected to. */
  xForwardedPort: boolean;
  /** Gateways append the client address to x-forwarded-for (use_remote_address); sidecars do not. */
  xForwardedForAtGateway: boolean;
  /** How many proxies in front of a gateway are trusted (xff_num_trusted_hops): with 0 a client's x-forwarded-proto is replaced by the connection's scheme. */
  trustedProxiesAtGateway: number;
}

export interface Defaults {
  /** Outbound routes without `retries` (and with `retries` but no `retryOn`: the conditions and codes). */
  retry: RetryDefaults;
  /** The mesh's own policy for routes without `retries` (meshConfig.defaultHttpRetryPolicy), read like a rule's `retries`. */
  defaultHttpRetryPolicy: HTTPRetry | null;
  /** The inbound route's retry to the app, or null for none. */
  inboundRetry: { attempts: number; retryOn: string } | null;
  /** Route timeout when a rule sets none; 0 = no timeout. */
  routeTimeoutMs: number;
  /** Load balancer when a DestinationRule sets no `simple`. */
  loadBalancer: 'LEAST_REQUEST' | 'ROUND_ROBIN' | 'RANDOM';
  outlierDetection: OutlierDefaults;
  connectionPool: ConnectionPoolDefaults;
  /** PeerAuthentication mode when no policy decides. */
  mtlsMode: 'PERMISSIVE' | 'STRICT' | 'DISABLE';
  /** Clients pick mTLS or plaintext per endpoint from its PeerAuthentication when no DestinationRule sets tls. */
  autoMtls: boolean;
  pathNormalization: PathNormalization;
  /** Mirrored requests get `-shadow` appended to their Host. */
  mirrorShadowHostSuffix: boolean;
  proxyHeaders: ProxyHeaderDefaults;
  /** The trace headers every sidecar reads and writes (its tracer's format). */
  tracePropagation: TracePropagation;
}

/** Where one default comes from. */
export interface Provenance {
  /** `default`: the flavor's release; `compatibilityVersion`: an older release's value; `meshConfig`: the Mesh's meshConfig set it; `mesh`: another Mesh field (spec.telemetry) decided it. */
  from: 'default' | 'compatibilityVersion' | 'meshConfig' | 'mesh';
  /** The release whose value this is (`1.30`, or the compatibility version). */
  version: string;
  /** File and line (or doc section) the value follows. */
  source: string;
  /** The Istio feature flag a compatibility version flips, if any. */
  feature?: string;
}

export interface ResolvedDefaults extends Defaults {
  flavor: Flavor;
  /** The release whose defaults apply: the compatibility version, or the newest followed. */
  version: string;
  /** As written in the Mesh, when it was. */
  compatibilityVersion?: string;
  /** Dotted path of a value (`retry.retriableStatusCodes`) -> where it comes from. Every leaf of Defaults has one. */
  provenance: Record<string, Provenance>;
}

/** One behaviour change of a release: from `since` on, `path` has the table's value; before it, `before`. */
export interface Change {
  since: string;
  path: string;
  before: unknown;
  /** The feature flag the compatibility profile flips back. */
  feature?: string;
  source: string;
  /** One line for hovers: what the older value means. */
  summary: string;
}

/** A compatibility-profile flip devmesh has nothing to simulate for (said in hovers and docs, never silent). */
export interface UnmodelledChange {
  since: string;
  feature: string;
  why: string;
}

/** One flavor's defaults: the newest release's values with their sources, and what older releases had. */
export interface FlavorTable {
  flavor: Flavor;
  /** The newest release followed. */
  current: string;
  /** Versions a Mesh may name as `compatibilityVersion`, oldest first (the newest included). */
  versions: readonly string[];
  defaults: Defaults;
  /** Dotted path -> file and line (or doc section) of the current value. */
  sources: Record<string, string>;
  changes: readonly Change[];
  unmodelled: readonly UnmodelledChange[];
}
