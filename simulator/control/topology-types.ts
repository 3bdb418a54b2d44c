/**
 * The JSON shapes of `GET /api/topology` and of the `topology.updated`
 * events on `GET /api/events`: what the topology webview and the dashboard
 * draw. Types only, no runtime code, so the webview can import this file.
 *
 * Edges are caller -> callee as the caller's sidecar saw them
 * (reporter=source), over a sliding window (`windowSeconds`, 30 s by default).
 */
import type { RuntimeFault, ServicePortInfo, WorkloadInfo } from '../protocol';

/** Figures shared by workload and service edges, over the window. */
export interface EdgeTraffic {
  /** Requests in the window. */
  requests: number;
  /** 5xx, resets and proxy failures in the window. */
  errors: number;
  /** Requests per second over the window (or since the edge was first seen, if later). */
  requestsPerSecond: number;
  /** errors / requests, 0..1; 0 when there were no requests. */
  errorRate: number;
  /** Latency percentiles in ms over the window; null when there were no requests. */
  latencyMs: { p50: number; p95: number; p99: number } | null;
  /** Share of requests sent over mutual TLS, 0..1. */
  mtlsShare: number;
  /** Epoch ms of the last request seen on this edge. */
  lastSeen: number;
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

/** Caller workload -> callee workload. */
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
  /** Workloads of `service` the caller's outlier detection has ejected (filled in by the resilience work). */
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

export interface TopologyEdges {
  generatedAt: number;
  windowSeconds: number;
  edges: WorkloadEdge[];
  serviceEdges: ServiceEdge[];
}

/** A workload of the snapshot, with what the control plane knows of its processes. */
export interface TopologyWorkload extends WorkloadInfo {
  /** devmesh starts this workload's app (it has a `command`). */
  managed: boolean;
  pids: { sidecar: number | null; app: number | null };
  health: { sidecar: 'up' | 'down'; app: 'up' | 'down' };
  restarts: { sidecar: number; app: number };
  /** Snapshot version the sidecar applied. */
  configVersion: number;
}

export interface TopologyService {
  name: string;
  namespace: string;
  fqdn: string;
  /** The first port and its protocol; `ports` has them all. */
  port: number;
  protocol: string;
  ports?: ServicePortInfo[];
  /** The workloads behind it (nested, or picked by its selector); one workload may back several services. */
  workloads: string[];
}

/** A host ejected by a caller's outlier detection (from that sidecar's admin `/clusters`). */
export interface OutlierEjection {
  /** The calling workload (or the ingress) whose detector ejected the host. */
  reporter: string;
  /** Envoy-style cluster name, `outbound|port|subset|host`. */
  cluster: string;
  /** The ejected workload. */
  host: string;
  until?: string;
  reason?: string;
}

/** `GET /api/topology`. */
export interface Topology extends TopologyEdges {
  mesh: string;
  version: number;
  ready: boolean;
  trustDomain: string;
  namespace: string;
  services: TopologyService[];
  workloads: TopologyWorkload[];
  ingress: { name: string; port: number; adminPort: number; serviceAccount: string; spiffeId: string; labels: Record<string, string>; pid: number | null; health: 'up' | 'down'; restarts: number };
  /** Runtime faults (`devmesh fault`, `POST /api/faults`) in force. */
  faults: RuntimeFault[];
  outliers: OutlierEjection[];
}

/** `event: topology.updated` on `GET /api/events` (at most a few per second): `data.data` is a TopologyEdges. */
export interface TopologyUpdatedEvent {
  id: number;
  time: number;
  type: 'topology.updated';
  message: string;
  data: TopologyEdges;
}
