/**
 * Builds the one immutable `MeshSnapshot` the sidecars act on. Pure: the
 * same Mesh, resources, ports and version always give the same snapshot, so
 * it is unit-tested without processes and hot reload is "build, then push".
 */
import { ingressTerminatedPorts, ISTIO_INGRESS_GATEWAY } from '../policy/gateway-tls';
import type { GatewayListenerInfo, IngressInfo, MeshSnapshot, ServiceInfo, WorkloadInfo } from '../protocol';
import { resourceKind } from '../policy/kinds';
import { INGRESS_GATEWAY, MESH_DEFAULTS, type IstioKind, type MeshSpec, type Resource } from '../policy/model';
import { flavorProfile } from '../policy/flavors';
import { meshInventory, type WorkloadView } from '../policy/mesh-inventory';
import { EGRESS_GATEWAY, isEgressGateway } from '../policy/egress-gateway';
import { resolveDefaults } from '../policy/defaults';
import { gatewayStatuses, servedGatewayPorts, type WorldService } from '../policy/gateway-api/status';
import type { TlsSecret } from '../policy/gateway-api/secrets';

export interface SidecarPortAssignment {
  inboundPort: number;
  outboundPort: number;
  adminPort: number;
}

export interface PortAssignment {
  /** Per workload name. */
  workloads: Record<string, SidecarPortAssignment>;
  /** `listeners`: the local port of each Gateway API Gateway port, by `namespace/name:port` (absent: the port itself). */
  ingress: { port: number; adminPort: number; listeners?: Record<string, number> };
}

/** Istio's ingress gateway runs under this service account; AuthorizationPolicies name it. */
export const INGRESS_SERVICE_ACCOUNT = 'istio-ingressgateway-service-account';
export const INGRESS_NAME = 'istio-ingressgateway';

export function resolvedMeshSettings(spec: MeshSpec) {
  return {
    trustDomain: spec.trustDomain ?? MESH_DEFAULTS.trustDomain,
    namespace: spec.namespace ?? MESH_DEFAULTS.namespace,
    rootNamespace: spec.rootNamespace ?? MESH_DEFAULTS.rootNamespace,
    controlPort: spec.controlPort ?? MESH_DEFAULTS.controlPort,
    ingressPort: spec.ingress?.port ?? MESH_DEFAULTS.ingressPort,
  };
}

