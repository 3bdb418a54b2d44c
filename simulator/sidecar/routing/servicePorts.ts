/**
 * Service ports as the sidecars use them: every port of a service (a
 * snapshot without `ports` has the one `port`), which port a destination
 * means, and where on a workload a service port lands. Pure.
 */
import type { Protocol } from '../../policy/model';
import type { ServiceInfo, ServicePortInfo, WorkloadInfo } from '../../protocol';

const onePort = new WeakMap<ServiceInfo, ServicePortInfo[]>();

/** Every port of a service; the one-port list of a service without `ports` is made once per service (a snapshot's are never changed), not per request. */
export function portsOf(s: ServiceInfo): ServicePortInfo[] {
  if (s.ports && s.ports.length > 0) return s.ports;
  let ports = onePort.get(s);
  if (ports === undefined) onePort.set(s, (ports = [{ name: s.protocol, port: s.port, targetPort: s.port, protocol: s.protocol }]));
  return ports;
}

/**
 * The service port a destination is sent to (pilot's GetDestinationCluster):
 * the one it names, else the service's only port, else the port the request
 * addressed (a sidecar's listener port).
 */
export function destinationPort(s: ServiceInfo, explicit: number | undefined, requested: number): number {
  if (explicit !== undefined) return explicit;
  const ports = portsOf(s);
  return ports.length === 1 ? ports[0].port : requested;
}

/**
 * The service port a request addressed: the authority's port when the
 * service has it; with no port (or one the service lacks) a one-port service
 * takes its port, as devmesh always has; a multi-port service takes port 80
 * when it has it (the HTTP default) and otherwise none.
 */
export function requestedPort(s: ServiceInfo, authorityPort: number | undefined): number | undefined {
  const ports = portsOf(s);
  if (authorityPort !== undefined && ports.some((p) => p.port === authorityPort)) return authorityPort;
  if (ports.length === 1) return ports[0].port;
  return authorityPort === undefined && ports.some((p) => p.port === 80) ? 80 : undefined;
}

/** The local port a workload's app listens on for a container port (a targetPort as text). */
export function localPortOf(w: WorkloadInfo, targetPort: string): number {
  return w.ports?.[targetPort] ?? w.appPort;
}

/** The number Envoy sees for a container port: the targetPort's own, or for a named one the local port its app listens on. */
export function containerPortNumber(targetPort: string, localPort: number): number {
  return /^\d+$/.test(targetPort) ? Number(targetPort) : localPort;
}

export function describePorts(s: ServiceInfo): string {
  return portsOf(s).map((p) => `${p.port}${p.name && p.name !== p.protocol ? ` (${p.name})` : ''}`).join(', ');
}

/** The protocol of one of a service's ports (its first port's when it names none of them). */
export function protocolOf(s: ServiceInfo, port: number): Protocol {
  return portsOf(s).find((p) => p.port === port)?.protocol ?? s.protocol;
}

/** Whether Istio speaks HTTP/2 to a port of this protocol end to end (grpc, http2), not HTTP/1.1. */
export function speaksHttp2(protocol: Protocol | undefined): boolean {
  return protocol === 'grpc' || protocol === 'http2';
}
