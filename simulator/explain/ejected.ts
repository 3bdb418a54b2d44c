/**
 * The walk's `--ejected W` assumption: W has answered its cluster's
 * outlier detection with failures past its threshold. The failures are
 * recorded by the sidecar's own detector (outlierDetection.ts), in the
 * order given, so it ejects W as the sidecar's would — or keeps it in when
 * maxEjectionPercent is reached, and the pick uses every host below
 * minHealthPercent (eligibleEndpoints). A cluster without outlierDetection
 * ejects nothing; a workload not in the cluster is not recorded there.
 */
import type { EffectivePolicy } from '../sidecar/routing/trafficPolicy';
import type { OutlierDefaults } from '../policy/defaults';
import type { ResilienceState } from '../sidecar/resilience/state';

/** Records the assumed failures in `cluster`'s detector, once per walk state and cluster. */
export function assumeEjected(state: ResilienceState, cluster: string, hosts: ReadonlyArray<{ name: string }>, policy: EffectivePolicy, defaults: OutlierDefaults, ejected: readonly string[] | undefined): void {
  const od = policy.outlierDetection;
  if (!od || !ejected?.length || state.outliers.has(cluster)) return;
  const detector = state.detector(cluster, od, defaults);
  const names = hosts.map((h) => h.name);
  // A 503 counts as a 5xx and a gateway error: whichever threshold is set is reached.
  const failures = Math.max(detector.settings.consecutive5xx, detector.settings.consecutiveGateway);
  for (const host of ejected) {
    if (!names.includes(host)) continue;
    for (let i = 0; i < failures && !detector.isEjected(host); i++) detector.record(host, { kind: 'response', status: 503 }, names, state.now());
  }
}
