/**
 * Whether a call to an endpoint goes out as mTLS or plaintext, decided as
 * Istio's client side does. A DestinationRule `tls.mode` decides when set
 * (DISABLE: plaintext; ISTIO_MUTUAL and the rest: TLS). Without one, auto
 * mTLS (meshConfig.enableAutoMtls, on by default) sends mTLS unless the
 * endpoint's own PeerAuthentication — workload, container port (the called
 * service port's targetPort), namespace or mesh level — says DISABLE (istio/istio@release-1.30 pilot/pkg/xds/endpoints/
 * mtls_checker.go:53-66, pilot/pkg/networking/core/cluster_tls.go:463), so a
 * server that turned mTLS off is reached in plaintext instead of refusing
 * every call. With auto mTLS off and no tls setting, plaintext.
 */
import type { Endpoint, ServiceInfo, WorkloadInfo } from '../../protocol';
import { containerPortNumber, localPortOf, portsOf } from '../routing/servicePorts';
import type { EffectivePolicy } from '../routing/trafficPolicy';
import type { MeshTables } from '../tables';
import { composePeerAuthentication, mtlsForPort, ROOT_NAMESPACE, type ResolvedMtls } from './peerAuthentication';

/** @param dest the service and service port called, for the endpoint's container port (portLevelMtls) */
export function sendsMtls(t: MeshTables, ep: WorkloadInfo, policy: EffectivePolicy | undefined, dest?: { kind: string; service?: ServiceInfo; port?: number }): boolean {
  // An address outside the mesh has no sidecar: TLS to it is origination (tlsOrigination.ts), never mesh mTLS.
  if ((ep as Endpoint).external) return false;
  const mode = policy?.tls?.mode;
  if (mode !== undefined) return mode !== 'DISABLE';
  if (!t.defaults.autoMtls) return false;
  return mtlsForPort(endpointMtls(t, ep), containerPort(ep, dest?.service, dest?.port)).mode !== 'DISABLE';
}

/** The container port a service port reaches on the endpoint (its targetPort), as its inbound sees it. */
function containerPort(ep: WorkloadInfo, service: ServiceInfo | undefined, port: number | undefined): number {
  const sp = service ? portsOf(service).find((p) => p.port === port) ?? portsOf(service)[0] : undefined;
  const targetPort = String(sp?.targetPort ?? ep.appPort);
  return containerPortNumber(targetPort, localPortOf(ep, targetPort));
}

/** The PeerAuthentication the endpoint's inbound composes, memoised per compiled tables. */
function endpointMtls(t: MeshTables, ep: WorkloadInfo): ResolvedMtls {
  let byEndpoint = memo.get(t);
  if (!byEndpoint) memo.set(t, (byEndpoint = new Map()));
  let m = byEndpoint.get(ep.name);
  if (!m) {
    m = composePeerAuthentication(t.snapshot.peerAuthentications, { namespace: ep.namespace, labels: ep.labels }, t.snapshot.namespace, t.snapshot.rootNamespace ?? ROOT_NAMESPACE, t.defaults.mtlsMode);
    byEndpoint.set(ep.name, m);
  }
  return m;
}

const memo = new WeakMap<MeshTables, Map<string, ResolvedMtls>>();
