/**
 * Topology JSON -> what the page draws: nodes (one per workload, plus the
 * ingress), service groups (the versions of a service side by side), edges
 * (caller -> callee) with their labels, colours and badges. Pure: the d3 page
 * and the VS Code tree read the same model, and the tests read it without a DOM.
 */
import type { Topology, TopologyEdge, TopologyFault, TopologyWorkload } from './topology';

/** Kiali's default thresholds: a 0.1 % error rate degrades, 20 % fails. */
export const DEGRADED_ERROR_RATE = 0.001;
export const FAILING_ERROR_RATE = 0.2;

export type NodeHealth = 'healthy' | 'degraded' | 'failing' | 'down' | 'idle';
export type Badge = 'fault' | 'ejected' | 'restarted';

export interface GraphNode {
  id: string;
  kind: 'ingress' | 'workload';
  service: string;
  /** `version` label, or the workload name when there is none. */
  version: string;
  label: string;
  health: NodeHealth;
  badges: Badge[];
  spiffeId?: string;
  restarts: number;
  /** Column from the ingress (0) along the call graph; a layout hint. */
  depth: number;
  /** Position among the versions of its service; versions sit side by side. */
  slot: number;
  slots: number;
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
  codes: Record<string, number>;
}

export interface ServiceGroup {
  id: string;
  name: string;
  members: string[];
  depth: number;
}

export interface Graph {
  nodes: GraphNode[];
  edges: GraphEdge[];
  groups: ServiceGroup[];
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

/** What an edge says on the canvas: rate, then the error share when there are errors. */
export function edgeLabel(e: Pick<GraphEdge, 'rps' | 'errorRate'>): string {
  const parts = [formatRps(e.rps)];
  if (e.errorRate > 0) parts.push(`${formatPercent(e.errorRate)} err`);
  return parts.join(' · ');
}

export function edgeTitle(e: Pick<GraphEdge, 'source' | 'target' | 'rps' | 'errorRate' | 'p50Ms' | 'p99Ms' | 'mtlsShare'>): string {
  const security = e.mtlsShare >= 0.999 ? 'mTLS' : e.mtlsShare > 0 ? `${formatPercent(e.mtlsShare)} mTLS` : 'plain text';
  return `${e.source} -> ${e.target}\n${formatRps(e.rps)}, ${formatPercent(e.errorRate)} errors\n`
    + `p50 ${formatMs(e.p50Ms)}, p99 ${formatMs(e.p99Ms)}\n${security}`;
}

/** How many dots travel along an edge at once: more traffic, more dots, never a swarm. */
export function dotCount(rps: number): number {
  if (!(rps > 0)) return 0;
  return Math.min(12, Math.max(1, Math.round(Math.log2(1 + rps) * 2)));
}

function versionOf(w: TopologyWorkload): string {
  return w.labels?.version ?? w.name;
}

function faultHits(f: TopologyFault, service: string, workload: string, version: string): boolean {
  if (f.service !== service) return false;
  if (f.workload && f.workload !== workload) return false;
  if (f.subset && f.subset !== version) return false;
  return true;
}

/** A destination that names a service (not yet a workload) is drawn to that service's first workload. */
function resolveEndpoint(name: string, nodes: Map<string, GraphNode>, byService: Map<string, string[]>): string | undefined {
  if (nodes.has(name)) return name;
  const bare = name.split('.')[0];
  return byService.get(name)?.[0] ?? byService.get(bare)?.[0];
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
      spiffeId: t.ingress.spiffeId, restarts: t.ingress.restarts ?? 0, depth: 0, slot: 0, slots: 1,
    });
  }
  // Services in the order the Mesh lists them, versions sorted so v1 is left of v2.
  const serviceOrder = t.services.map((s) => s.name);
  for (const w of t.workloads) if (!serviceOrder.includes(w.service)) serviceOrder.push(w.service);
  for (const service of serviceOrder) {
    const members = t.workloads.filter((w) => w.service === service)
      .sort((a, b) => versionOf(a).localeCompare(versionOf(b), undefined, { numeric: true }) || a.name.localeCompare(b.name));
    byService.set(service, members.map((w) => w.name));
    members.forEach((w, i) => {
      const down = w.health?.sidecar === 'down' || w.health?.app === 'down';
      const restarts = (w.restarts?.sidecar ?? 0) + (w.restarts?.app ?? 0);
      const version = versionOf(w);
      const badges: Badge[] = [];
      if (faults.some((f) => faultHits(f, service, w.name, version))) badges.push('fault');
      if ((t.outliers ?? []).some((o) => o.host === w.name)) badges.push('ejected');
      if (restarts > 0) badges.push('restarted');
      nodes.set(w.name, {
        id: w.name, kind: 'workload', service, version, label: w.labels?.version ? `${service} ${version}` : w.name,
        health: down ? 'down' : 'idle', badges, spiffeId: w.spiffeId, restarts, depth: UNREACHED, slot: i, slots: members.length,
      });
    });
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
    e.health = healthOfRate(e.errorRate, e.rps);
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

  assignDepths(nodes, [...edges.values()]);
  const groups: ServiceGroup[] = [...byService].filter(([, m]) => m.length > 0).map(([name, members]) => ({
    id: `service:${name}`, name, members, depth: groupDepth(members.map((m) => nodes.get(m)!.depth)),
  }));
  for (const g of groups) for (const m of g.members) nodes.get(m)!.depth = g.depth;

  const list = [...edges.values()];
  const fromIngress = t.ingress ? list.filter((e) => e.source === t.ingress!.name) : [];
  const totalRps = (fromIngress.length ? fromIngress : list).reduce((s, e) => s + e.rps, 0);
  return { nodes: [...nodes.values()], edges: list, groups, totalRps };
}

