/**
 * A TCP relay that applies one toxic, as Toxiproxy sits between a client and
 * its upstream: the caller's sidecar connects here instead of to the peer
 * sidecar, and mTLS runs end to end through it (the relay never decrypts).
 * Each relay serves one (fault, workload) pair and closes with the fault.
 */
import * as net from 'node:net';
import { bandwidthMs, latencyFor, scheduleChunk, toxicApplies, type Toxic } from './toxics';

export class ToxicRelay {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  readonly listening: Promise<number>;
  port = 0;
  connections = 0;

  constructor(readonly toxic: Toxic, private readonly targetPort: number, private readonly random: () => number) {
    // Half-open both ways: a FIN from one side is passed on, and what the other side still sends gets through
    // (a TLS connection per tunnel half-closes; an auto-closed side dropped the reply still in the toxic's queue).
    this.server = net.createServer({ allowHalfOpen: true }, (client) => this.relay(client));
    this.listening = new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => {
        this.port = (this.server.address() as net.AddressInfo).port;
        resolve(this.port);
      });
    });
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => { this.timers.delete(t); fn(); }, ms);
    this.timers.add(t);
  }

  private track(s: net.Socket): void {
    this.sockets.add(s);
    s.once('close', () => this.sockets.delete(s));
    s.on('error', () => s.destroy());
  }

  private relay(client: net.Socket): void {
    this.connections++;
    const upstream = net.connect({ port: this.targetPort, host: '127.0.0.1', allowHalfOpen: true });
    this.track(client);
    this.track(upstream);
    const kill = () => { client.destroy(); upstream.destroy(); };
    client.once('close', () => upstream.destroy());
    // Bytes a latency or bandwidth toxic still holds reach the client before the upstream's close does
    // (a TLS connection per tunnel closes right after its last bytes; dropping them lost the reply).
    let afterQueued = (then: () => void) => then();
    upstream.once('close', () => this.toxic.type === 'slow_close' ? this.later(this.toxic.delayMs ?? 0, () => client.destroy()) : afterQueued(() => client.destroy()));
    const t = this.toxic;
    if (!toxicApplies(t, this.random)) {
      client.pipe(upstream);
      upstream.pipe(client);
      return;
    }
    switch (t.type) {
      case 'timeout':
        // Nothing passes either way; the caller's own timeouts (connectTimeout, route timeout) decide.
        client.on('data', () => undefined);
        upstream.on('data', () => undefined);
        if ((t.timeoutMs ?? 0) > 0) this.later(t.timeoutMs!, kill);
        return;
      case 'reset_peer':
        client.pipe(upstream);
        upstream.pipe(client);
        this.later(t.timeoutMs ?? 0, () => { client.resetAndDestroy(); upstream.destroy(); });
        return;
      case 'slow_close':
        client.pipe(upstream);
        upstream.pipe(client, { end: false });
        upstream.once('end', () => this.later(t.delayMs ?? 0, () => client.end()));
        return;
      case 'latency':
      case 'bandwidth': {
        client.pipe(upstream);
        let at = 0;
        // Chunks leave in arrival order: one queue per connection, released by due time. A timer per chunk
        // could fire out of order when two fall due in the same millisecond, and reordered bytes break TLS.
        const queue: { at: number; chunk: Buffer | null | (() => void) }[] = [];
        const release = () => {
          const now = Date.now();
          while (queue.length > 0 && queue[0].at <= now) {
            const { chunk } = queue.shift()!;
            if (typeof chunk === 'function') chunk();
            else if (client.destroyed) continue;
            else if (chunk === null) client.end();
            else client.write(chunk);
          }
          if (queue.length > 0) this.later(queue[0].at - now, release);
        };
        const enqueue = (due: number, chunk: Buffer | null | (() => void)) => {
          queue.push({ at: due, chunk });
          if (queue.length === 1) this.later(Math.max(0, due - Date.now()), release);
        };
        afterQueued = (then) => (queue.length === 0 ? then() : enqueue(Math.max(at, Date.now()), then));
        upstream.on('data', (chunk: Buffer) => {
          const extra = t.type === 'latency' ? latencyFor(t, this.random) : bandwidthMs(t, chunk.length);
          const now = Date.now();
          // Bandwidth accumulates from the previous chunk's slot; latency shifts each chunk.
          at = t.type === 'bandwidth' ? Math.max(at, now) + extra : scheduleChunk(at, now, extra);
          enqueue(at, chunk);
        });
        upstream.once('end', () => enqueue(Math.max(at, Date.now()), null));
      }
    }
  }

  close(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.server.close();
    for (const s of this.sockets) s.destroy();
  }
}
