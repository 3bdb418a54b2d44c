/**
 * The traffic policy in force for one destination (host, subset, port), as
 * Istio merges a DestinationRule: the top-level policy, overridden field by
 * field by its matching `portLevelSettings`, then by the subset's policy and
 * the subset's own port-level settings.
 */
import type { DestinationRuleSpec, PortTrafficPolicy, TrafficPolicy } from '../../policy/model';

export type EffectivePolicy = Omit<PortTrafficPolicy, 'port'>;

const FIELDS = ['loadBalancer', 'connectionPool', 'outlierDetection', 'tls'] as const;

export function effectiveTrafficPolicy(dr: DestinationRuleSpec | undefined, subset: string | undefined, port: number | undefined): EffectivePolicy {
  const out: EffectivePolicy = {};
  if (!dr) return out;
  apply(out, dr.trafficPolicy, port);
  if (subset) apply(out, dr.subsets?.find((s) => s.name === subset)?.trafficPolicy, port);
  return out;
}

function apply(out: EffectivePolicy, tp: TrafficPolicy | undefined, port: number | undefined): void {
  if (!tp) return;
  overlay(out, tp);
  if (port === undefined) return;
  const pl = tp.portLevelSettings?.find((p) => p.port?.number === port);
  if (pl) overlay(out, pl);
}

function overlay(out: EffectivePolicy, from: EffectivePolicy): void {
  for (const f of FIELDS) if (from[f] !== undefined) (out as Record<string, unknown>)[f] = from[f];
}
