/**
 * Which documents are mesh policies. The apiVersions are the ones Istio
 * serves today for each kind; a document with a known kind and a wrong
 * apiVersion is an error, a document of another Istio kind is accepted with a
 * "not simulated" warning, and everything else is not ours.
 */
import type { Kind } from './model';

export const API_VERSIONS: Record<Kind, readonly string[]> = {
  Mesh: ['devmesh.dev/v1alpha1'],
  VirtualService: ['networking.istio.io/v1', 'networking.istio.io/v1beta1', 'networking.istio.io/v1alpha3'],
  DestinationRule: ['networking.istio.io/v1', 'networking.istio.io/v1beta1', 'networking.istio.io/v1alpha3'],
  Gateway: ['networking.istio.io/v1', 'networking.istio.io/v1beta1', 'networking.istio.io/v1alpha3'],
  PeerAuthentication: ['security.istio.io/v1', 'security.istio.io/v1beta1'],
  AuthorizationPolicy: ['security.istio.io/v1', 'security.istio.io/v1beta1'],
  RequestAuthentication: ['security.istio.io/v1', 'security.istio.io/v1beta1'],
  ServiceEntry: ['networking.istio.io/v1', 'networking.istio.io/v1beta1', 'networking.istio.io/v1alpha3'],
  WorkloadEntry: ['networking.istio.io/v1', 'networking.istio.io/v1beta1', 'networking.istio.io/v1alpha3'],
  Sidecar: ['networking.istio.io/v1', 'networking.istio.io/v1beta1', 'networking.istio.io/v1alpha3'],
};

export const KINDS = Object.keys(API_VERSIONS) as Kind[];

const ISTIO_GROUPS = /^(networking|security|telemetry|extensions)\.istio\.io\//;

export interface Classification {
  kind?: Kind;
  /** apiVersion belongs to an Istio or devmesh group (even if the kind is not simulated). */
  istioGroup: boolean;
  problem?: 'missing-api-version' | 'unknown-api-version' | 'unsupported-kind';
  expected?: readonly string[];
  unsupportedKind?: string;
}

export function classify(apiVersion: string | undefined, kind: string | undefined): Classification {
  const known = kind !== undefined && Object.prototype.hasOwnProperty.call(API_VERSIONS, kind) ? (kind as Kind) : undefined;
  const group = apiVersion !== undefined && (ISTIO_GROUPS.test(apiVersion) || apiVersion.startsWith('devmesh.dev/'));
  if (known) {
    const expected = API_VERSIONS[known];
    if (apiVersion === undefined) {
      // `kind: Gateway` alone could be Kubernetes Gateway API; only claim it for our own kind names.
      return known === 'Mesh' || known === 'VirtualService' || known === 'DestinationRule' || known === 'PeerAuthentication'
        ? { kind: known, istioGroup: true, problem: 'missing-api-version', expected }
        : { istioGroup: false };
    }
    if (expected.includes(apiVersion)) return { kind: known, istioGroup: true };
    if (group) return { kind: known, istioGroup: true, problem: 'unknown-api-version', expected };
    return { istioGroup: false }; // e.g. gateway.networking.k8s.io Gateway: not ours
  }
  if (group && kind !== undefined) return { istioGroup: true, problem: 'unsupported-kind', unsupportedKind: kind };
  return { istioGroup: group };
}

/**
 * Kubernetes and Gateway API kinds that some checks read as facts about the
 * cluster the policies deploy to (a Gateway's credential Secret, the pods a
 * gateway selector picks, the namespaces that exist). They are not policies:
 * devmesh runs none of them.
 */
const REFERENCE_KINDS: Record<string, readonly string[]> = {
  v1: ['Namespace', 'Service', 'Pod', 'Secret', 'Node'],
  'apps/v1': ['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet'],
};

export function isReferenceKind(apiVersion: string | undefined, kind: string | undefined): boolean {
  if (apiVersion === undefined || kind === undefined) return false;
  if (apiVersion.startsWith('gateway.networking.k8s.io/')) return kind === 'Gateway';
  return REFERENCE_KINDS[apiVersion]?.includes(kind) ?? false;
}
