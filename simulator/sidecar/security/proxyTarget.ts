/**
 * What the security policies of a proxy are matched against: a workload's
 * namespace, labels and the container port a call is for, or the ingress
 * gateway's (it runs in istio-system with the labels `istio:
 * ingressgateway`, as Istio's does, so policies written for the gateway
 * select it here too).
 */
import type { InboundPort, MeshTables } from '../tables';
import type { PolicyTarget } from './policySelection';

export interface ProxyTarget extends PolicyTarget {
  /**
   * The port a request arrived on, for `ports` / `destination.port`: at a
   * workload, the container port of the call (as Envoy's inbound listener
   * sees it); at the ingress, its listener port.
   */
  port: number;
}

export function proxyTarget(t: MeshTables, inbound?: InboundPort): ProxyTarget {
  const self = t.self;
  if (self) return { namespace: self.namespace, labels: self.labels, port: inbound?.number ?? self.appPort };
  return { namespace: t.identity.namespace, labels: t.identity.labels, port: t.snapshot.ingress.port };
}
