/** The table `devmesh up` prints once the mesh is ready. Pure. */
import type { MeshSnapshot, ServiceInfo, WorkloadInfo } from '../protocol';

/** Columns aligned, `gap` spaces between them (istioctl's tables use 1 or 5), no trailing blanks. */
export function formatTable(rows: string[][], gap = 2): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c])).join(' '.repeat(gap)).trimEnd()).join('\n');
}

/**
 * One row per workload: the services that select it with their ports (each
 * `name.namespace` when the mesh has several namespaces), its app's local
 * ports, its sidecar's ports and its identity; with local upstream ports in
 * the mesh, an UPSTREAMS column (`16379->redis:6379`). The sidecar's `out`
 * port is where the app's HTTP_PROXY, HTTPS_PROXY and grpc_proxy point.
 */
export function meshTable(s: MeshSnapshot): string {
  const namespaces = new Set([...s.services.map((x) => x.namespace), ...s.workloads.map((w) => w.namespace)]);
  const named = (svc: ServiceInfo) => (namespaces.size > 1 ? `${svc.name}.${svc.namespace}` : svc.name);
  const ports = (svc: ServiceInfo) => (svc.ports ?? [{ port: svc.port }]).map((p) => p.port).join(',');
  const byFqdn = new Map(s.services.map((x) => [x.fqdn, x]));
  const withUpstreams = s.workloads.some((w) => (w.upstreams ?? []).length > 0);
  const upstreams = (w: WorkloadInfo) => (w.upstreams ?? []).map((u) => {
    const svc = byFqdn.get(u.service);
    return `${u.localPort}->${svc ? named(svc) : u.service}:${u.port}`;
  }).join(' ') || '-';
  const rows = [['SERVICE', 'WORKLOAD', 'APP PORT', 'SIDECAR (in/out/admin)', ...(withUpstreams ? ['UPSTREAMS'] : []), 'IDENTITY']];
  for (const w of s.workloads) {
    const services = s.services.filter((x) => x.workloads.includes(w.name));
    const local = [...new Set([w.appPort, ...Object.values(w.ports ?? {})])].join(',');
    rows.push([services.map((x) => `${named(x)}:${ports(x)}`).join(' ') || `(${w.service})`, w.name, local,
      `${w.sidecar.inboundPort}/${w.sidecar.outboundPort}/${w.sidecar.adminPort}`, ...(withUpstreams ? [upstreams(w)] : []), w.spiffeId]);
  }
  rows.push(['(ingress)', s.ingress.name, '-', `${s.ingress.port} (admin ${s.ingress.adminPort})`, ...(withUpstreams ? ['-'] : []), s.ingress.spiffeId]);
  return formatTable(rows);
}
