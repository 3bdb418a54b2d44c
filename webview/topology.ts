/**
 * The shape of `GET /api/topology`, as the control plane serves it, plus the
 * live fields the observability work adds to it (edges with rates and
 * latencies, faults, ejections). Everything live is optional: the page draws
 * what is there and nothing that is not. Plain JSON, no DOM or Node imports.
 */

export type Health = 'up' | 'down';

export interface TopologyService {
  name: string;
  /** Absent in a topology from before namespaces: the topology's `namespace`. */
  namespace?: string;
  fqdn?: string;
  /** The one-port shorthand; `ports` wins when both are there. */
  port?: number;
  protocol?: string;
  /** Every port of the service, as callers address it (a multi-port service has several). */
  ports?: TopologyServicePort[];
  /** The workloads behind it (nested, or picked by its selector); one workload may back several services. */
  workloads: string[];
}

export interface TopologyServicePort {
  name?: string;
  port: number;
  /** The container port it targets on the workloads (a number, or a name they map). */
  targetPort?: number | string;
  protocol?: string;
}

export interface TopologyWorkload {
  name: string;
  service: string;
  namespace?: string;
  labels?: Record<string, string>;
  serviceAccount?: string;
  spiffeId?: string;
  appPort?: number;
  /** Container port (a service targetPort) -> the local port its app listens on. */
  ports?: Record<string, number>;
  sidecar?: { inboundPort: number; outboundPort: number; adminPort?: number };
  managed?: boolean;
  pids?: { sidecar: number | null; app: number | null };
  health?: { sidecar?: Health; app?: Health };
  restarts?: { sidecar?: number; app?: number };
  configVersion?: number;
}

export interface TopologyIngress {
  name: string;
  port?: number;
  adminPort?: number;
  serviceAccount?: string;
  spiffeId?: string;
  pid?: number | null;
  health?: Health;
  restarts?: number;
}

/**
 * One caller -> callee pair over the control plane's sliding window, as its
 * caller's sidecar reported it (simulator/control/topology-types.ts is the
 * source; this is the part the page reads). `destination` is a workload, or
 * `unknown` when no workload was picked (no route, unknown host).
 */
export interface TopologyEdge {
  id?: string;
  source: string;
  destination: string;
  /** The service the caller addressed. */
  service?: string;
  requests?: number;
  errors?: number;
  requestsPerSecond?: number;
  /** errors / requests, 0..1. */
  errorRate?: number;
  latencyMs?: { p50: number; p95?: number; p99: number } | null;
  /** Share of requests sent over mutual TLS, 0..1. */
  mtlsShare?: number;
  lastSeen?: number;
  activeFaults?: { id: string; kind: string; source: string; percentage?: number; httpStatus?: number; fixedDelayMs?: number }[];
  /** Workloads of `service` that this caller's outlier detection has ejected. */
  ejectedEndpoints?: string[];
  /** Response code -> count, when the mesh reports it. */
  codes?: Record<string, number>;
}

/** A host ejected by a caller's outlier detection. */
export interface TopologyOutlier {
  reporter: string;
  host: string;
  cluster?: string;
  until?: string;
  reason?: string;
}

export interface TopologyFault {
  id: string;
  service: string;
  subset?: string;
  workload?: string;
  source?: string;
  delay?: { fixedDelayMs: number; percentage: number };
  abort?: { httpStatus: number; percentage: number };
}

export interface Topology {
  mesh?: string;
  version?: number;
  ready?: boolean;
  trustDomain?: string;
  namespace?: string;
  services: TopologyService[];
  workloads: TopologyWorkload[];
  ingress?: TopologyIngress;
  edges?: TopologyEdge[];
  faults?: TopologyFault[];
  outliers?: TopologyOutlier[];
  generatedAt?: number;
  windowSeconds?: number;
}

/** A loose check that a parsed JSON body is a topology, for the edges of the system. */
export function isTopology(v: unknown): v is Topology {
  const t = v as Topology;
  return typeof t === 'object' && t !== null && Array.isArray(t.services) && Array.isArray(t.workloads)
    && t.workloads.every((w) => typeof w?.name === 'string' && typeof w.service === 'string');
}
