/**
 * Topology JSON -> what the page draws: nodes (one per workload, plus the
 * ingress), service groups (the versions of a service together, with the
 * service's ports), the namespaces they sit in, and edges (caller -> callee)
 * with their labels, colours and badges. Pure: the d3 page and the VS Code
 * tree read the same model, and the tests read it without a DOM. Where things
 * go on the canvas is layout.ts's business.
 */
import type { RuntimeFault, Topology, TopologyService, TopologyWorkload, WorkloadEdge } from '../simulator/control/api/contract';

/** Kiali's default thresholds: a 0.1 % error rate degrades, 20 % fails. */
export const DEGRADED_ERROR_RATE = 0.001;
export const FAILING_ERROR_RATE = 0.2;

export type NodeHealth = 'healthy' | 'degraded' | 'failing' | 'down' | 'idle';
export type Badge = 'fault' | 'ejected' | 'restarted';

export interface GraphNode {
  id: string;
  /** `external`: a host outside the mesh (a ServiceEntry host, the PassthroughCluster, the BlackHoleCluster), as Kiali draws service entries. */
  kind: 'ingress' | 'workload' | 'external';
  service: string;
  /** The workload's namespace (the Mesh's when the topology names none); the ingress has none. */
  namespace?: string;
  /** `version` label, or the workload name when there is none. */
  version: string;
  label: string;
  health: NodeHealth;
  badges: Badge[];
  spiffeId?: string;
  restarts: number;
}

export interface GraphEdge {
  id: string;
  source: string;
  target: string;
  rps: number;
  errorRate: number;
  p50Ms?: number;
  p99Ms?: number;
  /** All of the edge's traffic is mutual TLS (the lock). */
  mtls: boolean;
  mtlsShare: number;
  requests: number;
  health: NodeHealth;
  badges: Badge[];
  /** Short text drawn on the edge. */
  label: string;
  /** Longer text shown on hover. */
  title: string;
  /** What the calls on it speak (`grpc`, `http`, `tcp`); a gRPC or TCP edge says so on the canvas. */
  protocols: string[];
  /** TCP connections on it (TCP and TLS ports): bytes/s and connections, which a TCP edge shows instead of requests. */
  tcp?: { bytesPerSecond: number; connectionsPerSecond: number; open: number; connections: number; failed: number };
  /** Which API's routes the caller applied on this edge (`HTTPRoute ns/name`, ...); empty: the default route. */
  routedBy: string[];
}

/** A port of a service, as callers address it. */
export interface ServicePort {
  name?: string;
  port: number;
  protocol?: string;
}

export interface ServiceGroup {
  /** `service:<namespace>/<name>`: one box per service, even when two namespaces share a service name. */
  id: string;
  name: string;
  namespace: string;
  /** Its workloads, versions in order (v1 before v2 before v10). */
  members: string[];
  ports: ServicePort[];
}

export interface Graph {
  nodes: GraphNode[];
  edges: GraphEdge[];
  groups: ServiceGroup[];
  /** Namespaces in the order the Mesh first names them. */
  namespaces: string[];
  /** Sum of the request rates of the edges leaving the ingress, or of all edges when none do. */
  totalRps: number;
}

export const INGRESS_SERVICE = 'ingress';

export function edgeId(source: string, target: string): string {
  return `${source}->${target}`;
}

export function healthOfRate(errorRate: number, rps: number): NodeHealth {
  if (!(rps > 0)) return 'idle';
  if (errorRate >= FAILING_ERROR_RATE) return 'failing';
  if (errorRate >= DEGRADED_ERROR_RATE) return 'degraded';
  return 'healthy';
}

export function formatRps(rps: number): string {
  if (!(rps > 0)) return '0 rps';
  if (rps >= 100) return `${Math.round(rps)} rps`;
  if (rps >= 10) return `${rps.toFixed(1)} rps`;
  return `${rps.toFixed(2)} rps`;
}

export function formatPercent(rate: number): string {
  const p = rate * 100;
  if (p === 0) return '0%';
  if (p < 0.1) return '<0.1%';
  return p >= 10 ? `${Math.round(p)}%` : `${p.toFixed(1)}%`;
}

export function formatMs(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '-';
  if (ms >= 1000) return `${(ms / 1000).toFixed(ms >= 10_000 ? 0 : 1)}s`;
  return ms >= 10 ? `${Math.round(ms)}ms` : `${ms.toFixed(1)}ms`;
}

export function formatBytesPerSecond(bps: number): string {
  if (!(bps > 0)) return '0 B/s';
  if (bps >= 1024 * 1024) return `${(bps / 1024 / 1024).toFixed(1)} MB/s`;
  if (bps >= 1024) return `${(bps / 1024).toFixed(1)} kB/s`;
  return `${Math.round(bps)} B/s`;
}

