/**
 * Which mTLS mode a workload's inbound listener enforces, composed from
 * PeerAuthentications as Istio does (pilot/pkg/security/authn
 * policy_applier.go ComposePeerAuthentication, fed by authentication.go
 * getConfigsForWorkload): of the policies in the workload's namespace and the
 * root namespace whose selector matches it, the first (oldest) of each level
 * counts — workload (a selector, not in the root namespace) > namespace (no
 * selector) > mesh (no selector, root namespace) > the flavor's default
 * (policy/defaults: Istio's PERMISSIVE).
 * `UNSET` inherits from the level above; a root-namespace policy with a
 * selector is ignored. The workload policy's `portLevelMtls`, keyed by the
 * workload (container) port, overrides the mode for that port (UNSET there
 * inherits the workload's mode).
 */
import type { MtlsMode, Resource } from '../../policy/model';
import { ISTIO } from '../../policy/defaults';

export const ROOT_NAMESPACE = 'istio-system';

export type EnforcedMode = Exclude<MtlsMode, 'UNSET'>;

export interface ResolvedMtls {
  mode: EnforcedMode;
  /** `ns/name` of the deciding PeerAuthentication, or `default`. */
  source: string;
  /** portLevelMtls of the workload policy, by container port number. */
  perPort?: Record<string, { mode: EnforcedMode; source: string }>;
}

type Policy = Resource<'PeerAuthentication'>;

export function composePeerAuthentication(
  policies: readonly Policy[],
  workload: { namespace: string; labels: Record<string, string> },
  defaultNamespace: string,
  rootNamespace = ROOT_NAMESPACE,
  /** The mode when no policy decides: the defaults table's. */
  fallback: EnforcedMode = ISTIO.defaults.mtlsMode,
): ResolvedMtls {
  const nsOf = (p: Policy) => p.metadata.namespace ?? defaultNamespace;
  const name = (p: Policy) => `${nsOf(p)}/${p.metadata.name}`;
  const selector = (p: Policy) => p.spec.selector?.matchLabels ?? {};
  let mesh: Policy | undefined;
  let namespace: Policy | undefined;
  let wl: Policy | undefined;
  for (const p of applyingPeerAuthentications(policies, workload, defaultNamespace, rootNamespace)) {
    if (Object.keys(selector(p)).length === 0) {
      if (nsOf(p) === rootNamespace) mesh ??= p;
      else namespace ??= p;
    } else {
      wl ??= p;
    }
  }
  let out: ResolvedMtls = { mode: fallback, source: 'default' };
  for (const p of [mesh, namespace, wl]) {
    const mode = p?.spec.mtls?.mode;
    if (p && mode && mode !== 'UNSET') out = { mode, source: name(p) };
  }
  const ports = wl?.spec.portLevelMtls;
  if (wl && ports && Object.keys(ports).length > 0) {
    out.perPort = {};
    for (const [port, m] of Object.entries(ports)) {
      out.perPort[port] = m?.mode && m.mode !== 'UNSET' ? { mode: m.mode, source: `${name(wl)} port ${port}` } : { mode: out.mode, source: out.source };
    }
  }
  return out;
}

/**
 * The PeerAuthentications that apply to a workload, in order: those of its
 * namespace whose selector matches its labels (or that have none), and the
 * root namespace's without a selector (`devmesh describe` lists them as
 * istioctl's "Applied PeerAuthentication").
 */
export function applyingPeerAuthentications(
  policies: readonly Policy[],
  workload: { namespace: string; labels: Record<string, string> },
  defaultNamespace: string,
  rootNamespace = ROOT_NAMESPACE,
): Policy[] {
  const nsOf = (p: Policy) => p.metadata.namespace ?? defaultNamespace;
  return policies.filter((p) => {
    const selector = Object.entries(p.spec.selector?.matchLabels ?? {});
    // A root-namespace policy with a selector is ignored, as pilot ignores it.
    if (nsOf(p) === rootNamespace) return selector.length === 0;
    return nsOf(p) === workload.namespace && selector.every(([k, v]) => workload.labels[k] === v);
  });
}

/** The mode for one container port: its portLevelMtls entry, else the workload's mode. */
export function mtlsForPort(m: ResolvedMtls, port: number): { mode: EnforcedMode; source: string } {
  return m.perPort?.[String(port)] ?? { mode: m.mode, source: m.source };
}

/** The mode a workload enforces on one of its container ports. */
export function resolvePeerAuthentication(
  policies: readonly Policy[],
  workload: { namespace: string; labels: Record<string, string> },
  port: number,
  defaultNamespace: string,
  rootNamespace = ROOT_NAMESPACE,
  fallback: EnforcedMode = ISTIO.defaults.mtlsMode,
): { mode: EnforcedMode; source: string } {
  return mtlsForPort(composePeerAuthentication(policies, workload, defaultNamespace, rootNamespace, fallback), port);
}

/** Whether a mode admits a peer: STRICT wants a verified mesh certificate, DISABLE plaintext, PERMISSIVE anything. */
export function admits(mode: EnforcedMode, peer: { tls: boolean; spiffeId?: string }): boolean {
  if (mode === 'STRICT') return peer.tls && !!peer.spiffeId;
  if (mode === 'DISABLE') return !peer.tls;
  return true;
}
