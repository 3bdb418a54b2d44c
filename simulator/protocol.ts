/**
 * The contract between the control plane and the sidecars.
 *
 * The control plane turns validated policy files into one immutable
 * `MeshSnapshot` and pushes it to every sidecar over the Node IPC channel of
 * the sidecar process (`child_process.fork`). A sidecar never reads policy
 * files itself: it acts only on the last snapshot it accepted. Everything here
 * is plain JSON so it crosses process boundaries unchanged.
 */
import type { IngressInfo, RuntimeFault, WorkloadInfo } from './control/api/contract';
import type { ResolvedDefaults } from './policy/defaults';
import type { ExtensionProvider, OutboundTrafficMode, Protocol, Resource, TcpTunnel } from './policy/model';

/** A workload and the ingress as the sidecars and the control API both see them (the API's contract owns the shapes). */
export type { GatewayListenerInfo, IngressInfo, UpstreamInfo, WorkloadInfo } from './control/api/contract';

/** One port of a service, as a Kubernetes Service port with the protocol Istio reads from it. */
export interface ServicePortInfo {
  name: string;
  /** What callers address. */
  port: number;
  /** The container port on the workloads: a number, or a name a workload maps in its `ports`. */
  targetPort: number | string;
  protocol: Protocol;
}

export interface ServiceInfo {
  name: string;
  namespace: string;
  /** name.namespace.svc.<domain> — Istio's FQDN; the domain is `cluster.local`. */
  fqdn: string;
  /** The first port (and its protocol). */
  port: number;
  protocol: Protocol;
  /** Every port. Absent: the one port above, targeting the same number. */
  ports?: ServicePortInfo[];
  /** Names of the workloads behind this service (nested ones and the ones its selector picks). */
  workloads: string[];
  /** Set when a ServiceEntry declares the host (policy/service-entries.ts). */
  entry?: ServiceEntryInfo;
}

/** What a ServiceEntry says of one of its hosts, beyond the ports. */
export interface ServiceEntryInfo {
  /** `namespace/name` of the ServiceEntry. */
  source: string;
  location: 'MESH_EXTERNAL' | 'MESH_INTERNAL';
  resolution: 'NONE' | 'STATIC' | 'DNS' | 'DNS_ROUND_ROBIN';
  addresses: string[];
  exportTo?: string[];
  subjectAltNames?: string[];
}

/**
 * Where a sidecar sends a call: a mesh workload (through its sidecar), or,
 * with `external`, an address outside the mesh (a ServiceEntry endpoint, a
 * WorkloadEntry without a sidecar, the host a passthrough call named).
 */
export type Endpoint = WorkloadInfo & { external?: ExternalAddress };

export interface ExternalAddress {
  /** An IP or a DNS name (resolved when connecting). */
  address: string;
  /** ServiceEntry port name -> the port on this endpoint. */
  ports: Record<string, number>;
  weight?: number;
}

/** A fault added at run time (`devmesh fault add`), not from a file: the control API's shape. */
export type { RuntimeFault } from './control/api/contract';

/** The certificate an HTTPS Gateway listener serves, for its hostname (none: the port's default). */
export interface ListenerCertificate {
  hostname?: string;
  certPem: string;
  keyPem: string;
  /** Where it came from: `Secret ns/name`, or `minted by devmesh`. */
  source: string;
  /** An Istio Gateway server's TLS mode (absent: a Gateway API listener, SIMPLE). */
  mode?: 'SIMPLE' | 'MUTUAL' | 'OPTIONAL_MUTUAL' | 'ISTIO_MUTUAL';
  /** MUTUAL: the CA client certificates must chain to, and where it came from. */
  clientCaPem?: string;
  clientCaSource?: string;
  /**
   * The server's credential never resolved (a credentialName naming no
   * Secret, or one that holds no usable certificate; certificate files that
   * cannot be read): Envoy's SDS secret for it never arrives, so this chain
   * completes no handshake (certPem and keyPem are empty) while the port's
   * other chains serve. `sds` is the secret's SDS name, listed WARMING.
   */
  warming?: { sds: string; why: string };
  /** MUTUAL or OPTIONAL_MUTUAL with no CA resolved: why; the chain refuses every connection (istiod serves no `-cacert` secret, Envoy's chain never handshakes). */
  clientCaMissing?: string;
  /** minProtocolVersion/maxProtocolVersion as Node names them (`TLSv1.2`), and cipherSuites (OpenSSL names). */
  minVersion?: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
  maxVersion?: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
  ciphers?: string;
}

