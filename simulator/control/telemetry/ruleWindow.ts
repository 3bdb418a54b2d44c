/**
 * Per-rule counters for the editor's code lenses and the topology's edges:
 * the rule samples sidecars send (telemetry-protocol.ts RuleSample), kept in
 * ten-second buckets over fifteen minutes, folded into requests per minute,
 * error share, p99 and the last hit per rule, with the caller->callee edges
 * each rule sent traffic over and the traces it decided. Pure apart from the
 * clock passed in.
 */
import type { RuleStats } from '../api/contract';
import type { RuleSample } from '../../telemetry-protocol';
import { percentile } from './edges';

const BUCKET_MS = 10_000;
/** What the lenses look back over: "no request matched in the last 10 minutes". */
export const RULE_WINDOW_MS = 10 * 60_000;
const KEEP_MS = 15 * 60_000;
const SAMPLES_PER_BUCKET = 200;
const TRACES_KEPT = 20;

interface Bucket { at: number; requests: number; connections: number; errors: number; latencies: number[] }
interface EdgeCount { source: string; destination: string; requests: number; lastHit: number }
interface Series { buckets: Bucket[]; total: number; errorsTotal: number; lastHit: number; edges: Map<string, EdgeCount>; traces: string[] }

export class RuleWindow {
  private readonly series = new Map<string, Series>();

  /** One sample from the sidecar `from`. */
  add(from: string, s: RuleSample, now = Date.now()): void {
    let series = this.series.get(s.rule);
    if (!series) this.series.set(s.rule, (series = { buckets: [], total: 0, errorsTotal: 0, lastHit: now, edges: new Map(), traces: [] }));
    const at = Math.floor(now / BUCKET_MS) * BUCKET_MS;
    let b = series.buckets[series.buckets.length - 1];
    if (!b || b.at !== at) series.buckets.push((b = { at, requests: 0, connections: 0, errors: 0, latencies: [] }));
    b.requests += s.requests;
    b.connections += s.connections ?? 0;
    b.errors += s.errors;
    for (const l of s.latenciesMs) if (b.latencies.length < SAMPLES_PER_BUCKET) b.latencies.push(l);
    series.total += s.requests;
    series.errorsTotal += s.errors;
    series.lastHit = now;
    const [source, destination] = s.side === 'source' ? [from, s.peer] : [s.peer, from];
    const key = `${source}>${destination}`;
    const edge = series.edges.get(key) ?? { source, destination, requests: 0, lastHit: now };
    edge.requests += s.requests;
    edge.lastHit = now;
    series.edges.set(key, edge);
    for (const t of s.traces) {
      if (series.traces.includes(t)) continue;
      series.traces.unshift(t);
      if (series.traces.length > TRACES_KEPT) series.traces.pop();
    }
  }

  /** Every rule seen since the control plane started (or those of one edge `source>destination` in the window), most requests first. */
  view(now = Date.now(), filter: { rule?: string; edge?: string } = {}): RuleStats[] {
    this.prune(now);
    const out: RuleStats[] = [];
    for (const [rule, s] of this.series) {
      if (filter.rule !== undefined && rule !== filter.rule) continue;
      if (filter.edge !== undefined && !s.edges.has(filter.edge)) continue;
      const recent = s.buckets.filter((b) => b.at > now - RULE_WINDOW_MS);
      const lastMinute = s.buckets.filter((b) => b.at > now - 60_000);
      const requests = recent.reduce((a, b) => a + b.requests, 0);
      const errors = recent.reduce((a, b) => a + b.errors, 0);
      const latencies = recent.flatMap((b) => b.latencies).sort((a, b) => a - b);
      const edges = [...s.edges.values()].filter((e) => e.lastHit > now - RULE_WINDOW_MS && (filter.edge === undefined || `${e.source}>${e.destination}` === filter.edge));
      out.push({
        rule,
        requestsPerMinute: lastMinute.reduce((a, b) => a + b.requests, 0),
        requests,
        connections: recent.reduce((a, b) => a + b.connections, 0),
        errorRate: requests > 0 ? errors / requests : 0,
        p99Ms: latencies.length ? percentile(latencies, 99) : null,
        lastHit: s.lastHit,
        total: s.total,
        edges: edges.map((e) => ({ source: e.source, destination: e.destination, requests: e.requests })),
        traces: [...s.traces],
      });
    }
    return out.sort((a, b) => b.requests - a.requests || a.rule.localeCompare(b.rule));
  }

  /** Buckets past the 15 minutes kept go; a rule keeps its total and traces (the lenses say when it last matched). */
  private prune(now: number): void {
    for (const s of this.series.values()) {
      while (s.buckets.length && s.buckets[0].at <= now - KEEP_MS) s.buckets.shift();
      for (const [k, e] of s.edges) if (e.lastHit <= now - KEEP_MS) s.edges.delete(k);
    }
  }
}
