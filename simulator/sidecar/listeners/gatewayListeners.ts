/**
 * The ingress's Gateway API listener ports: one local server per port of
 * each Gateway devmesh runs (snapshot `ingress.listeners`), HTTP or HTTPS,
 * and one per Istio Gateway server port that terminates TLS.
 * A new snapshot opens the ports that appeared and closes the ones that
 * went away; the rest keep their connections. A port that cannot be bound
 * is reported and the others serve on.
 */
import type * as net from 'node:net';
import type { Certificates, GatewayListenerInfo } from '../../protocol';
import { gatewayPortKey } from '../routing/gatewayApi/attach';
import { createGatewayServer, type GatewayServer, type TlsListenerOptions } from './gatewayServer';
import type { ListenerDeps } from './outbound';

interface Open {
  info: GatewayListenerInfo;
  port: GatewayServer;
}

export class GatewayListeners {
  private readonly open = new Map<string, Open>();
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly deps: ListenerDeps,
    private readonly certs: () => Certificates,
    private readonly log: (level: 'warn' | 'error', message: string) => void,
    /** An Istio server port that may also have TLS servers (passthrough, or terminated for tcp[]): its split by server name. */
    private readonly split?: (info: GatewayListenerInfo) => TlsListenerOptions['split'],
  ) {}

  /** Serves exactly these listeners (serialised: snapshots apply in order). */
  reconcile(listeners: readonly GatewayListenerInfo[]): Promise<void> {
    this.chain = this.chain.then(() => this.apply(listeners));
    return this.chain;
  }

  /** Local port of each served Gateway port, by `namespace/name:port`. */
  ports(): Record<string, number> {
    return Object.fromEntries([...this.open].map(([key, o]) => [key, (o.port.server.address() as net.AddressInfo | null)?.port ?? o.info.localPort]));
  }

  /** New certificates (a rotation, a changed Secret): the default one for clients without SNI follows; SNI picks per handshake. */
  refresh(): void {
    for (const o of this.open.values()) o.port.refreshCertificate();
  }

  /** Stops accepting on every port and lets their connections finish; resolves when every port is closed. */
  drain(): Promise<void> {
    return Promise.all([...this.open.values()].map((o) => new Promise<void>((r) => { o.port.server.once('close', () => r()); o.port.close(); }))).then(() => undefined);
  }

  private async apply(listeners: readonly GatewayListenerInfo[]): Promise<void> {
    const wanted = new Map(listeners.map((l) => [gatewayPortKey(l.gateway, l.port), l]));
    for (const [key, o] of this.open) {
      const w = wanted.get(key);
      if (w && w.localPort === o.info.localPort && w.protocol === o.info.protocol && w.clientCert === o.info.clientCert) continue;
      this.open.delete(key);
      o.port.close();
    }
    await Promise.all([...wanted].filter(([key]) => !this.open.has(key)).map(async ([key, info]) => {
      const scheme = info.protocol === 'HTTPS' ? 'https' : 'http';
      const ref = { gateway: info.gateway, port: info.port, scheme, ...(info.istio ? { istio: true } : {}) } as const;
      const port = createGatewayServer(this.deps, ref, () => this.certs().listeners?.[key] ?? [], { clientCert: info.clientCert, log: (m) => this.log('warn', m), split: info.istio ? this.split?.(info) : undefined });
      const server = port.server;
      try {
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(info.localPort, '127.0.0.1', () => { server.off('error', reject); resolve(); });
        });
        this.open.set(key, { info, port });
      } catch (err) {
        this.log('error', `Gateway ${info.gateway} port ${info.port}: cannot listen on 127.0.0.1:${info.localPort}: ${(err as Error).message}`);
      }
    }));
  }

  close(): void {
    for (const o of this.open.values()) { o.port.server.close(); o.port.destroy(); }
    this.open.clear();
  }
}
