/**
 * Live edges for the topology: the edge samples sidecars send, kept in
 * one-second buckets over a sliding window, folded into request rate, error
 * rate, latency percentiles and mTLS share per caller->callee workload, and
 * summed per caller->callee service. Pure apart from the clock passed in.
 */
import type { EdgeSample } from '../../telemetry-protocol';
import type { EdgeTraffic, ServiceEdge, TopologyEdges, WorkloadEdge } from '../api/contract';

interface Bucket { second: number; requests: number; errors: number; mtls: number; latencies: number[]; routes: Map<string, number>; tcp?: TcpBucket }
/** TCP connections in one second: opened (connected), failed, opened over mTLS, bytes both ways. */
interface TcpBucket { connections: number; failed: number; mtls: number; bytes: number }
interface Series {
  source: string; destination: string; service: string; firstSeen: number; lastSeen: number; buckets: Bucket[]; protocols: Set<string>;
  /** TCP connections open at the caller's sidecar, as its latest sample said. */
  open?: number;
}

/** Latency samples kept per edge per second. */
const SAMPLES_PER_BUCKET = 500;

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx];
}

export class EdgeWindow {
  private readonly series = new Map<string, Series>();
  /** Bumped on every sample, so a publisher can tell whether anything changed. */
  changes = 0;

  constructor(readonly windowMs = 30_000) {}

  add(s: EdgeSample, now = Date.now()): void {
    const key = `${s.source}->${s.destination}\0${s.service}`;
    let series = this.series.get(key);
    if (!series) this.series.set(key, (series = { source: s.source, destination: s.destination, service: s.service, firstSeen: now, lastSeen: now, buckets: [], protocols: new Set() }));
    series.lastSeen = now;
    series.protocols.add(s.protocol ?? (s.tcp ? 'tcp' : 'http'));
    const second = Math.floor(now / 1000);
    let b = series.buckets[series.buckets.length - 1];
    if (!b || b.second !== second) series.buckets.push((b = { second, requests: 0, errors: 0, mtls: 0, latencies: [], routes: new Map() }));
    b.requests += s.requests;
    b.errors += s.errors;
    b.mtls += s.mtls;
    for (const l of s.latenciesMs) if (b.latencies.length < SAMPLES_PER_BUCKET) b.latencies.push(l);
    for (const [route, n] of Object.entries(s.routes ?? {})) b.routes.set(route, (b.routes.get(route) ?? 0) + n);
    if (s.tcp) {
      const t = (b.tcp ??= { connections: 0, failed: 0, mtls: 0, bytes: 0 });
      t.connections += s.tcp.connections;
      t.failed += s.tcp.failed;
      t.mtls += s.tcp.mtls ?? 0;
      t.bytes += s.tcp.bytes;
      series.open = s.tcp.open;
    }
    this.changes++;
  }

  /** Drops buckets older than the window and edges with nothing left. */
  private prune(now: number): void {
    const oldest = Math.floor((now - this.windowMs) / 1000);
    for (const [key, s] of this.series) {
      while (s.buckets.length && s.buckets[0].second <= oldest) s.buckets.shift();
      if (s.buckets.length === 0) this.series.delete(key);
    }
  }

  get empty(): boolean { return this.series.size === 0; }

  /** Edges as the topology shows them; `serviceOf` maps a workload to its service (the ingress to itself). */
  view(serviceOf: (workload: string) => string, now = Date.now()): TopologyEdges {
    this.prune(now);
    const edges: WorkloadEdge[] = [];
    const byService = new Map<string, { source: string; destination: string; parts: Series[]; ids: string[] }>();
    for (const s of this.series.values()) {
      const id = `${s.source}->${s.destination}`;
      edges.push({ id, source: s.source, destination: s.destination, service: s.service, ...traffic([s], now, this.windowMs), activeFaults: [], ejectedEndpoints: [] });
      const src = serviceOf(s.source);
      const key = `${src}->${s.service}`;
      let g = byService.get(key);
      if (!g) byService.set(key, (g = { source: src, destination: s.service, parts: [], ids: [] }));
      g.parts.push(s);
      g.ids.push(id);
    }
    const serviceEdges: ServiceEdge[] = [...byService.entries()].map(([id, g]) => ({
      id, source: g.source, destination: g.destination, workloadEdges: g.ids, ...traffic(g.parts, now, this.windowMs), activeFaults: [], ejectedEndpoints: [],
    }));
    edges.sort((a, b) => a.id.localeCompare(b.id));
    serviceEdges.sort((a, b) => a.id.localeCompare(b.id));
    return { generatedAt: now, windowSeconds: this.windowMs / 1000, edges, serviceEdges };
  }
}

function traffic(parts: Series[], now: number, windowMs: number): EdgeTraffic {
  let requests = 0, errors = 0, mtls = 0, lastSeen = 0, firstSeen = Infinity;
  let tcp: { connections: number; failed: number; mtls: number; bytes: number; open: number } | undefined;
  const lat: number[] = [];
  const routes = new Map<string, number>();
  for (const s of parts) {
    lastSeen = Math.max(lastSeen, s.lastSeen);
    firstSeen = Math.min(firstSeen, s.firstSeen);
    for (const b of s.buckets) {
      requests += b.requests;
      errors += b.errors;
      mtls += b.mtls;
      for (const l of b.latencies) lat.push(l);
      for (const [route, n] of b.routes) routes.set(route, (routes.get(route) ?? 0) + n);
      if (b.tcp) {
        tcp ??= { connections: 0, failed: 0, mtls: 0, bytes: 0, open: 0 };
        tcp.connections += b.tcp.connections;
        tcp.failed += b.tcp.failed;
        tcp.mtls += b.tcp.mtls;
        tcp.bytes += b.tcp.bytes;
      }
    }
    if (s.open !== undefined) (tcp ??= { connections: 0, failed: 0, mtls: 0, bytes: 0, open: 0 }).open += s.open;
  }
  lat.sort((a, b) => a - b);
  // An edge younger than the window is rated over its own age (at least one second).
  const seconds = Math.max(1, Math.min(windowMs, now - firstSeen + 1000) / 1000);
  const round = (v: number) => Math.round(v * 1000) / 1000;
  // A TCP connection counts as a request would for the error and mTLS shares: a failed one is an error.
  const attempts = requests + (tcp ? tcp.connections + tcp.failed : 0);
  const failures = errors + (tcp?.failed ?? 0);
  const carried = requests + (tcp?.connections ?? 0);
  const secured = mtls + (tcp?.mtls ?? 0);
  return {
    requests, errors,
    requestsPerSecond: round(requests / seconds),
    errorRate: attempts ? round(failures / attempts) : 0,
    latencyMs: lat.length ? { p50: percentile(lat, 50), p95: percentile(lat, 95), p99: percentile(lat, 99) } : null,
    mtlsShare: carried ? round(secured / carried) : 0,
    lastSeen,
    protocols: [...new Set(parts.flatMap((p) => [...p.protocols]))].sort(),
    routedBy: [...routes].sort((x, y) => y[1] - x[1] || x[0].localeCompare(y[0])).map(([route]) => route),
    ...(tcp ? {
      tcp: {
        connections: tcp.connections, failed: tcp.failed, open: tcp.open, bytes: tcp.bytes,
        connectionsPerSecond: round(tcp.connections / seconds), bytesPerSecond: round(tcp.bytes / seconds),
      },
    } : {}),
  };
}
