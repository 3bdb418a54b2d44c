/**
 * How an app reaches each service port through its sidecar — the three ways
 * of issue 15, one answer for up's table and the topology API. Pure.
 *
 * - proxy form: `HTTP_PROXY` points at the sidecar's outbound listener and
 *   the app sends `GET http://reviews:9080/...` (HTTP/1.1 ports);
 * - CONNECT: `HTTPS_PROXY`/`https_proxy`/`grpc_proxy` point there too and the
 *   app sends `CONNECT reviews:9080` (any port; gRPC and TCP clients do this);
 * - a local upstream port (Consul Connect's model): 127.0.0.1:<localPort> on
 *   one workload's sidecar, for clients that honour no proxy (redis-cli, psql).
 */
import type { MeshSnapshot, ServiceInfo } from '../protocol';
import type { ServicePortReach } from './api/contract';

export type { ServicePortReach } from './api/contract';

/** The reach of every port of `svc`, keyed by service port. */
export function reachOf(s: MeshSnapshot, svc: ServiceInfo): Map<number, ServicePortReach> {
  const host = hostFor(s, svc);
  const out = new Map<number, ServicePortReach>();
  for (const p of svc.ports ?? [{ port: svc.port, protocol: svc.protocol }]) {
    const upstreams = s.workloads.flatMap((w) => (w.upstreams ?? [])
      .filter((u) => u.service === svc.fqdn && u.port === p.port)
      .map((u) => ({ workload: w.name, localPort: u.localPort })));
    out.set(p.port, {
      ...(p.protocol === 'http' ? { proxyForm: `http://${host}:${p.port}/` } : {}),
      connect: `${host}:${p.port}`,
      upstreams,
    });
  }
  return out;
}

/** The name an app writes: short in a one-namespace mesh, `name.namespace` when there are several. */
export function hostFor(s: MeshSnapshot, svc: ServiceInfo): string {
  const namespaces = new Set([...s.services.map((x) => x.namespace), ...s.workloads.map((w) => w.namespace)]);
  return namespaces.size > 1 ? `${svc.name}.${svc.namespace}` : svc.name;
}