/** A TCP edge's connections: open now, else opened per second. */
function formatConnections(t: NonNullable<GraphEdge['tcp']>): string {
  return t.open > 0 ? `${t.open} conn` : `${t.connectionsPerSecond.toFixed(2)} conn/s`;
}

/**
 * What an edge says on the canvas: gRPC when its calls are, the rate, then
 * the error share when there are errors; a TCP edge (no requests, only
 * connections) says TCP, its bytes/s and its connections.
 */
export function edgeLabel(e: Pick<GraphEdge, 'rps' | 'errorRate'> & { protocols?: string[]; tcp?: GraphEdge['tcp'] }): string {
  const tcpOnly = e.tcp && !(e.rps > 0) && !e.protocols?.some((p) => p !== 'tcp');
  const parts = tcpOnly ? ['TCP', formatBytesPerSecond(e.tcp!.bytesPerSecond), formatConnections(e.tcp!)]
    : e.protocols?.includes('grpc') ? ['gRPC', formatRps(e.rps)] : [formatRps(e.rps)];
  if (e.errorRate > 0) parts.push(`${formatPercent(e.errorRate)} err`);
  return parts.join(' · ');
}

export function edgeTitle(e: Pick<GraphEdge, 'source' | 'target' | 'rps' | 'errorRate' | 'p50Ms' | 'p99Ms' | 'mtlsShare'> & { protocols?: string[]; tcp?: GraphEdge['tcp'] }): string {
  const security = e.mtlsShare >= 0.999 ? 'mTLS' : e.mtlsShare > 0 ? `${formatPercent(e.mtlsShare)} mTLS` : 'plain text';
  const speaks = e.protocols?.length ? `${e.protocols.map((p) => (p === 'grpc' ? 'gRPC' : p.toUpperCase())).join(' + ')} over ` : '';
  const tcp = e.tcp ? `TCP ${formatBytesPerSecond(e.tcp.bytesPerSecond)}, ${e.tcp.open} open, ${e.tcp.connections} opened${e.tcp.failed ? `, ${e.tcp.failed} failed` : ''}\n` : '';
  return `${e.source} -> ${e.target}\n${formatRps(e.rps)}, ${formatPercent(e.errorRate)} errors\n${tcp}`
    + `p50 ${formatMs(e.p50Ms)}, p99 ${formatMs(e.p99Ms)}\n${speaks}${security}`;
}

/** How many dots travel along an edge at once: more traffic, more dots, never a swarm. */
export function dotCount(rps: number): number {
  if (!(rps > 0)) return 0;
  return Math.min(12, Math.max(1, Math.round(Math.log2(1 + rps) * 2)));
}

function versionOf(w: TopologyWorkload): string {
  return w.labels?.version ?? w.name;
}

function faultHits(f: RuntimeFault, service: string, workload: string, version: string): boolean {
  if (f.service !== service) return false;
  if (f.workload && f.workload !== workload) return false;
  if (f.subset && f.subset !== version) return false;
  return true;
}

/**
 * A destination that names a service (not yet a workload) is drawn to that
 * service's first workload: `reviews`, `reviews.default` or the FQDN.
 */
function resolveEndpoint(name: string, nodes: Map<string, GraphNode>, byService: Map<string, string[]>): string | undefined {
  if (nodes.has(name)) return name;
  const [bare, ns] = name.split('.');
  return byService.get(name)?.[0] ?? (ns ? byService.get(`${bare}.${ns}`)?.[0] : undefined) ?? byService.get(bare)?.[0];
}

/** Where the page draws hosts outside the mesh. */
export const EXTERNAL_NAMESPACE = 'outside the mesh';

/** An edge to a host outside the mesh: its destination is the host (a ServiceEntry's, or Istio's Passthrough/BlackHole cluster), from a known caller. */
function isExternal(raw: WorkloadEdge, nodes: Map<string, GraphNode>): boolean {
  return raw.destination !== 'unknown' && nodes.has(raw.source) && (raw.destination === raw.service || /^(PassthroughCluster|BlackHoleCluster)$/.test(raw.destination));
}

/** The namespace a topology without namespaces means: the Mesh's, else Kubernetes' default. */
export const DEFAULT_NAMESPACE = 'default';

