/**
 * What `devmesh up` does for Gateway API Gateways beyond the snapshot: a
 * local port for every Gateway port (the port itself from 1024 up, so
 * `http://127.0.0.1:8080` is what the Gateway says; a free one below, since
 * binding 80 or 443 needs privileges), kept across reloads; and the
 * certificate each HTTPS listener serves — the PEM of the TLS Secret its
 * certificateRefs names, or one devmesh mints from its CA for the listener's
 * hostname (localhost and 127.0.0.1 when it has none).
 */
import { servedGatewayPorts, type GatewayStatus } from '../policy/gateway-api/status';
import type { TlsSecret } from '../policy/gateway-api/secrets';
import type { Certificates, GatewayListenerInfo, ListenerCertificate } from '../protocol';
import type { SessionGatewayListener } from './api/contract';
import type { MeshCa } from './ca';
import type { GatewayApiView } from './load';
import { fillPorts, isPortFree } from './ports';
import type { PortAssignment } from './snapshot';

const PRIVILEGED = 1024;

/**
 * `namespace/name:port` -> local port, for every Gateway port; existing ones
 * stay where they are. A port from 1024 up that the mesh or another process
 * holds is mapped too (the banner says why).
 */
export async function gatewayPorts(ports: readonly { gateway: string; port: number }[], current: Record<string, number>, taken: ReadonlySet<number>, free: (port: number) => Promise<boolean> = isPortFree): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const needed: ((p: number) => void)[] = [];
  for (const p of ports) {
    const key = `${p.gateway}:${p.port}`;
    if (current[key] !== undefined) out[key] = current[key];
    else if (p.port >= PRIVILEGED && !taken.has(p.port) && !Object.values(out).includes(p.port) && await free(p.port)) out[key] = p.port;
    else needed.push((local) => { out[key] = local; });
  }
  await fillPorts(needed, new Set([...taken, ...Object.values(out)]));
  return out;
}

/** The Gateway ports a set of Gateway statuses serves. */
export function servedPorts(gateways: readonly GatewayStatus[]): { gateway: string; port: number }[] {
  return servedGatewayPorts(gateways).map(({ gateway, port }) => ({ gateway, port }));
}

/**
 * The certificates of every HTTPS Gateway port, per listener hostname. A
 * minted certificate is kept per (port, hostname) until the CA's lifetime
 * runs out, so a reload does not change what clients see.
 */
export class ListenerCertificates {
  private readonly minted = new Map<string, Certificates>();

  constructor(private readonly ca: () => MeshCa, private readonly now: () => number = Date.now) {}

  forGateways(gateways: readonly GatewayStatus[], secrets: ReadonlyMap<string, TlsSecret>): Record<string, ListenerCertificate[]> {
    const out: Record<string, ListenerCertificate[]> = {};
    for (const p of servedGatewayPorts(gateways)) {
      if (p.protocol !== 'HTTPS') continue;
      const key = `${p.gateway}:${p.port}`;
      out[key] = p.listeners.map((l) => {
        const hostname = l.hostname;
        if (l.certificate) {
          const secret = secrets.get(`${l.certificate.namespace}/${l.certificate.name}`);
          if (secret && !('problem' in secret)) return { ...(hostname ? { hostname } : {}), certPem: secret.certPem, keyPem: secret.keyPem, source: `Secret ${l.certificate.namespace}/${l.certificate.name}` };
        }
        const mint = `${key}|${hostname ?? ''}`;
        let certs = this.minted.get(mint);
        if (!certs || certs.notAfter - this.now() < 60_000) {
          certs = this.ca().issueServer(hostname ? { dns: [hostname] } : { dns: ['localhost'], ips: ['127.0.0.1'] });
          this.minted.set(mint, certs);
        }
        return { ...(hostname ? { hostname } : {}), certPem: certs.certPem, keyPem: certs.keyPem, source: `minted by devmesh for ${hostname ?? 'localhost, 127.0.0.1'}` };
      });
    }
    // Drop what no listener asks for any more.
    for (const k of this.minted.keys()) if (!(k.slice(0, k.indexOf('|')) in out)) this.minted.delete(k);
    return out;
  }
}

/**
 * What `up` keeps for the ingress's Gateway listeners between configs: the
 * certificates it serves on them. Changed certificates go to the ingress
 * before the config that opens their port, so a new HTTPS port never serves
 * without one.
 */
export class GatewayIngress {
  private readonly listenerCerts: ListenerCertificates;
  /** `namespace/name:port` -> the certificates served there. */
  certs: Record<string, ListenerCertificate[]> = {};

  constructor(ca: () => MeshCa, private readonly pushToIngress: () => void) {
    this.listenerCerts = new ListenerCertificates(ca);
  }

  /** The certificates the workspace's Gateways need; when they changed, the ingress gets them at once. */
  update(g: GatewayApiView): void {
    const next = this.listenerCerts.forGateways(g.gateways, g.secrets);
    if (JSON.stringify(next) === JSON.stringify(this.certs)) return;
    this.certs = next;
    this.pushToIngress();
  }

  /** The ingress's certificates carry its listeners'. */
  withListeners(certs: Certificates): Certificates {
    return { ...certs, listeners: this.certs };
  }
}

/** Every port the mesh holds or the Mesh pins, which a Gateway port must not take. */
export function heldPorts(claimed: readonly number[], ports: PortAssignment): Set<number> {
  return new Set([...claimed, ports.ingress.port, ports.ingress.adminPort,
    ...Object.values(ports.workloads).flatMap((w) => [w.inboundPort, w.outboundPort, w.adminPort])]);
}

/** Where each Gateway port listens, for the session file. */
export function sessionListeners(listeners: readonly GatewayListenerInfo[]): { gatewayListeners?: SessionGatewayListener[] } {
  return listeners.length ? { gatewayListeners: listeners.map((l) => ({ gateway: l.gateway, port: l.port, protocol: l.protocol, url: listenerUrl(l) })) } : {};
}

export function listenerUrl(l: GatewayListenerInfo): string {
  return `${l.protocol === 'HTTPS' ? 'https' : 'http'}://127.0.0.1:${l.localPort}`;
}

/** One line per Gateway port for `up`'s banner: where to send requests, and with which certificate. */
export function describeGatewayListeners(listeners: readonly GatewayListenerInfo[], certs: Record<string, ListenerCertificate[]>): string[] {
  return listeners.map((l) => {
    const mapped = l.localPort === l.port ? '' : ` (port ${l.port} of the Gateway, mapped: ${l.port < PRIVILEGED ? `${l.port} needs privileges` : `${l.port} was in use`})`;
    const sources = (certs[`${l.gateway}:${l.port}`] ?? []).map((c) => c.source);
    const minted = sources.some((s) => s.startsWith('minted')) ? ' (trust .devmesh/ca.pem)' : '';
    const tls = l.protocol === 'HTTPS' ? `; TLS: ${sources.join(', ') || 'no certificate'}${minted}` : '';
    return `Gateway ${l.gateway}: ${listenerUrl(l)}${mapped}${tls}`;
  });
}