export interface MeshSnapshot {
  /** Increases by one with every accepted configuration. */
  version: number;
  meshName: string;
  trustDomain: string;
  /** The Mesh's default namespace (of policies that name none; the ingress resolves short names in it). */
  namespace: string;
  /** Istio's root namespace (mesh-wide policies); absent means istio-system. */
  rootNamespace?: string;
  services: ServiceInfo[];
  workloads: WorkloadInfo[];
  ingress: IngressInfo;
  virtualServices: Resource<'VirtualService'>[];
  destinationRules: Resource<'DestinationRule'>[];
  gateways: Resource<'Gateway'>[];
  peerAuthentications: Resource<'PeerAuthentication'>[];
  authorizationPolicies: Resource<'AuthorizationPolicy'>[];
  /** JWT rules (absent = none); a file `jwksUri` is an absolute `file://` URL here. */
  requestAuthentications?: Resource<'RequestAuthentication'>[];
  /** The service registry beyond the Mesh's services, and the Sidecar resources (absent = none). */
  serviceEntries?: Resource<'ServiceEntry'>[];
  workloadEntries?: Resource<'WorkloadEntry'>[];
  sidecars?: Resource<'Sidecar'>[];
  /** Telemetry resources (absent = none): tracing, access-log and metric settings per workload. */
  telemetries?: Resource<'Telemetry'>[];
  /** Mesh spec.outboundTrafficPolicy.mode (absent = ALLOW_ANY). */
  outboundTrafficPolicy?: OutboundTrafficMode;
  /** Mesh spec.tcpTunnel (absent: the sidecar's bootstrap option, else DEFAULT_TCP_TUNNEL). */
  tcpTunnel?: TcpTunnel;
  /** The Mesh's extensionProviders: the external authorizers CUSTOM policies name (absent = none). */
  extensionProviders?: ExtensionProvider[];
  /** Gateway API: routes (attached to Services for the mesh, to Gateways for the ingress), Gateways and ReferenceGrants. Absent: none. */
  httpRoutes?: Resource<'HTTPRoute'>[];
  grpcRoutes?: Resource<'GRPCRoute'>[];
  /** TLSRoutes and TCPRoutes, attached to TLS and TCP listeners of Gateways (the ingress). */
  tlsRoutes?: Resource<'TLSRoute'>[];
  tcpRoutes?: Resource<'TCPRoute'>[];
  kubernetesGateways?: Resource<'KubernetesGateway'>[];
  referenceGrants?: Resource<'ReferenceGrant'>[];
  /**
   * The TLS Secrets of the workspace by `namespace/name`, only what is wrong
   * with each (never a key): whether a Gateway listener's certificateRefs
   * resolve, so the ingress serves the listeners a controller would program.
   * Absent: not known (every Secret reference taken as resolved).
   */
  gatewaySecrets?: Record<string, { problem?: string }>;
  faults: RuntimeFault[];
  /**
   * Every default the sidecars apply (retries, timeouts, pools, outlier
   * detection, mTLS, path normalization, proxy headers), resolved from the
   * flavor, `compatibilityVersion` and `meshConfig`, each with its source.
   * Absent in a snapshot from an older control plane: the newest Istio's.
   */
  defaults?: ResolvedDefaults;
}

/** PEM material for one sidecar's identity. */
export interface Certificates {
  certPem: string;
  keyPem: string;
  /** Trust bundle: the mesh CA (and, during CA rotation, the previous one). */
  caPem: string;
  notAfter: number;
  /** Epoch millis; with notAfter it tells when to rotate (at 80 % of the lifetime). */
  notBefore?: number;
  /** Hex serial number, for logs and the admin `/certs` view. */
  serial?: string;
  /** The ingress's HTTPS Gateway listeners' certificates, by `namespace/name:port` of the Gateway port. */
  listeners?: Record<string, ListenerCertificate[]>;
  /** A gateway's: the Secrets DestinationRule `tls.credentialName`s name, by that name, for TLS origination. */
  credentials?: Record<string, ClientCredential>;
}

