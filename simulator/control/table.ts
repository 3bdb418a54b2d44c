/** The table `devmesh up` prints once the mesh is ready. Pure. */
import type { MeshSnapshot } from '../protocol';

export function formatTable(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c])).join('  ').trimEnd()).join('\n');
}

export function meshTable(s: MeshSnapshot): string {
  const rows = [['SERVICE', 'WORKLOAD', 'APP PORT', 'SIDECAR (in/out/admin)', 'IDENTITY']];
  for (const w of s.workloads) {
    rows.push([`${w.service}:${s.services.find((x) => x.name === w.service)?.port ?? ''}`, w.name, String(w.appPort),
      `${w.sidecar.inboundPort}/${w.sidecar.outboundPort}/${w.sidecar.adminPort}`, w.spiffeId]);
  }
  rows.push(['(ingress)', s.ingress.name, '-', `${s.ingress.port} (admin ${s.ingress.adminPort})`, s.ingress.spiffeId]);
  return formatTable(rows);
}