/** A service's ports: its `ports` list when the topology has one, else the one-port shorthand. */
export function servicePorts(s: Partial<Pick<TopologyService, 'port' | 'protocol' | 'ports'>>): ServicePort[] {
  if (s.ports?.length) {
    return s.ports.filter((p) => Number.isInteger(p?.port)).map((p) => ({ name: p.name || undefined, port: p.port, protocol: p.protocol || undefined }));
  }
  return s.port !== undefined ? [{ port: s.port, protocol: s.protocol }] : [];
}

const byVersion = (a: TopologyWorkload, b: TopologyWorkload) =>
  versionOf(a).localeCompare(versionOf(b), undefined, { numeric: true }) || a.name.localeCompare(b.name);

/**
 * One group per (namespace, service), in the order the Mesh lists its
 * services; a workload goes to its own service (`workload.service`) in its
 * namespace, so a workload that several services select is drawn once.
 */
function serviceGroups(t: Topology): { group: ServiceGroup; workloads: TopologyWorkload[] }[] {
  const meshNs = t.namespace || DEFAULT_NAMESPACE;
  const out = new Map<string, { group: ServiceGroup; workloads: TopologyWorkload[] }>();
  const ensure = (name: string, namespace: string, ports: ServicePort[]) => {
    const id = `service:${namespace}/${name}`;
    const known = out.get(id);
    if (known) return known;
    const entry = { group: { id, name, namespace, members: [], ports }, workloads: [] };
    out.set(id, entry);
    return entry;
  };
  for (const s of t.services) ensure(s.name, s.namespace || meshNs, servicePorts(s));
  for (const w of t.workloads) {
    const namespace = w.namespace || t.services.find((s) => s.name === w.service)?.namespace || meshNs;
    ensure(w.service, namespace, []).workloads.push(w);
  }
  for (const e of out.values()) {
    e.workloads.sort(byVersion);
    e.group.members = e.workloads.map((w) => w.name);
  }
  return [...out.values()].filter((e) => e.workloads.length > 0);
}

export function buildGraph(t: Topology): Graph {
  const nodes = new Map<string, GraphNode>();
  const byService = new Map<string, string[]>();
  const faults = t.faults ?? [];

  if (t.ingress) {
    const up = t.ingress.health !== 'down';
    nodes.set(t.ingress.name, {
      id: t.ingress.name, kind: 'ingress', service: INGRESS_SERVICE, version: '', label: t.ingress.name,
      health: up ? 'idle' : 'down', badges: (t.ingress.restarts ?? 0) > 0 ? ['restarted'] : [],
      spiffeId: t.ingress.spiffeId, restarts: t.ingress.restarts ?? 0,
    });
  }
  const grouped = serviceGroups(t);
  for (const { group, workloads } of grouped) {
    const service = group.name;
    if (!byService.has(service)) byService.set(service, group.members);
    byService.set(`${service}.${group.namespace}`, group.members);
    for (const w of workloads) {
      const down = w.health?.sidecar === 'down' || w.health?.app === 'down';
      const restarts = (w.restarts?.sidecar ?? 0) + (w.restarts?.app ?? 0);
      const version = versionOf(w);
      const badges: Badge[] = [];
      if (faults.some((f) => faultHits(f, service, w.name, version))) badges.push('fault');
      if ((t.outliers ?? []).some((o) => o.host === w.name)) badges.push('ejected');
      if (restarts > 0) badges.push('restarted');
      nodes.set(w.name, {
        id: w.name, kind: 'workload', service, namespace: group.namespace, version, label: w.labels?.version ? `${service} ${version}` : w.name,
        health: down ? 'down' : 'idle', badges, spiffeId: w.spiffeId, restarts,
      });
    }
  }

  // A destination that is no workload of the Mesh but a host outside it gets a node (and a group) of its own.
  const groups = grouped.map((g) => g.group);
  for (const raw of t.edges ?? []) {
    if (resolveEndpoint(raw.destination, nodes, byService) || !isExternal(raw, nodes)) continue;
    const id = raw.destination;
    nodes.set(id, { id, kind: 'external', service: id, namespace: EXTERNAL_NAMESPACE, version: '', label: id, health: 'idle', badges: [], restarts: 0 });
    groups.push({ id: `service:${EXTERNAL_NAMESPACE}/${id}`, name: id, namespace: EXTERNAL_NAMESPACE, members: [id], ports: [] });
  }

  const edges = new Map<string, GraphEdge>();
  for (const raw of t.edges ?? []) {
    const source = resolveEndpoint(raw.source, nodes, byService);
    const target = resolveEndpoint(raw.destination, nodes, byService);
    if (!source || !target) continue;
    const id = edgeId(source, target);
    const prev = edges.get(id);
    edges.set(id, prev ? mergeEdge(prev, raw) : makeEdge(id, source, target, raw));
  }
  for (const e of edges.values()) {
    // A TCP edge is live while it carries bytes or holds connections, though it has no requests.
    e.health = healthOfRate(e.errorRate, e.rps + (e.tcp ? e.tcp.connectionsPerSecond + e.tcp.open + (e.tcp.bytesPerSecond > 0 ? 1 : 0) : 0));
    e.label = edgeLabel(e);
    e.title = edgeTitle(e);
  }

  // A workload's health is the worst of its inbound traffic, unless it is down.
  const rank: Record<NodeHealth, number> = { idle: 0, healthy: 1, degraded: 2, failing: 3, down: 4 };
  for (const e of edges.values()) {
    const n = nodes.get(e.target)!;
    if (rank[e.health] > rank[n.health]) n.health = e.health;
    const src = nodes.get(e.source)!;
    if (src.health === 'idle' && e.rps > 0) src.health = 'healthy';
  }

  const namespaces = [...new Set(groups.map((g) => g.namespace))];
  const list = [...edges.values()];
  const fromIngress = t.ingress ? list.filter((e) => e.source === t.ingress!.name) : [];
  const totalRps = (fromIngress.length ? fromIngress : list).reduce((s, e) => s + e.rps, 0);
  return { nodes: [...nodes.values()], edges: list, groups, namespaces, totalRps };
}

