/**
 * Local upstream ports (Consul Connect's model): one listener on
 * 127.0.0.1:<localPort> per `upstreams` entry of this sidecar's workload;
 * every connection to it is handed to the dispatcher for the service port it
 * leads to, resolved when the connection arrives (a config change applies
 * to the next connection). A config that adds or drops upstreams opens or
 * closes their listeners; connections in progress finish on their own.
 */
import * as net from 'node:net';
import type { UpstreamInfo } from '../../protocol';
import { portsOf } from '../routing/servicePorts';
import type { MeshTables } from '../tables';
import type { ConnectionDestination } from './dispatch';

export interface UpstreamListenerDeps {
  tables: () => MeshTables;
  dispatch: (socket: net.Socket, destination: ConnectionDestination) => void;
  /** A connection to an upstream whose service is gone from the config (closed, and logged). */
  unresolved: (socket: net.Socket, upstream: UpstreamInfo) => void;
  log: (level: 'info' | 'warn', message: string) => void;
}

const keyOf = (u: UpstreamInfo) => `${u.localPort}|${u.service}|${u.port}`;

export class UpstreamListeners {
  private readonly servers = new Map<string, { upstream: UpstreamInfo; server: net.Server; sockets: Set<net.Socket> }>();

  constructor(private readonly deps: UpstreamListenerDeps) {}

  /** Opens the listeners the workload's upstreams need and closes the others; resolves with the ports bound. */
  async sync(upstreams: readonly UpstreamInfo[]): Promise<void> {
    const wanted = new Map(upstreams.map((u) => [keyOf(u), u]));
    for (const [key, l] of this.servers) {
      if (wanted.has(key)) continue;
      l.server.close();
      this.servers.delete(key);
    }
    const opening: Promise<void>[] = [];
    for (const [key, u] of wanted) if (!this.servers.has(key)) opening.push(this.open(key, u));
    await Promise.all(opening);
  }

  private open(key: string, upstream: UpstreamInfo): Promise<void> {
    const sockets = new Set<net.Socket>();
    // pauseOnConnect: nothing is read before the dispatcher's handler takes the socket.
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }, (socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      socket.on('error', () => socket.destroy());
      const t = this.deps.tables();
      const service = t.snapshot.services.find((s) => s.fqdn === upstream.service);
      const port = service && portsOf(service).find((p) => p.port === upstream.port);
      if (!service || !port) return this.deps.unresolved(socket, upstream);
      this.deps.dispatch(socket, { service, port, authority: `${upstream.service}:${upstream.port}`, via: 'upstream' });
    });
    this.servers.set(key, { upstream, server, sockets });
    return new Promise((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        this.servers.delete(key);
        const message = err.code === 'EADDRINUSE'
          ? `upstream localPort ${upstream.localPort} (to ${upstream.service}:${upstream.port}) on 127.0.0.1 is already in use`
          : `upstream localPort ${upstream.localPort}: ${err.message}`;
        this.deps.log('warn', message);
        reject(new Error(message));
      });
      server.listen(upstream.localPort, '127.0.0.1', () => resolve());
    });
  }

  /** The ports listening now. */
  get ports(): number[] {
    return [...this.servers.values()].map((l) => l.upstream.localPort);
  }

  /** Stops accepting; with `destroy`, also cuts the connections in progress. */
  close(destroy = false): Promise<void> {
    const closed = [...this.servers.values()].map((l) => new Promise<void>((r) => {
      l.server.close(() => r());
      if (destroy) for (const s of l.sockets) s.destroy();
    }));
    if (destroy) this.servers.clear();
    return Promise.all(closed).then(() => undefined);
  }
}
