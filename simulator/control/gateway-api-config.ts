/**
 * The Gateway API's status as `/api/config` serves it: each Gateway and
 * route with the `status` a Kubernetes controller would write (conditions per
 * route parent with the controller's name; per listener, its conditions and
 * attached routes), plus where devmesh serves each Gateway port locally and
 * with which certificate. Certificates' PEM never leaves the control plane.
 */
import { controllerName, type Condition } from '../policy/gateway-api/status';
import type { GatewayListenerInfo, ListenerCertificate } from '../protocol';
import type { GatewayApiConfig, KubeCondition } from './api/contract';
import { l4GatewayListeners, listenerUrl } from './gateway-ingress';
import type { GatewayApiView } from './load';

/** Istio's controller name for mesh (Service-parent) routes. */
const MESH_CONTROLLER = 'istio.io/mesh-controller';

const kube = (c: Condition): KubeCondition => ({ type: c.type, status: c.status, reason: c.reason, message: c.message });

export function gatewayApiConfig(g: GatewayApiView, listeners: readonly GatewayListenerInfo[], certs: Record<string, ListenerCertificate[]>): GatewayApiConfig {
  const classOf = new Map(g.gateways.map((gw) => [gw.key, gw.gatewayClassName]));
  return {
    gateways: g.gateways.map((gw) => ({
      namespace: gw.namespace,
      name: gw.name,
      gatewayClassName: gw.gatewayClassName,
      managed: gw.managed,
      ...(gw.managed ? {
        status: {
          conditions: gw.conditions.map(kube),
          listeners: gw.listeners.map((l) => ({
            name: l.name,
            attachedRoutes: l.attachedRoutes,
            supportedKinds: l.allowedRoutes.kinds.map((kind) => ({ group: 'gateway.networking.k8s.io', kind })),
            conditions: l.conditions.map(kube),
          })),
        },
        local: [
          ...listeners.filter((l) => l.gateway === gw.key).map((l) => ({
            port: l.port,
            protocol: l.protocol,
            url: listenerUrl(l),
            ...(l.protocol === 'HTTPS' ? { certificates: (certs[`${l.gateway}:${l.port}`] ?? []).map((c) => ({ hostname: c.hostname ?? null, source: c.source })) } : {}),
          })),
          // TLS and TCP listeners: on their own port, as the ingress's Istio Gateway servers.
          ...l4GatewayListeners([gw]).map((l) => ({ port: l.port, protocol: l.protocol, url: l.url })),
        ],
      } : {}),
    })),
    routes: g.routes.map((r) => ({
      kind: r.kind,
      namespace: r.namespace,
      name: r.name,
      status: {
        parents: r.parents.filter((p) => p.managed).map((p) => ({
          parentRef: { group: p.ref.group, kind: p.ref.kind, namespace: p.ref.namespace, name: p.ref.name, ...(p.ref.sectionName !== undefined ? { sectionName: p.ref.sectionName } : {}), ...(p.ref.port !== undefined ? { port: p.ref.port } : {}) },
          controllerName: p.gateway ? controllerName(classOf.get(p.gateway) ?? 'istio') : MESH_CONTROLLER,
          conditions: p.conditions.map(kube),
        })),
      },
    })),
  };
}
