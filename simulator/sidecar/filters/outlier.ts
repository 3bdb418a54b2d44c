/**
 * Outlier detection: records how each picked endpoint answered, per
 * cluster; the detector ejects hosts (the endpoint pick then skips them,
 * see `eligibleEndpoints`). Only when the DestinationRule sets `outlierDetection`.
 */
import type { EffectivePolicy } from '../routing/trafficPolicy';
import type { Filter, RequestContext } from '../context';
import type { MeshTables } from '../tables';
import type { OutlierDetection } from '../../policy/model';
import type { OutlierDefaults } from '../../policy/defaults';
import type { HostResult } from '../resilience/outlierDetection';
import { derive } from '../resilience/attempt';
import { clusterName, type ResilienceState } from '../resilience/state';
import { grpcStatusOf, grpcToHttpStatus } from '../grpc/status';

export interface OutlierSettings {
  state: ResilienceState;
  /** Told about every ejection (a log line for the control plane). */
  onEject?: (message: string) => void;
}

/** Counts one outcome of `host` against its cluster's detector (the HTTP and the L4 path); an ejection is counted and told. */
export function outcomeRecorder(s: OutlierSettings, cluster: string, od: OutlierDetection, defaults: OutlierDefaults, host: string): (r: HostResult) => void {
  const det = s.state.detector(cluster, od, defaults);
  return (r) => {
    const e = det.record(host, r, s.state.hosts.get(cluster) ?? [host], s.state.now());
    if (e) {
      s.state.stats.inc('outlier_detection.ejections_enforced_total');
      s.onEject?.(`outlier detection ejected ${host} from ${cluster} (${e.reason}) until ${new Date(e.until).toISOString()}`);
    }
  };
}

export const outlier = (s: OutlierSettings): Filter => (next) => (ctx) => {
  const plan = ctx.plan;
  const od = ctx.policy?.outlierDetection;
  const ep = ctx.endpoint;
  if (plan?.kind !== 'forward' || !od || !ep) return next(ctx);
  const record = outcomeRecorder(s, clusterName(plan), od, ctx.tables.defaults.outlierDetection, ep.name);
  const d = derive(ctx, {
    respond(status, headers, body) {
      // A trailers-only gRPC answer counts as its status maps (UNAVAILABLE as 503), as Envoy's router reports it; a status in later trailers does not count.
      const grpc = grpcStatusOf(headers as Record<string, unknown>);
      record({ kind: 'response', status: grpc === undefined ? status : grpcToHttpStatus(grpc) });
      ctx.respond(status, headers, body);
    },
    fail(err) {
      if (err.flag === 'UF' || err.flag === 'UC' || err.flag === 'UT') record({ kind: 'local', timeout: err.flag === 'UT' });
      else if (err.flag === 'FI' && err.status >= 500) record({ kind: 'response', status: err.status });
      ctx.fail(err);
    },
  });
  ctx.onAbort(() => d.abort());
  next(d.ctx);
};

/**
 * The endpoint pick's view of a cluster: hosts not ejected (all of them below
 * minHealthPercent), and — on a retry — hosts not tried yet when any are left.
 */
export function eligibleEndpoints(state: ResilienceState) {
  return <E extends { name: string }>(ctx: Pick<RequestContext, 'plan' | 'avoidEndpoints' | 'tables' | 'notes'> | { plan?: { kind: 'forward'; host: string; subset?: string; port: number }; tables: MeshTables }, endpoints: E[], policy: EffectivePolicy): E[] => {
    const plan = ctx.plan;
    if (plan?.kind !== 'forward') return endpoints;
    const cluster = clusterName(plan);
    state.hosts.set(cluster, endpoints.map((e) => e.name));
    let out = endpoints;
    if (policy.outlierDetection) {
      const detector = state.detector(cluster, policy.outlierDetection, ctx.tables.defaults.outlierDetection);
      out = detector.eligible(out, state.now());
      // The request's records say which hosts were out at its first pick, in ejection order, so a replay (explain --trace) assumes them.
      const notes = 'notes' in ctx ? ctx.notes : undefined;
      if (notes && notes.ejected === undefined) {
        // Noted at the first pick only (empty when none is out): a host ejected by this request's own attempts is not the state it met.
        notes.ejected = endpoints.filter((e) => detector.isEjected(e.name)).map((e) => e.name)
          .sort((a, b) => (detector.hosts.get(a)!.ejectedAt ?? 0) - (detector.hosts.get(b)!.ejectedAt ?? 0));
      }
    }
    const avoid = 'avoidEndpoints' in ctx ? ctx.avoidEndpoints : undefined;
    if (avoid && avoid.size > 0) {
      const fresh = out.filter((e) => !avoid.has(e.name));
      if (fresh.length > 0) out = fresh;
    }
    return out;
  };
}