export function buildSnapshot(
  mesh: Resource<'Mesh'>,
  resources: readonly Resource<IstioKind>[],
  ports: PortAssignment,
  version: number,
  secrets?: ReadonlyMap<string, TlsSecret>,
): MeshSnapshot {
  const { trustDomain, namespace, rootNamespace } = resolvedMeshSettings(mesh.spec);
  // The flavor names the workloads (its identity format) and says which kinds it applies.
  const flavor = flavorProfile(mesh.spec.flavor);
  const inventory = meshInventory(mesh.spec);
  const services: ServiceInfo[] = inventory.services.map((s) => ({
    name: s.name,
    namespace: s.namespace,
    fqdn: s.fqdn,
    port: s.ports[0].port,
    protocol: s.protocol,
    ports: s.ports.map((p) => ({ name: p.name, port: p.port, targetPort: p.targetPort, protocol: p.protocol })),
    workloads: s.workloads.map((w) => w.name),
  }));
  const workloads: WorkloadInfo[] = inventory.workloads.map((w) => {
    const assigned = ports.workloads[w.name];
    if (!assigned) throw new Error(`no sidecar ports assigned to workload ${w.name}`);
    return {
      name: w.name,
      service: w.service,
      namespace: w.namespace,
      // Istio's subsets select on pod labels; a nested workload gets `app: <service>` so a
      // DestinationRule written for Kubernetes still selects it (meshInventory).
      labels: w.labels,
      serviceAccount: w.serviceAccount,
      spiffeId: flavor.identity.mint(trustDomain, w.namespace, w.serviceAccount),
      // The egress gateway has no app: what arrives for its container ports goes to its own gateway listener.
      ...(isEgressGateway(w) ? gatewayListenerPorts(assigned) : { appPort: w.appPort ?? 0, ports: { ...w.containerPorts } }),
      sidecar: { ...assigned },
      ...upstreamsOf(w),
    };
  });

  const withNamespace = <K extends IstioKind>(r: Resource<K>): Resource<K> =>
    ({ ...r, metadata: { ...r.metadata, namespace: r.metadata.namespace ?? namespace } });
  // A kind the flavor does not apply never reaches a sidecar (validation reported it: rules/flavor-kinds.ts).
  const ofKind = <K extends IstioKind>(kind: K) =>
    resources.filter((r): r is Resource<K> => resourceKind(r) === kind && flavor.kinds.applies.has(kind)).map(withNamespace);
  const kubernetesGateways = ofKind('KubernetesGateway');
  const referenceGrants = ofKind('ReferenceGrant');
  // What a certificateRef needs to know of a Secret (whether it exists and holds a certificate), never its keys.
  const gatewaySecrets = secrets && kubernetesGateways.length > 0
    ? Object.fromEntries([...secrets].map(([key, s]) => [key, 'problem' in s ? { problem: s.problem } : {}])) : undefined;

  /** Local upstream ports; validation refuses one naming no service or port, so none such reaches here. */
  function upstreamsOf(w: WorkloadView): Pick<WorkloadInfo, 'upstreams'> {
    const upstreams = w.upstreams.flatMap((u) => (u.target && u.targetPort && u.localPort !== undefined ? [{ service: u.target.fqdn, port: u.targetPort.port, localPort: u.localPort }] : []));
    return upstreams.length > 0 ? { upstreams } : {};
  }

  const ingress: IngressInfo = {
    name: INGRESS_NAME,
    port: ports.ingress.port,
    adminPort: ports.ingress.adminPort,
    serviceAccount: INGRESS_SERVICE_ACCOUNT,
    // Like Istio's ingress gateway, which runs in istio-system.
    spiffeId: flavor.identity.mint(trustDomain, INGRESS_GATEWAY.namespace, INGRESS_SERVICE_ACCOUNT),
    labels: { ...INGRESS_GATEWAY.labels },
    listeners: [...gatewayListeners(services, kubernetesGateways, referenceGrants, gatewaySecrets, ports.ingress.listeners ?? {}), ...istioTlsListeners(ofKind('Gateway'), namespace, ports.ingress.listeners ?? {})],
  };

  return {
    version,
    meshName: mesh.metadata.name,
    trustDomain,
    namespace,
    rootNamespace,
    services,
    workloads,
    ingress,
    virtualServices: ofKind('VirtualService'),
    destinationRules: ofKind('DestinationRule'),
    gateways: ofKind('Gateway'),
    peerAuthentications: ofKind('PeerAuthentication'),
    authorizationPolicies: ofKind('AuthorizationPolicy'),
    requestAuthentications: ofKind('RequestAuthentication'),
    serviceEntries: ofKind('ServiceEntry'),
    workloadEntries: ofKind('WorkloadEntry'),
    sidecars: ofKind('Sidecar'),
    telemetries: ofKind('Telemetry'),
    ...(mesh.spec.outboundTrafficPolicy?.mode ? { outboundTrafficPolicy: mesh.spec.outboundTrafficPolicy.mode } : {}),
    ...(mesh.spec.tcpTunnel ? { tcpTunnel: mesh.spec.tcpTunnel } : {}),
    extensionProviders: mesh.spec.extensionProviders ?? [],
    httpRoutes: ofKind('HTTPRoute'),
    grpcRoutes: ofKind('GRPCRoute'),
    tlsRoutes: ofKind('TLSRoute'),
    tcpRoutes: ofKind('TCPRoute'),
    kubernetesGateways,
    referenceGrants,
    ...(gatewaySecrets ? { gatewaySecrets } : {}),
    faults: [],
    defaults: resolveDefaults(mesh.spec),
  };
}

/** The Gateway API ports the ingress serves, each on its assigned local port (the port itself when none is assigned). */
function gatewayListeners(services: ServiceInfo[], gateways: Resource<'KubernetesGateway'>[], grants: Resource<'ReferenceGrant'>[], secrets: MeshSnapshot['gatewaySecrets'], local: Record<string, number>): GatewayListenerInfo[] {
  if (gateways.length === 0) return [];
  const world = new Map<string, WorldService>(services.map((s) => [`${s.namespace}/${s.name}`, { name: s.name, namespace: s.namespace, fqdn: s.fqdn, ports: s.ports ?? [] }]));
  return servedGatewayPorts(gatewayStatuses({ services: world, gateways, referenceGrants: grants, ...(secrets ? { secrets: new Map(Object.entries(secrets)) } : {}) }))
    .map((p) => ({ gateway: p.gateway, port: p.port, protocol: p.protocol, localPort: local[`${p.gateway}:${p.port}`] ?? p.port }));
}

/**
 * The Istio Gateway server ports that terminate TLS and route HTTP, one listener per port for every Gateway with servers
 * there (as the ingress gateway merges them). A port of TLS servers is a TCP listener of the ingress (its tables' gateway ports).
 */
function istioTlsListeners(gateways: Resource<'Gateway'>[], namespace: string, local: Record<string, number>): GatewayListenerInfo[] {
  return ingressTerminatedPorts(gateways, namespace).filter((p) => p.protocol === 'HTTPS').map((p) => ({
    gateway: ISTIO_INGRESS_GATEWAY, port: p.port, protocol: 'HTTPS' as const, localPort: local[`${ISTIO_INGRESS_GATEWAY}:${p.port}`] ?? p.port,
    istio: [...new Set(p.servers.map((s) => s.gateway))], ...(p.clientCert ? { clientCert: p.clientCert } : {}),
  }));
}

/** The egress gateway's container ports, each served by its sidecar's own gateway listener (the outbound port). */
function gatewayListenerPorts(assigned: SidecarPortAssignment): Pick<WorkloadInfo, 'appPort' | 'ports'> {
  return { appPort: assigned.outboundPort, ports: Object.fromEntries(EGRESS_GATEWAY.ports.map((p) => [String(p.targetPort), assigned.outboundPort])) };
}