function makeEdge(id: string, source: string, target: string, raw: TopologyEdge): GraphEdge {
  const badges: Badge[] = [];
  if (raw.activeFaults?.length) badges.push('fault');
  if (raw.ejectedEndpoints?.length) badges.push('ejected');
  const mtlsShare = clamp01(raw.mtlsShare ?? 0);
  return {
    id, source, target, rps: Math.max(0, raw.requestsPerSecond ?? 0), errorRate: clamp01(raw.errorRate ?? 0),
    p50Ms: raw.latencyMs?.p50, p99Ms: raw.latencyMs?.p99, mtls: mtlsShare >= 0.999, mtlsShare, requests: raw.requests ?? 0,
    health: 'idle', badges, label: '', title: '', codes: { ...(raw.codes ?? {}) },
  };
}

/** Two raw edges that land on one pair (a service name and its workload): rates add, the worse latency wins. */
function mergeEdge(a: GraphEdge, raw: TopologyEdge): GraphEdge {
  const b = makeEdge(a.id, a.source, a.target, raw);
  const rps = a.rps + b.rps;
  const errorRate = rps > 0 ? (a.errorRate * a.rps + b.errorRate * b.rps) / rps : Math.max(a.errorRate, b.errorRate);
  const codes = { ...a.codes };
  for (const [k, v] of Object.entries(b.codes)) codes[k] = (codes[k] ?? 0) + v;
  const max = (x?: number, y?: number) => (x === undefined ? y : y === undefined ? x : Math.max(x, y));
  const requests = a.requests + b.requests;
  const mtlsShare = requests > 0 ? (a.mtlsShare * a.requests + b.mtlsShare * b.requests) / requests : Math.min(a.mtlsShare, b.mtlsShare);
  return {
    ...a, rps, errorRate, codes, requests, p50Ms: max(a.p50Ms, b.p50Ms), p99Ms: max(a.p99Ms, b.p99Ms),
    mtlsShare, mtls: mtlsShare >= 0.999, badges: [...new Set([...a.badges, ...b.badges])],
  };
}

/** Depth of a workload no traffic reaches yet; its service box decides where it sits. */
const UNREACHED = -1;

/** A service sits at the shallowest depth any of its versions is called at; never-called services right after the ingress. */
function groupDepth(depths: number[]): number {
  const reached = depths.filter((d) => d !== UNREACHED);
  return reached.length ? Math.min(...reached) : 1;
}

function clamp01(x: number): number {
  return Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0;
}

/** Breadth-first from the ingress; nodes nobody calls sit in the first column after it. */
function assignDepths(nodes: Map<string, GraphNode>, edges: GraphEdge[]): void {
  const out = new Map<string, string[]>();
  for (const e of edges) out.set(e.source, [...(out.get(e.source) ?? []), e.target]);
  const ingress = [...nodes.values()].find((n) => n.kind === 'ingress');
  const seen = new Set<string>();
  let frontier = ingress ? [ingress.id] : [];
  let depth = 0;
  while (frontier.length && depth < nodes.size + 1) {
    const next: string[] = [];
    for (const id of frontier) {
      if (seen.has(id)) continue;
      seen.add(id);
      nodes.get(id)!.depth = depth;
      for (const t of out.get(id) ?? []) if (!seen.has(t)) next.push(t);
    }
    frontier = next;
    depth++;
  }
}

export const LAYOUT = { column: 240, row: 86, groupGap: 40, top: 60, left: 80 };

/**
 * Where each node wants to sit: one column per call depth, services stacked
 * in Mesh order within a column, the versions of a service next to each other
 * inside its box. Depends only on the graph's structure, so an update with the
 * same workloads yields the same targets and the picture does not jump.
 */
export function targetPositions(g: Graph): Map<string, { x: number; y: number }> {
  const out = new Map<string, { x: number; y: number }>();
  const byDepth = new Map<number, ServiceGroup[]>();
  for (const grp of g.groups) byDepth.set(grp.depth, [...(byDepth.get(grp.depth) ?? []), grp]);
  const columns = [...byDepth.keys()].sort((a, b) => a - b);
  const ingress = g.nodes.find((n) => n.kind === 'ingress');
  let tallest = 0;
  const heights = new Map<number, number>();
  for (const d of columns) {
    const h = byDepth.get(d)!.reduce((s, grp) => s + grp.members.length * LAYOUT.row + LAYOUT.groupGap, -LAYOUT.groupGap);
    heights.set(d, h);
    tallest = Math.max(tallest, h);
  }
  for (const d of columns) {
    let y = LAYOUT.top + (tallest - heights.get(d)!) / 2;
    const x = LAYOUT.left + d * LAYOUT.column;
    for (const grp of byDepth.get(d)!) {
      for (const m of grp.members) { out.set(m, { x, y: y + LAYOUT.row / 2 }); y += LAYOUT.row; }
      y += LAYOUT.groupGap;
    }
  }
  if (ingress) out.set(ingress.id, { x: LAYOUT.left, y: LAYOUT.top + Math.max(tallest, LAYOUT.row) / 2 });
  return out;
}
