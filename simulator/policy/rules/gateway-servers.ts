/**
 * The servers of every Gateway with what Gateway checks compare: selector,
 * port, hosts, bind and certificate. Computed once per index.
 */
import type { PolicyDocument } from '../source';
import { clusterWorkloads, selects } from '../cluster-workloads';
import { arr, obj, str, strings } from '../plain';
import type { WorkspaceIndex } from '../workspace-index';

export interface GatewayServer {
  gw: PolicyDocument<'Gateway'>;
  /** `namespace/name` of the Gateway. */
  key: string;
  selector: Record<string, string>;
  /** Index in spec.servers. */
  i: number;
  port: number | undefined;
  hosts: string[];
  bind: string;
  /** The certificate it serves: `credentialName`, or the `serverCertificate` and `privateKey` files; undefined without TLS. */
  certificate: string | undefined;
  /** It has `tls` (HTTPS, TLS, or an HTTP server's httpsRedirect): pilot's mergeGateways checks its hosts for duplicates. */
  tls: boolean;
}

export interface GatewayServers {
  all: GatewayServer[];
  facts: string;
}

const cache = new WeakMap<WorkspaceIndex, GatewayServers>();

export function gatewayServers(index: WorkspaceIndex): GatewayServers {
  let found = cache.get(index);
  if (found) return found;
  const all: GatewayServer[] = [];
  for (const gw of index.byKind.Gateway) {
    const spec = obj(gw.value.spec);
    const selector = strings(spec.selector);
    arr(spec.servers).forEach((raw, i) => {
      const server = obj(raw);
      const tls = server.tls === undefined ? undefined : obj(server.tls);
      const credential = str(tls?.credentialName);
      const files = str(tls?.serverCertificate) && str(tls?.privateKey) ? `${tls!.serverCertificate} + ${tls!.privateKey}` : undefined;
      all.push({
        gw, key: `${index.namespaceOf(gw)}/${gw.name}`, selector, i,
        port: typeof obj(server.port).number === 'number' ? obj(server.port).number : undefined,
        hosts: arr(server.hosts).filter((h): h is string => typeof h === 'string'),
        bind: str(server.bind) ?? '',
        certificate: credential ? `credentialName "${credential}"` : files,
        tls: server.tls !== undefined && server.tls !== null,
      });
    });
  }
  found = { all, facts: JSON.stringify([clusterWorkloads(index).facts, all.map((s) => [s.key, s.selector, s.i, s.port, s.hosts, s.bind, s.certificate, s.tls, str(obj(s.gw.value.metadata).creationTimestamp)])]) };
  cache.set(index, found);
  return found;
}

/** Whether two selectors pick a workload in common: the same selector, or one gateway workload both select. */
export function shareWorkloads(a: Record<string, string>, b: Record<string, string>, index: WorkspaceIndex): boolean {
  if (JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort())) return true;
  return clusterWorkloads(index).all.some((w) => selects(a, w.labels) && selects(b, w.labels));
}