/**
 * A DestinationRule credentialName as a gateway's istio-agent gets it over
 * SDS: the client certificate and key (`kubernetes://<name>`, for MUTUAL)
 * and the CA that verifies the server (`kubernetes://<name>-cacert`). What
 * did not resolve is absent, and `problems` says why.
 */
export interface ClientCredential {
  certPem?: string;
  keyPem?: string;
  caPem?: string;
  problems: string[];
}

// ---------- messages: control -> sidecar ----------

export type ControlMessage =
  | { type: 'bootstrap'; workload: string | null; snapshot: MeshSnapshot; certs: Certificates; options?: BootstrapOptions }
  | { type: 'config'; snapshot: MeshSnapshot }
  | { type: 'certs'; certs: Certificates }
  /** The app was (re)started: forget what is known of it and probe it again (status.ts). */
  | { type: 'recheckApp' }
  | { type: 'shutdown'; graceMs: number };

/** How a sidecar runs, given once at bootstrap (`devmesh up`'s flags and the Mesh's telemetry settings). */
export interface BootstrapOptions {
  /** Log format for access logs. */
  logFormat?: 'text' | 'json';
  /** Trace sampling, 0-100. */
  sampling?: number;
  /**
   * Write access-log lines to stdout (default true; `devmesh up` sets it from
   * --access-log). A line per request is a pipe write in the sidecar and a
   * read in the control plane: ~25 % of a sidecar's CPU under load (issue 8);
   * `/access_log` on the admin port keeps the recent lines either way.
   */
  printAccessLog?: boolean;
  /** false: no tracing and no Istio metrics filters (the benchmark's "telemetry off" baseline). */
  observability?: boolean;
  /**
   * How TCP connections travel between sidecars over mTLS when the Mesh
   * does not say (`spec.tcpTunnel` wins): `tls`, a TLS connection each, or
   * `h2`, a CONNECT stream on the pair's HTTP/2 session (BENCHMARKS.md "TCP
   * through the mesh" compares them; the benchmark sets it per chain).
   */
  tcpTunnel?: TcpTunnel;
}

/**
 * Several sidecars may share one process (issue 8: a Node process costs
 * ~50 MB before it proxies anything). On that channel every message carries
 * the key of the sidecar it is for or from (its workload name, or the
 * ingress name); a process hosting one sidecar may leave it out.
 */
export type Addressed<M> = M & { sidecar?: string };

// ---------- messages: sidecar -> control ----------

export type SidecarMessage =
  | { type: 'ready'; workload: string | null; ports: { inbound?: number; outbound?: number; ingress?: number; admin: number; listeners?: Record<string, number> } }
  | { type: 'applied'; version: number }
  | { type: 'rejected'; version: number; error: string }
  /** Reply to `certs`: new connections use the certificate with this serial. */
  | { type: 'certsApplied'; serial?: string; notAfter: number }
  | { type: 'log'; level: 'info' | 'warn' | 'error'; message: string }
  /**
   * This sidecar could not start (a process shared with other sidecars keeps
   * serving them); `port` when another process holds the port it had to bind.
   */
  | { type: 'failed'; error: string; port?: number }
  /** Spans, edge samples and access-log entries, batched (a TelemetryBatch, telemetry-protocol.ts). */
  | { type: 'telemetry'; data: unknown }
  /** What the control plane shows of this sidecar, sent when it changes (status.ts): no probing per API request. */
  | { type: 'status'; status: SidecarStatus };

export interface SidecarStatus {
  /** Whether the app accepts on its port (absent for the ingress, which fronts no app). */
  app?: 'up' | 'down';
  /** Hosts this sidecar's outlier detection has ejected (`until`: epoch ms). */
  ejections: Array<{ cluster: string; host: string; until: number; reason?: string }>;
}