function makeEdge(id: string, source: string, target: string, raw: WorkloadEdge): GraphEdge {
  const badges: Badge[] = [];
  if (raw.activeFaults?.length) badges.push('fault');
  if (raw.ejectedEndpoints?.length) badges.push('ejected');
  const mtlsShare = clamp01(raw.mtlsShare ?? 0);
  return {
    id, source, target, rps: Math.max(0, raw.requestsPerSecond ?? 0), errorRate: clamp01(raw.errorRate ?? 0),
    p50Ms: raw.latencyMs?.p50, p99Ms: raw.latencyMs?.p99, mtls: mtlsShare >= 0.999, mtlsShare, requests: raw.requests ?? 0,
    // An edge without protocols or routedBy (a partial message, as the page tests post) draws as plain HTTP by the default route.
    health: 'idle', badges, label: '', title: '', protocols: [...(raw.protocols ?? [])].sort(), routedBy: [...(raw.routedBy ?? [])],
    ...(raw.tcp ? { tcp: { bytesPerSecond: raw.tcp.bytesPerSecond ?? 0, connectionsPerSecond: raw.tcp.connectionsPerSecond ?? 0, open: raw.tcp.open ?? 0, connections: raw.tcp.connections ?? 0, failed: raw.tcp.failed ?? 0 } } : {}),
  };
}

/** Two raw edges that land on one pair (a service name and its workload): rates add, the worse latency wins. */
function mergeEdge(a: GraphEdge, raw: WorkloadEdge): GraphEdge {
  const b = makeEdge(a.id, a.source, a.target, raw);
  const rps = a.rps + b.rps;
  const errorRate = rps > 0 ? (a.errorRate * a.rps + b.errorRate * b.rps) / rps : Math.max(a.errorRate, b.errorRate);
  const max = (x?: number, y?: number) => (x === undefined ? y : y === undefined ? x : Math.max(x, y));
  const requests = a.requests + b.requests;
  const mtlsShare = requests > 0 ? (a.mtlsShare * a.requests + b.mtlsShare * b.requests) / requests : Math.min(a.mtlsShare, b.mtlsShare);
  return {
    ...a, rps, errorRate, requests, p50Ms: max(a.p50Ms, b.p50Ms), p99Ms: max(a.p99Ms, b.p99Ms),
    mtlsShare, mtls: mtlsShare >= 0.999, badges: [...new Set([...a.badges, ...b.badges])], protocols: [...new Set([...a.protocols, ...b.protocols])].sort(),
    routedBy: [...new Set([...a.routedBy, ...b.routedBy])],
    ...(a.tcp || b.tcp ? { tcp: sumTcp(a.tcp, b.tcp) } : {}),
  };
}

function sumTcp(a: GraphEdge['tcp'], b: GraphEdge['tcp']): NonNullable<GraphEdge['tcp']> {
  const zero = { bytesPerSecond: 0, connectionsPerSecond: 0, open: 0, connections: 0, failed: 0 };
  const x = a ?? zero, y = b ?? zero;
  return { bytesPerSecond: x.bytesPerSecond + y.bytesPerSecond, connectionsPerSecond: x.connectionsPerSecond + y.connectionsPerSecond, open: x.open + y.open, connections: x.connections + y.connections, failed: x.failed + y.failed };
}

function clamp01(x: number): number {
  return Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0;
}
