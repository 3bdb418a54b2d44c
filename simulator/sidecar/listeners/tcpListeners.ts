/**
 * A set of plain TCP listeners on 127.0.0.1 that follows the config: local
 * upstream ports of a workload (Consul Connect's model), and the ingress's
 * Gateway servers of protocol TCP. `sync` opens the listeners a new config
 * wants and closes the ones it dropped; connections in progress finish on
 * their own. Each connection arrives paused (nothing read yet) at `accept`.
 */
import * as net from 'node:net';

export interface TcpListenerEntry<T> {
  port: number;
  /** What the connections on it are for; compared as JSON to tell a changed entry. */
  target: T;
  /** For the message when the port cannot be bound, e.g. "upstream localPort 16379 (to redis...:6379)". */
  describe: string;
}

export class TcpListeners<T> {
  private readonly servers = new Map<string, { entry: TcpListenerEntry<T>; server: net.Server; sockets: Set<net.Socket> }>();

  constructor(private readonly accept: (socket: net.Socket, target: T) => void, private readonly log: (level: 'info' | 'warn', message: string) => void) {}

  /** Opens what `entries` adds, closes what it drops; rejects (after logging) when a port cannot be bound. */
  async sync(entries: readonly TcpListenerEntry<T>[]): Promise<void> {
    const key = (e: TcpListenerEntry<T>) => `${e.port}|${JSON.stringify(e.target)}`;
    const wanted = new Map(entries.map((e) => [key(e), e]));
    for (const [k, l] of this.servers) {
      if (wanted.has(k)) continue;
      l.server.close();
      this.servers.delete(k);
    }
    const opening: Promise<void>[] = [];
    for (const [k, e] of wanted) if (!this.servers.has(k)) opening.push(this.open(k, e));
    await Promise.all(opening);
  }

  private open(key: string, entry: TcpListenerEntry<T>): Promise<void> {
    const sockets = new Set<net.Socket>();
    // pauseOnConnect: nothing is read before the handler takes the socket.
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }, (socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      socket.on('error', () => socket.destroy());
      this.accept(socket, entry.target);
    });
    this.servers.set(key, { entry, server, sockets });
    return new Promise((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        this.servers.delete(key);
        const message = err.code === 'EADDRINUSE' ? `${entry.describe}: 127.0.0.1:${entry.port} is already in use` : `${entry.describe}: ${err.message}`;
        this.log('warn', message);
        reject(new Error(message));
      });
      server.listen(entry.port, '127.0.0.1', () => resolve());
    });
  }

  /** The ports listening now. */
  get ports(): number[] {
    return [...this.servers.values()].map((l) => l.entry.port);
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
