/** The tables `devmesh up` prints once the mesh is ready. Pure. */
import type { MeshSnapshot, ServiceInfo } from '../protocol';
import { hostFor, reachOf } from './reach';

/** Columns aligned, `gap` spaces between them (istioctl's tables use 1 or 5), no trailing blanks. */
export function formatTable(rows: string[][], gap = 2): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c])).join(' '.repeat(gap)).trimEnd()).join('\n');
}

/**
 * One row per workload: the services that select it with their ports (each
 * `name.namespace` when the mesh has several namespaces), its app's local
 * ports, its sidecar's ports and its identity. The sidecar's `out` port is
 * where the app's HTTP_PROXY, HTTPS_PROXY and grpc_proxy point.
 */
export function meshTable(s: MeshSnapshot): string {
  const ports = (svc: ServiceInfo) => (svc.ports ?? [{ port: svc.port }]).map((p) => p.port).join(',');
  const rows = [['SERVICE', 'WORKLOAD', 'APP PORT', 'SIDECAR (in/out/admin)', 'IDENTITY']];
  for (const w of s.workloads) {
    const services = s.services.filter((x) => x.workloads.includes(w.name));
    const local = [...new Set([w.appPort, ...Object.values(w.ports ?? {})])].join(',');
    rows.push([services.map((x) => `${hostFor(s, x)}:${ports(x)}`).join(' ') || `(${w.service})`, w.name, local,
      `${w.sidecar.inboundPort}/${w.sidecar.outboundPort}/${w.sidecar.adminPort}`, w.spiffeId]);
  }
  rows.push(['(ingress)', s.ingress.name, '-', `${s.ingress.port} (admin ${s.ingress.adminPort})`, s.ingress.spiffeId]);
  return formatTable(rows);
}

/**
 * One row per service port: the three ways an app reaches it through its
 * sidecar (reach.ts) — the proxy-form URL (HTTP ports), the CONNECT target,
 * and the local upstream ports that lead there (`cart-v1 127.0.0.1:16379`).
 */
export function reachTable(s: MeshSnapshot): string {
  const rows = [['SERVICE PORT', 'PROTOCOL', 'HTTP_PROXY (proxy form)', 'CONNECT (HTTPS_PROXY, grpc_proxy)', 'LOCAL UPSTREAM PORTS']];
  for (const svc of s.services) {
    const reach = reachOf(s, svc);
    for (const p of svc.ports ?? [{ port: svc.port, protocol: svc.protocol }]) {
      const r = reach.get(p.port)!;
      rows.push([r.connect, p.protocol, r.proxyForm ? `GET ${r.proxyForm}` : '-', `CONNECT ${r.connect}`, r.upstreams.map((u) => `${u.workload} 127.0.0.1:${u.localPort}`).join(', ') || '-']);
    }
  }
  return formatTable(rows);
}
