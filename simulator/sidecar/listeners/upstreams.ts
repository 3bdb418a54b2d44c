/**
 * Local upstream ports (Consul Connect's model): one listener on
 * 127.0.0.1:<localPort> per `upstreams` entry of this sidecar's workload;
 * every connection to it is handed to the dispatcher for the service port it
 * leads to, resolved when the connection arrives (a config change applies
 * to the next connection).
 */
import type * as net from 'node:net';
import type { UpstreamInfo } from '../../protocol';
import { portsOf } from '../routing/servicePorts';
import type { MeshTables } from '../tables';
import type { ConnectionDestination } from './dispatch';
import { TcpListeners, type TcpListenerEntry } from './tcpListeners';

export interface UpstreamListenerDeps {
  tables: () => MeshTables;
  dispatch: (socket: net.Socket, destination: ConnectionDestination) => void;
  /** A connection to an upstream whose service is gone from the config (closed, and logged). */
  unresolved: (socket: net.Socket, upstream: UpstreamInfo) => void;
  log: (level: 'info' | 'warn', message: string) => void;
}

export function upstreamListeners(deps: UpstreamListenerDeps): TcpListeners<UpstreamInfo> {
  return new TcpListeners<UpstreamInfo>((socket, upstream) => {
    const service = deps.tables().snapshot.services.find((s) => s.fqdn === upstream.service);
    const port = service && portsOf(service).find((p) => p.port === upstream.port);
    if (!service || !port) return deps.unresolved(socket, upstream);
    deps.dispatch(socket, { service, port, authority: `${upstream.service}:${upstream.port}`, via: 'upstream' });
  }, deps.log);
}

/** The listeners a workload's upstreams need. */
export function upstreamEntries(upstreams: readonly UpstreamInfo[] | undefined): TcpListenerEntry<UpstreamInfo>[] {
  return (upstreams ?? []).map((u) => ({ port: u.localPort, target: u, describe: `upstream localPort ${u.localPort} (to ${u.service}:${u.port})` }));
}
