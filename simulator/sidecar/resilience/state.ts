/**
 * What the resilience filters of one sidecar share: a clock, circuit-breaker
 * state and outlier detectors per cluster (an upstream host + subset, as
 * Envoy's clusters are), the hosts last seen in each cluster, and the toxic
 * relays. Served on the admin port as `/clusters`.
 */
import type { OutlierDetection } from '../../policy/model';
import { ToxicRegistry } from '../chaos/toxicRegistry';
import type { Stats } from '../stats';
import { ConnectionPoolState } from './connectionPool';
import { OutlierDetector, outlierSettings } from './outlierDetection';
import type { OutlierDefaults } from '../../policy/defaults';
import type { HostOutlier } from '../../proxy-config/types';
import { TcpConnections } from './tcpConnections';

export interface PoolEntry {
  pool: ConnectionPoolState;
  /** Requests waiting for a connection, oldest first, each on its worker. */
  waiting: Array<{ worker: number; take: (c: import('./connectionPool').Connection) => void }>;
}

/** One ejected host, as the sidecar reports it to the control plane. */
export interface HostEjection { cluster: string; host: string; until: number; reason?: string }

export class ResilienceState {
  readonly pools = new Map<string, PoolEntry>();
  readonly outliers = new Map<string, { detector: OutlierDetector; spec: string; defaults: OutlierDefaults }>();
  readonly hosts = new Map<string, string[]>();
  readonly toxics: ToxicRegistry;
  /** TCP connections per cluster (connectionPool.tcp.maxConnections on the L4 path). */
  readonly tcp = new TcpConnections();

  constructor(readonly stats: Stats, readonly random: () => number, readonly now: () => number = Date.now) {
    this.toxics = new ToxicRegistry(random, now);
  }

  pool(cluster: string): PoolEntry {
    let p = this.pools.get(cluster);
    if (!p) {
      p = { pool: new ConnectionPoolState(), waiting: [] };
      this.pools.set(cluster, p);
    }
    return p;
  }

  /** The cluster's detector; a changed `outlierDetection` keeps the host history but takes the new settings. */
  detector(cluster: string, od: OutlierDetection, defaults: OutlierDefaults): OutlierDetector {
    const spec = JSON.stringify(od);
    const have = this.outliers.get(cluster);
    if (have) {
      if (have.spec !== spec || have.defaults !== defaults) {
        have.detector.settings = outlierSettings(od, defaults);
        have.spec = spec;
        have.defaults = defaults;
      }
      return have.detector;
    }
    const detector = new OutlierDetector(outlierSettings(od, defaults), this.now());
    this.outliers.set(cluster, { detector, spec, defaults });
    return detector;
  }

  /** The hosts outlier detection has ejected now, per cluster (after the sweeps due). */
  ejections(): HostEjection[] {
    const now = this.now();
    const out: HostEjection[] = [];
    for (const [cluster, { detector }] of [...this.outliers].sort(([a], [b]) => a.localeCompare(b))) {
      detector.sweep(now);
      for (const [host, s] of detector.hosts) {
        if (s.ejectedUntil !== undefined) out.push({ cluster, host, until: s.ejectedUntil, reason: s.lastReason });
      }
    }
    return out;
  }

  /** `/clusters` on the admin port: per cluster, hosts with their outlier state, and the pool. */
  clusters(): unknown {
    const names = new Set([...this.hosts.keys(), ...this.pools.keys(), ...this.outliers.keys(), ...this.tcp.clusters()]);
    return [...names].sort().map((name) => {
      const det = this.outliers.get(name)?.detector;
      return {
        cluster: name,
        hosts: (this.hosts.get(name) ?? []).map((h) => ({ host: h, ...this.outlierOf(name, h) })),
        outlierDetection: det ? { ...det.counters, settings: det.settings } : undefined,
        circuitBreakers: this.pools.get(name)?.pool.toJSON(),
        tcp: this.tcp.clusters().includes(name) ? this.tcp.toJSON(name) : undefined,
      };
    });
  }

  /** One host's outlier state in one cluster, after the sweeps due (never ejected: all zero). */
  outlierOf(cluster: string, host: string): HostOutlier {
    const det = this.outliers.get(cluster)?.detector;
    det?.sweep(this.now());
    const s = det?.hosts.get(host);
    return {
      ejected: !!s?.ejectedUntil,
      ejectedUntil: s?.ejectedUntil ? new Date(s.ejectedUntil).toISOString() : undefined,
      ejectionReason: s?.ejectedUntil ? s.lastReason : undefined,
      timesEjected: s?.ejections ?? 0,
      consecutive5xx: s?.consecutive5xx ?? 0,
      consecutiveGatewayErrors: s?.consecutiveGateway ?? 0,
    };
  }

  close(): void {
    this.toxics.close();
  }
}

/** Envoy-style cluster name for a plan: `outbound|port|subset|host`. */
export function clusterName(plan: { host: string; subset?: string; port: number }): string {
  return `outbound|${plan.port}|${plan.subset ?? ''}|${plan.host}`;
}
