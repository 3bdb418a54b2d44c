/**
 * Outlier detection per cluster, as Envoy runs it for a DestinationRule's
 * `outlierDetection`. Pure: every method takes the clock reading, so tests
 * drive it with a fake clock.
 *
 * Unset fields take the defaults table's values (policy/defaults: what
 * pilot leaves to Envoy).
 * - `consecutive5xxErrors` (Istio: 5; 0 disables) and
 *   `consecutiveGatewayErrors` (502/503/504; Istio: off) eject a host the
 *   moment the count is reached. Failures the proxy sees itself (connect
 *   failure, reset, timeout) count as 503/504, as Envoy does unless
 *   `splitExternalLocalOriginErrors` is set; any other answer resets the counts.
 * - The ejection lasts `baseEjectionTime` (default 30s) times the number of
 *   times the host was ejected; the host returns at the first `interval`
 *   sweep (default 10s) after that. Every sweep in which a host is not
 *   ejected lowers that multiplier by one.
 * - A host is ejected only while fewer than `maxEjectionPercent` (default
 *   10%) of the hosts are ejected (so with few hosts one can always go).
 * - Below `minHealthPercent` healthy hosts (default 0), detection is
 *   suspended: the load balancer uses every host (Envoy's panic threshold).
 */
import type { OutlierDetection } from '../../policy/model';
import { parseDuration } from '../../policy/duration';
import type { OutlierDefaults } from '../../policy/defaults';

export interface OutlierSettings {
  consecutive5xx: number;
  consecutiveGateway: number;
  consecutiveLocalOrigin: number;
  splitLocalOrigin: boolean;
  intervalMs: number;
  baseEjectionMs: number;
  maxEjectionPercent: number;
  minHealthPercent: number;
  /** Envoy's max_ejection_time default: 300s. */
  maxEjectionMs: number;
}

/** The DestinationRule's settings over the defaults table's (what pilot leaves unset, Envoy defaults). */
export function outlierSettings(od: OutlierDetection, d: OutlierDefaults): OutlierSettings {
  const ms = (v: string | undefined, dflt: number) => (v ? parseDuration(v) ?? dflt : dflt);
  const base = ms(od.baseEjectionTime, d.baseEjectionTimeMs);
  return {
    consecutive5xx: od.consecutive5xxErrors ?? d.consecutive5xxErrors,
    consecutiveGateway: od.consecutiveGatewayErrors ?? d.consecutiveGatewayErrors,
    consecutiveLocalOrigin: od.consecutiveLocalOriginFailures ?? d.consecutiveLocalOriginFailures,
    splitLocalOrigin: od.splitExternalLocalOriginErrors ?? false,
    intervalMs: Math.max(1, ms(od.interval, d.intervalMs)),
    baseEjectionMs: base,
    maxEjectionPercent: od.maxEjectionPercent ?? d.maxEjectionPercent,
    minHealthPercent: od.minHealthPercent ?? d.minHealthPercent,
    // Envoy: max_ejection_time (300s) is raised to base_ejection_time when that is larger.
    maxEjectionMs: Math.max(d.maxEjectionTimeMs, base),
  };
}

/** What an attempt at a host ended with, in outlier-detection terms. */
export type HostResult =
  | { kind: 'response'; status: number }
  /** A failure the proxy saw itself: connect failure, reset, timeout. */
  | { kind: 'local'; timeout: boolean };

export interface HostState {
  consecutive5xx: number;
  consecutiveGateway: number;
  consecutiveLocal: number;
  /** Times ejected, lowered by one per healthy sweep: multiplies the ejection time. */
  ejections: number;
  ejectedAt?: number;
  ejectedUntil?: number;
  lastReason?: string;
}

export interface Ejection {
  host: string;
  reason: 'consecutive_5xx' | 'consecutive_gateway_failure' | 'consecutive_local_origin_failure';
  until: number;
}

export class OutlierDetector {
  readonly hosts = new Map<string, HostState>();
  private lastSweep: number;
  readonly counters = { ejections_enforced_total: 0, ejections_overflow: 0, ejections_enforced_consecutive_5xx: 0, ejections_enforced_consecutive_gateway_failure: 0, ejections_enforced_consecutive_local_origin_failure: 0 };

  constructor(public settings: OutlierSettings, now: number) {
    this.lastSweep = now;
  }

