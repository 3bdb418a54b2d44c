/**
 * Which mTLS mode a workload's inbound listener enforces, resolved from
 * PeerAuthentications as Istio does: the most specific policy that sets a
 * mode wins — workload (selector matches) > namespace (no selector, the
 * workload's namespace) > mesh (no selector, root namespace `istio-system`)
 * > the default PERMISSIVE. `UNSET` inherits from the next level up, and a
 * workload policy's `portLevelMtls` for the workload's port beats its own
 * `mtls`. At one level the oldest policy wins; we take the first listed.
 */
import type { MtlsMode, Resource } from '../../policy/model';

export const ROOT_NAMESPACE = 'istio-system';

export type EnforcedMode = Exclude<MtlsMode, 'UNSET'>;

export interface ResolvedMtls {
  mode: EnforcedMode;
  /** `ns/name` of the deciding PeerAuthentication, or `default`. */
  source: string;
}

export function resolvePeerAuthentication(
  policies: readonly Resource<'PeerAuthentication'>[],
  workload: { namespace: string; labels: Record<string, string> },
  port: number,
  defaultNamespace: string,
): ResolvedMtls {
  const nsOf = (p: Resource<'PeerAuthentication'>) => p.metadata.namespace ?? defaultNamespace;
  const hasSelector = (p: Resource<'PeerAuthentication'>) => Object.keys(p.spec.selector?.matchLabels ?? {}).length > 0;
  const selects = (p: Resource<'PeerAuthentication'>) =>
    Object.entries(p.spec.selector?.matchLabels ?? {}).every(([k, v]) => workload.labels[k] === v);

  const workloadLevel = policies.filter((p) => nsOf(p) === workload.namespace && hasSelector(p) && selects(p));
  for (const p of workloadLevel) {
    const portMode = p.spec.portLevelMtls?.[String(port)]?.mode;
    if (portMode && portMode !== 'UNSET') return { mode: portMode, source: `${nsOf(p)}/${p.metadata.name}` };
  }
  const levels = [
    workloadLevel,
    policies.filter((p) => nsOf(p) === workload.namespace && !hasSelector(p)),
    policies.filter((p) => nsOf(p) === ROOT_NAMESPACE && !hasSelector(p)),
  ];
  for (const level of levels) {
    for (const p of level) {
      const mode = p.spec.mtls?.mode;
      if (mode && mode !== 'UNSET') return { mode, source: `${nsOf(p)}/${p.metadata.name}` };
    }
  }
  return { mode: 'PERMISSIVE', source: 'default' };
}
