/**
 * `devmesh proxy-config` tables, in the columns `istioctl proxy-config`
 * prints (istioctl/pkg/writer/envoy/configdump): listeners as ADDRESSES PORT
 * MATCH DESTINATION, routes as NAME VHOST NAME DOMAINS MATCH VIRTUAL
 * SERVICE, clusters as SERVICE FQDN PORT SUBSET DIRECTION TYPE DESTINATION
 * RULE, endpoints as ENDPOINT STATUS OUTLIER CHECK CLUSTER, secrets as
 * RESOURCE NAME TYPE STATUS VALID CERT SERIAL NUMBER NOT AFTER NOT BEFORE.
 * Resources are named `name.namespace` there, as istioctl names them. Pure.
 */
import { formatTable } from '../control/table';
import type { ClusterConfig, EndpointConfig, ListenerConfig, RouteConfig, SecretConfig } from './types';

/** An endpoint with the health the control plane knows of its workload (EDS health in Istio). */
export interface EndpointRow extends Omit<EndpointConfig, 'health'> {
  health: 'HEALTHY' | 'UNHEALTHY';
}

const kname = (nsName: string) => {
  const i = nsName.indexOf('/');
  return i < 0 ? nsName : `${nsName.slice(i + 1)}.${nsName.slice(0, i)}`;
};

export function listenersTable(listeners: readonly ListenerConfig[]): string {
  const rows = [['ADDRESSES', 'PORT', 'MATCH', 'DESTINATION']];
  for (const l of [...listeners].sort((a, b) => a.port - b.port)) {
    for (const c of l.chains) rows.push([l.address, String(l.port), c.match, c.destination]);
  }
  return formatTable(rows, 1);
}

export function routesTable(routes: readonly RouteConfig[]): string {
  const rows = [['NAME', 'VHOST NAME', 'DOMAINS', 'MATCH', 'VIRTUAL SERVICE']];
  for (const r of routes) {
    for (const vh of r.virtualHosts) {
      const domains = describeDomains(vh.domains);
      if (vh.requireTls) rows.push([r.name, vh.name, domains, '/* (plain HTTP)', '301 to https (httpsRedirect)']);
      else if (vh.routes.length === 0) rows.push([r.name, vh.name, domains, '/*', '404']);
      for (const e of vh.routes) rows.push([r.name, vh.name, domains, e.match, e.origin ? `${e.origin.name}.${e.origin.namespace}` : '']);
    }
  }
  return formatTable(rows, 5);
}

/**
 * istioctl's DOMAINS cell: the names without a port, the longer spellings
 * of a name also listed short dropped, at most two, then "+ N more...".
 */
export function describeDomains(domains: readonly string[]): string {
  if (domains.length <= 1) return domains[0] ?? '';
  const bare = domains.filter((d) => !d.includes(':'));
  const set = new Set(bare);
  const kept = bare.filter((d) => {
    for (const suffix of ['.svc.cluster.local', '.svc']) if (d.endsWith(suffix) && set.has(d.slice(0, -suffix.length))) return false;
    return true;
  });
  return kept.length > 2 ? `${kept.slice(0, 2).join(', ')} + ${kept.length - 2} more...` : kept.join(', ');
}

export function clustersTable(clusters: readonly ClusterConfig[]): string {
  const rows = [['SERVICE FQDN', 'PORT', 'SUBSET', 'DIRECTION', 'TYPE', 'DESTINATION RULE']];
  for (const c of clusters) {
    rows.push([c.fqdn || c.name, c.port === undefined ? '-' : String(c.port), c.subset || '-', c.direction || '-', c.type, (c.destinationRule ?? []).map(kname).join(', ')]);
  }
  return formatTable(rows, 5);
}

export function endpointsTable(endpoints: readonly EndpointRow[]): string {
  const rows = [['ENDPOINT', 'STATUS', 'OUTLIER CHECK', 'CLUSTER']];
  for (const e of endpoints) rows.push([`${e.address} (${e.workload})`, e.health, e.outlier.ejected ? 'FAILED' : 'OK', e.cluster]);
  return formatTable(rows, 5);
}

export function secretsTable(secrets: readonly SecretConfig[]): string {
  const rows = [['RESOURCE NAME', 'TYPE', 'STATUS', 'VALID CERT', 'SERIAL NUMBER', 'NOT AFTER', 'NOT BEFORE']];
  for (const s of secrets) rows.push([s.name, s.type, s.status, String(s.valid), s.serial, s.notAfter, s.notBefore]);
  return formatTable(rows, 5);
}