  private state(host: string): HostState {
    let s = this.hosts.get(host);
    if (!s) {
      s = { consecutive5xx: 0, consecutiveGateway: 0, consecutiveLocal: 0, ejections: 0 };
      this.hosts.set(host, s);
    }
    return s;
  }

  /** Records one result; returns the ejection it caused, if any. `allHosts` are the cluster's hosts now. */
  record(host: string, result: HostResult, allHosts: readonly string[], now: number): Ejection | undefined {
    this.sweep(now);
    const s = this.state(host);
    const st = this.settings;
    if (result.kind === 'local' && st.splitLocalOrigin) {
      s.consecutiveLocal++;
      if (st.consecutiveLocalOrigin > 0 && s.consecutiveLocal >= st.consecutiveLocalOrigin) return this.eject(host, s, 'consecutive_local_origin_failure', allHosts, now);
      return undefined;
    }
    // Local failures count as 503 (504 for a timeout) unless split out.
    const status = result.kind === 'local' ? (result.timeout ? 504 : 503) : result.status;
    if (result.kind === 'local') s.consecutiveLocal = 0;
    if (status < 500) {
      s.consecutive5xx = 0;
      s.consecutiveGateway = 0;
      return undefined;
    }
    s.consecutive5xx++;
    if (status === 502 || status === 503 || status === 504) s.consecutiveGateway++;
    else s.consecutiveGateway = 0;
    if (s.ejectedUntil !== undefined) return undefined; // already out
    if (st.consecutiveGateway > 0 && s.consecutiveGateway >= st.consecutiveGateway) return this.eject(host, s, 'consecutive_gateway_failure', allHosts, now);
    if (st.consecutive5xx > 0 && s.consecutive5xx >= st.consecutive5xx) return this.eject(host, s, 'consecutive_5xx', allHosts, now);
    return undefined;
  }

  private eject(host: string, s: HostState, reason: Ejection['reason'], allHosts: readonly string[], now: number): Ejection | undefined {
    const total = Math.max(1, allHosts.length);
    const ejectedNow = allHosts.filter((h) => this.hosts.get(h)?.ejectedUntil !== undefined).length;
    if ((100 * ejectedNow) / total >= this.settings.maxEjectionPercent) {
      this.counters.ejections_overflow++;
      return undefined;
    }
    s.ejections++;
    s.ejectedAt = now;
    s.ejectedUntil = now + Math.min(this.settings.baseEjectionMs * s.ejections, this.settings.maxEjectionMs);
    s.lastReason = reason;
    s.consecutive5xx = 0;
    s.consecutiveGateway = 0;
    s.consecutiveLocal = 0;
    this.counters.ejections_enforced_total++;
    this.counters[`ejections_enforced_${reason}`]++;
    return { host, reason, until: s.ejectedUntil };
  }

  /** Runs the interval sweeps due by `now`: hosts whose time is up come back; healthy ones lower their multiplier. */
  sweep(now: number): string[] {
    const back: string[] = [];
    const iv = this.settings.intervalMs;
    const due = Math.floor((now - this.lastSweep) / iv);
    if (due <= 0) return back;
    // Bounded: after a long quiet spell only the last sweeps matter (a multiplier only goes down to 0).
    const steps = Math.min(due, 64);
    const first = this.lastSweep + (due - steps + 1) * iv;
    this.lastSweep += due * iv;
    for (let k = 0; k < steps; k++) {
      const at = first + k * iv;
      for (const [host, s] of this.hosts) {
        if (s.ejectedUntil !== undefined) {
          if (at >= s.ejectedUntil) {
            s.ejectedUntil = undefined;
            s.ejectedAt = undefined;
            back.push(host);
          }
        } else if (s.ejections > 0) s.ejections--;
      }
    }
    return back;
  }

  isEjected(host: string): boolean {
    return this.hosts.get(host)?.ejectedUntil !== undefined;
  }

  /**
   * The hosts the load balancer may pick, after a sweep: the ones not
   * ejected — or all of them when fewer than minHealthPercent are healthy.
   */
  eligible<T extends { name: string }>(hosts: readonly T[], now: number): T[] {
    this.sweep(now);
    const healthy = hosts.filter((h) => !this.isEjected(h.name));
    if (hosts.length > 0 && (100 * healthy.length) / hosts.length < this.settings.minHealthPercent) return hosts.slice();
    return healthy;
  }

  toJSON() {
    return { settings: this.settings, hosts: Object.fromEntries(this.hosts), ...this.counters };
  }
}
