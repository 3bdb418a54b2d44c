/**
 * Subsets: a DestinationRule subset's labels select the workloads of the
 * host's service that carry all of them. No subset = every workload.
 */
import type { DestinationRuleSpec } from '../../policy/model';
import type { WorkloadInfo } from '../../protocol';

export type SubsetResult<E extends WorkloadInfo = WorkloadInfo> = { endpoints: E[] } | { error: string };

export function subsetEndpoints<E extends WorkloadInfo>(workloads: readonly E[], dr: DestinationRuleSpec | undefined, subset: string | undefined, host: string): SubsetResult<E> {
  if (!subset) return { endpoints: workloads.slice() };
  const def = dr?.subsets?.find((s) => s.name === subset);
  if (!def) {
    return { error: dr ? `subset "${subset}" is not defined in the DestinationRule for ${host}` : `subset "${subset}" of ${host} needs a DestinationRule, and there is none` };
  }
  const wanted = Object.entries(def.labels ?? {});
  return { endpoints: workloads.filter((w) => wanted.every(([k, v]) => w.labels[k] === v)) };
}
