/**
 * The traffic policy in force for one destination (host, subset, service
 * port), as Istio merges a DestinationRule today (istio/istio
 * pilot/pkg/networking/util/util.go MergeSubsetTrafficPolicy and
 * GetPortLevelTrafficPolicy): a `portLevelSettings` entry for the port
 * replaces the policy it is in — its fields are not inherited, what it leaves
 * out falls back to the defaults; then the subset's policy (taken for that
 * port the same way) overrides field by field, or wholly when it has settings
 * for that port.
 */
import type { DestinationRuleSpec, TrafficPolicy } from '../../policy/model';
import type { PortTrafficPolicy } from '../../policy/model';

export type EffectivePolicy = Omit<PortTrafficPolicy, 'port'>;

const FIELDS = ['loadBalancer', 'connectionPool', 'outlierDetection', 'tls'] as const;

export function effectiveTrafficPolicy(dr: DestinationRuleSpec | undefined, subset: string | undefined, port: number | undefined): EffectivePolicy {
  if (!dr) return {};
  const top = forPort(dr.trafficPolicy, port);
  const sub = subset ? dr.subsets?.find((s) => s.name === subset)?.trafficPolicy : undefined;
  if (!sub) return top.policy;
  const own = forPort(sub, port);
  const out: EffectivePolicy = { ...top.policy };
  for (const f of FIELDS) {
    if (own.portLevel || own.policy[f] !== undefined) (out as Record<string, unknown>)[f] = own.policy[f];
  }
  for (const f of FIELDS) if (out[f] === undefined) delete out[f];
  return out;
}

/** A policy's settings for one port: its matching portLevelSettings entry alone, else its own fields. */
function forPort(tp: TrafficPolicy | undefined, port: number | undefined): { policy: EffectivePolicy; portLevel: boolean } {
  if (!tp) return { policy: {}, portLevel: false };
  const pl = port === undefined ? undefined : tp.portLevelSettings?.find((p) => p.port?.number === port);
  const from: EffectivePolicy = pl ?? tp;
  const policy: EffectivePolicy = {};
  for (const f of FIELDS) if (from[f] !== undefined) (policy as Record<string, unknown>)[f] = from[f];
  return { policy, portLevel: !!pl };
}
