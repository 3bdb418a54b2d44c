/**
 * Which documents are mesh policies. The apiVersions are the ones Istio
 * serves today for each kind (and, for the Kubernetes Gateway API, the ones
 * its CRDs serve); a document with a known kind and a wrong apiVersion is an
 * error, a document of another Istio or Gateway API kind is accepted with a
 * "not simulated" warning, and everything else is not ours.
 *
 * Two groups spell a kind `Gateway`: Istio's (networking.istio.io) and the
 * Gateway API's (gateway.networking.k8s.io). The model names the second
 * `KubernetesGateway`, as Istio does internally (gvk.KubernetesGateway); the
 * document itself keeps `kind: Gateway`.
 */
import type { Kind } from './model';

export const GATEWAY_API_GROUP = 'gateway.networking.k8s.io';

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
  Telemetry: ['telemetry.istio.io/v1', 'telemetry.istio.io/v1alpha1'],
  HTTPRoute: [`${GATEWAY_API_GROUP}/v1`, `${GATEWAY_API_GROUP}/v1beta1`, `${GATEWAY_API_GROUP}/v1alpha2`],
  GRPCRoute: [`${GATEWAY_API_GROUP}/v1`, `${GATEWAY_API_GROUP}/v1alpha2`],
  TLSRoute: [`${GATEWAY_API_GROUP}/v1alpha3`, `${GATEWAY_API_GROUP}/v1alpha2`],
  TCPRoute: [`${GATEWAY_API_GROUP}/v1alpha2`],
  KubernetesGateway: [`${GATEWAY_API_GROUP}/v1`, `${GATEWAY_API_GROUP}/v1beta1`, `${GATEWAY_API_GROUP}/v1alpha2`],
  ReferenceGrant: [`${GATEWAY_API_GROUP}/v1`, `${GATEWAY_API_GROUP}/v1beta1`, `${GATEWAY_API_GROUP}/v1alpha2`],
};

export const KINDS = Object.keys(API_VERSIONS) as Kind[];

/** The `kind:` a document of a model kind is written with. */
export function kindName(kind: Kind): string {
  return kind === 'KubernetesGateway' ? 'Gateway' : kind;
}

/** Gateway API kinds the Gateway API Gateways and GatewayClasses of a cluster hold but devmesh does not route with. */
const QUIET_GATEWAY_API_KINDS = new Set(['GatewayClass']);

const ISTIO_GROUPS = /^(networking|security|telemetry|extensions)\.istio\.io\//;

export interface Classification {
  kind?: Kind;
  /** apiVersion belongs to an Istio, Gateway API or devmesh group (even if the kind is not simulated). */
  istioGroup: boolean;
  problem?: 'missing-api-version' | 'unknown-api-version' | 'unsupported-kind';
  expected?: readonly string[];
  unsupportedKind?: string;
}

/** The model kinds written `kind: <name>`. */
function kindsNamed(name: string): Kind[] {
  return KINDS.filter((k) => kindName(k) === name);
}

function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

export function classify(apiVersion: string | undefined, kind: string | undefined): Classification {
  const candidates = kind === undefined ? [] : kindsNamed(kind);
  const gatewayApi = apiVersion !== undefined && apiVersion.startsWith(`${GATEWAY_API_GROUP}/`);
  const group = apiVersion !== undefined && (ISTIO_GROUPS.test(apiVersion) || gatewayApi || apiVersion.startsWith('devmesh.dev/'));
  if (candidates.length > 0) {
    if (apiVersion === undefined) {
      // `kind: Gateway` alone could be Istio's or the Gateway API's; only claim kinds whose name says whose they are.
      const known = candidates[0];
      return candidates.length === 1 && known !== 'Gateway' && known !== 'AuthorizationPolicy'
        ? { kind: known, istioGroup: true, problem: 'missing-api-version', expected: API_VERSIONS[known] }
        : { istioGroup: false };
    }
    const exact = candidates.find((k) => API_VERSIONS[k].includes(apiVersion));
    if (exact) return { kind: exact, istioGroup: true };
    // The kind of this group, served under another version.
    const sameGroup = candidates.find((k) => API_VERSIONS[k].some((v) => groupOf(v) === groupOf(apiVersion)));
    if (sameGroup) return { kind: sameGroup, istioGroup: true, problem: 'unknown-api-version', expected: API_VERSIONS[sameGroup] };
    if (group) {
      const known = candidates[0];
      return { kind: known, istioGroup: true, problem: 'unknown-api-version', expected: API_VERSIONS[known] };
    }
    return { istioGroup: false };
  }
  if (gatewayApi && kind !== undefined && QUIET_GATEWAY_API_KINDS.has(kind)) return { istioGroup: false };
  if (group && kind !== undefined) return { istioGroup: true, problem: 'unsupported-kind', unsupportedKind: kind };
  return { istioGroup: group };
}

/** The model kind of a resource as it travels (plain JSON with its own apiVersion and kind). */
export function resourceKind(r: { apiVersion?: string; kind?: string }): Kind | undefined {
  return classify(r.apiVersion, r.kind).kind;
}

/**
 * Kubernetes kinds that some checks read as facts about the cluster the
 * policies deploy to (a Gateway listener's or credential's Secret, the pods a
 * gateway selector picks, the namespaces that exist). They are not policies:
 * devmesh runs none of them. (Gateway API Gateways are policies: devmesh
 * serves them; the checks read them from there.)
 */
const REFERENCE_KINDS: Record<string, readonly string[]> = {
  v1: ['Namespace', 'Service', 'Pod', 'Secret', 'Node'],
  'apps/v1': ['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet'],
};

export function isReferenceKind(apiVersion: string | undefined, kind: string | undefined): boolean {
  if (apiVersion === undefined || kind === undefined) return false;
  return REFERENCE_KINDS[apiVersion]?.includes(kind) ?? false;
}
