/**
 * Istio's egress gateway, played locally: when a Gateway selects
 * `istio: egressgateway`, the Mesh `up` runs gets the workload Istio's
 * demo install has — `istio-egressgateway` in istio-system, service account
 * `istio-egressgateway-service-account`, behind a Service of that name with
 * ports 80 (http2 -> 8080) and 443 (https -> 8443). Sidecars reach it as any
 * mesh service (mTLS, DestinationRule subsets); the gateway routes what
 * arrives by the VirtualServices bound to the Gateways that select it.
 * Which proxy serves a Gateway follows its selector: the egress gateway the
 * ones that select its labels, devmesh's ingress every other one. Pure.
 */
import type { GatewaySpec, MeshSpec, Resource, ServiceSpec } from './model';
import { resourceKind } from './kinds';

export const EGRESS_GATEWAY = {
  name: 'istio-egressgateway',
  namespace: 'istio-system',
  serviceAccount: 'istio-egressgateway-service-account',
  labels: { istio: 'egressgateway', app: 'istio-egressgateway' } as Readonly<Record<string, string>>,
  /** The Service's ports as Istio's install has them: what sidecars address, and the container port the gateway listens on. */
  ports: [
    { name: 'http2', port: 80, targetPort: 8080, protocol: 'http' },
    { name: 'https', port: 443, targetPort: 8443, protocol: 'tls' },
  ],
} as const;

/** Whether a Gateway's selector picks the egress gateway's pods (an empty or missing selector picks none). */
export function selectsEgressGateway(spec: GatewaySpec | undefined): boolean {
  const selector = spec?.selector ?? {};
  const entries = Object.entries(selector);
  return entries.length > 0 && entries.every(([k, v]) => EGRESS_GATEWAY.labels[k] === String(v));
}

/** Whether a workload is the egress gateway devmesh runs (its name, namespace and labels). */
export function isEgressGateway(w: { name: string; namespace: string; labels: Record<string, string> }): boolean {
  return w.name === EGRESS_GATEWAY.name && w.namespace === EGRESS_GATEWAY.namespace && w.labels.istio === EGRESS_GATEWAY.labels.istio;
}

/**
 * The Mesh with the egress gateway's service and workload added when a
 * Gateway among the resources selects it (and the Mesh has no service of
 * that name there already). The workload has no app: its sidecar routes
 * what arrives itself.
 */
export function withEgressGateway(spec: MeshSpec, resources: readonly Resource[]): MeshSpec {
  const wanted = resources.some((r) => resourceKind(r) === 'Gateway' && selectsEgressGateway((r as Resource<'Gateway'>).spec));
  const declared = spec.services.some((s) => s.name === EGRESS_GATEWAY.name && (s.namespace ?? spec.namespace) === EGRESS_GATEWAY.namespace);
  if (!wanted || declared) return spec;
  const service: ServiceSpec = {
    name: EGRESS_GATEWAY.name,
    namespace: EGRESS_GATEWAY.namespace,
    ports: EGRESS_GATEWAY.ports.map((p) => ({ ...p })),
    workloads: [{ name: EGRESS_GATEWAY.name, labels: { ...EGRESS_GATEWAY.labels }, serviceAccount: EGRESS_GATEWAY.serviceAccount }],
  };
  return { ...spec, services: [...spec.services, service] };
}
