/**
 * The shape of `GET /api/topology`, as the control plane serves it, plus the
 * live fields the observability work adds to it (edges with rates and
 * latencies, faults, ejections). Everything live is optional: the page draws
 * what is there and nothing that is not. Plain JSON, no DOM or Node imports.
 */

export type Health = 'up' | 'down';

export interface TopologyService {
  name: string;
  namespace?: string;
  fqdn?: string;
  port?: number;
  protocol?: string;
  workloads: string[];
}

export interface TopologyWorkload {
  name: string;
  service: string;
  namespace?: string;
  labels?: Record<string, string>;
  serviceAccount?: string;
  spiffeId?: string;
  appPort?: number;
  sidecar?: { inboundPort: number; outboundPort: number; adminPort?: number };
  managed?: boolean;
  pids?: { sidecar: number | null; app: number | null };
  health?: { sidecar?: Health; app?: Health };
  restarts?: { sidecar?: number; app?: number };
  configVersion?: number;
  /** Outlier detection has taken this endpoint out of its callers' pools. */
  ejected?: boolean;
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
 * One caller -> callee pair over a recent window. `source` and `destination`
 * name workloads (or the ingress); a destination that is a service name
 * (traffic not yet attributed to a workload) is drawn to its first workload.
 */
export interface TopologyEdge {
  source: string;
  destination: string;
  /** Requests per second over the window. */
  rps?: number;
  /** Share of responses that were errors (5xx or proxy errors), 0..1. */
  errorRate?: number;
  p50Ms?: number;
  p99Ms?: number;
  /** Traffic on this edge is mutual TLS. */
  mtls?: boolean;
  /** A fault (file or runtime) applies to this edge. */
  fault?: boolean;
  /** Some endpoint behind this edge is ejected by outlier detection. */
  ejected?: boolean;
  /** Response code -> count over the window. */
  codes?: Record<string, number>;
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
}

/** A loose check that a parsed JSON body is a topology, for the edges of the system. */
export function isTopology(v: unknown): v is Topology {
  const t = v as Topology;
  return typeof t === 'object' && t !== null && Array.isArray(t.services) && Array.isArray(t.workloads)
    && t.workloads.every((w) => typeof w?.name === 'string' && typeof w.service === 'string');
}
