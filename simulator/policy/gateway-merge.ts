/**
 * The servers pilot's MergeGateways skips when it merges the Gateways of one
 * gateway workload (model/gateway.go mergeGateways): a server with `tls`
 * (HTTPS, TLS, and an HTTP server with `tls.httpsRedirect` too) one of whose
 * hosts a server with `tls` of an earlier Gateway — or earlier in the same
 * Gateway — already names on that port with the same `bind` is dropped
 * whole ("skipping server on gateway ..., duplicate host names"; counted in
 * pilot_total_rejected_configs), because Envoy rejects two filter chains
 * with one server name. Hosts compare as written after
 * sanitizeServerHostNamespace (`./h` is `<gateway ns>/h`, `*\/h` is `h`),
 * so `a.example.com` and `*.example.com` are no duplicate. Gateways come
 * in merge order (oldest first, gateway-api/age.ts). Pure.
 */
import type { GatewayServer } from './model';

export interface DroppedServer {
  /** `namespace/name` of the Gateway and the index in its spec.servers. */
  gateway: string;
  index: number;
  port: number;
  /** The hosts an earlier server took, and the Gateway whose server took the first of them. */
  duplicates: string[];
  keptBy: string;
}

/** pilot's sanitizeServerHostNamespace on one server's hosts. */
export function sanitizedHosts(hosts: readonly string[], gatewayNamespace: string): string[] {
  return hosts.map((h) => {
    const at = h.indexOf('/');
    if (at < 0) return h;
    const [ns, name] = [h.slice(0, at), h.slice(at + 1)];
    return ns === '.' ? `${gatewayNamespace}/${name}` : ns === '*' ? name : h;
  });
}

const hasTls = (s: Pick<GatewayServer, 'tls'>) => s.tls !== undefined && s.tls !== null;

/** The servers MergeGateways skips, keyed `namespace/name#index`. */
export function droppedGatewayServers(gateways: readonly { key: string; spec?: { servers?: GatewayServer[] } }[]): Map<string, DroppedServer> {
  const dropped = new Map<string, DroppedServer>();
  // port -> host -> the bind and Gateway that named it first
  const known = new Map<number, Map<string, { bind: string; gateway: string }>>();
  for (const gw of gateways) {
    const namespace = gw.key.slice(0, gw.key.indexOf('/'));
    (gw.spec?.servers ?? []).forEach((server, index) => {
      const port = server?.port?.number;
      if (typeof port !== 'number' || !hasTls(server)) return;
      const bind = typeof server.bind === 'string' ? server.bind : '';
      const hosts = sanitizedHosts((server.hosts ?? []).filter((h): h is string => typeof h === 'string'), namespace);
      const byHost = known.get(port) ?? new Map<string, { bind: string; gateway: string }>();
      known.set(port, byHost);
      const duplicates = hosts.filter((h) => byHost.get(h)?.bind === bind);
      if (duplicates.length > 0) {
        dropped.set(`${gw.key}#${index}`, { gateway: gw.key, index, port, duplicates, keptBy: byHost.get(duplicates[0])!.gateway });
        return;
      }
      for (const h of hosts) byHost.set(h, { bind, gateway: gw.key });
    });
  }
  return dropped;
}
