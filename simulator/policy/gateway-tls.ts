/**
 * Which Gateway servers pass TLS through (Istio's "Ingress gateway without
 * TLS termination"): protocol TLS with `tls.mode` PASSTHROUGH (the mode's
 * default), or HTTPS with `tls.mode: PASSTHROUGH` written out. The ingress
 * binds such a server's port and routes each connection by the ClientHello's
 * server name through the tls[] rules of the VirtualServices bound to the
 * Gateway; the client's TLS reaches the destination untouched. Pure.
 */
import { selectsEgressGateway } from './egress-gateway';
import type { GatewayServer, Resource } from './model';
import { byCreation } from './gateway-api/age';
import { droppedGatewayServers } from './gateway-merge';

export function tlsModeOf(server: Pick<GatewayServer, 'tls'>): string | undefined {
  const tls = server.tls;
  return tls && typeof tls === 'object' && typeof (tls as { mode?: unknown }).mode === 'string' ? (tls as { mode: string }).mode : undefined;
}

export function isTlsPassthrough(server: Pick<GatewayServer, 'port' | 'tls'>): boolean {
  const protocol = String(server.port?.protocol ?? '').toUpperCase();
  const mode = tlsModeOf(server);
  if (protocol === 'TLS') return (mode ?? 'PASSTHROUGH') === 'PASSTHROUGH';
  // An HTTPS server's `tls` without a mode is PASSTHROUGH, the enum's zero value (pkg/config/gateway IsPassThroughServer): no HTTP routes apply there.
  return protocol === 'HTTPS' && !!server.tls && typeof server.tls === 'object' && (mode ?? 'PASSTHROUGH') === 'PASSTHROUGH';
}

/**
 * The modes in which the ingress terminates an HTTPS server's TLS (Istio's
 * "Secure Gateways"): SIMPLE serves a certificate, MUTUAL also requires a
 * client certificate its CA signed, OPTIONAL_MUTUAL verifies one when the
 * client sends it, ISTIO_MUTUAL requires a mesh workload certificate (the
 * gateway's own identity serves, the mesh CA verifies). A `TLS` server with
 * these modes terminates too, and the decrypted stream is routed by the
 * tcp[] rules of the VirtualServices bound to its Gateway (pilot's
 * createGatewayTCPFilterChainOpts: "TCP with TLS termination and forwarding").
 */
export type TerminatingMode = 'SIMPLE' | 'MUTUAL' | 'OPTIONAL_MUTUAL' | 'ISTIO_MUTUAL';
const TERMINATING: readonly string[] = ['SIMPLE', 'MUTUAL', 'OPTIONAL_MUTUAL', 'ISTIO_MUTUAL'];

/** The terminating mode of an HTTPS server (whose decrypted requests are routed as HTTP). */
export function terminatingMode(server: Pick<GatewayServer, 'port' | 'tls'>): TerminatingMode | undefined {
  return terminatedProtocol(server) === 'HTTPS' ? tlsModeOf(server) as TerminatingMode : undefined;
}

/** The protocol of a server that terminates TLS: HTTPS (then HTTP routes), TLS (then tcp[] routes), or undefined. */
export function terminatedProtocol(server: Pick<GatewayServer, 'port' | 'tls'>): 'HTTPS' | 'TLS' | undefined {
  const mode = tlsModeOf(server);
  const protocol = String(server.port?.protocol ?? '').toUpperCase();
  return (protocol === 'HTTPS' || protocol === 'TLS') && mode && TERMINATING.includes(mode) ? protocol : undefined;
}

/** `tls.httpsRedirect: true` on a server: every plain HTTP request gets a 301 to https. */
export function redirectsToHttps(server: Pick<GatewayServer, 'tls'>): boolean {
  return !!server.tls && typeof server.tls === 'object' && (server.tls as { httpsRedirect?: unknown }).httpsRedirect === true;
}

/** The Gateway key the ingress's Istio TLS ports are listed under: they belong to the ingress gateway workload, which merges every Gateway's servers per port. */
export const ISTIO_INGRESS_GATEWAY = 'istio-system/istio-ingressgateway';

/** One server that terminates TLS: where it is written and what it asks. */
export interface TerminatedServer {
  /** `namespace/name` of the Gateway and the index in spec.servers. */
  gateway: string;
  index: number;
  hosts: string[];
  mode: TerminatingMode;
  /** HTTPS: the decrypted requests are routed as HTTP; TLS: the decrypted stream by tcp[] rules. */
  protocol: 'HTTPS' | 'TLS';
  tls: ServerTls;
  /** The folder of the Gateway's policy file, where relative certificate paths start. */
  dir?: string;
}

/** The fields of ServerTLSSettings the ingress reads. */
export interface ServerTls {
  credentialName?: string;
  serverCertificate?: string;
  privateKey?: string;
  caCertificates?: string;
  caCertCredentialName?: string;
  minProtocolVersion?: string;
  maxProtocolVersion?: string;
  cipherSuites?: string[];
}

/** The ports of the servers that terminate TLS, each with its servers in the Gateways' order (ingressTerminatedPorts: oldest first). */
export interface TerminatedPort {
  port: number;
  /** TLS when every server of the port is protocol TLS (a TCP listener that terminates), else HTTPS. */
  protocol: 'HTTPS' | 'TLS';
  servers: TerminatedServer[];
  /** Whether a client certificate is asked for: `required` when every server needs one, `optional` when some do or may. */
  clientCert?: 'required' | 'optional';
}

export function terminatedPorts(gateways: readonly { key: string; spec: { servers?: GatewayServer[] }; dir?: string }[]): TerminatedPort[] {
  const byPort = new Map<number, TerminatedServer[]>();
  // A server naming a host an earlier server with tls took on its port is skipped whole, as pilot's mergeGateways does.
  const dropped = droppedGatewayServers(gateways);
  for (const gw of gateways) {
    (gw.spec.servers ?? []).forEach((server, index) => {
      if (dropped.has(`${gw.key}#${index}`)) return;
      const protocol = terminatedProtocol(server);
      if (!protocol || typeof server.port?.number !== 'number') return;
      const mode = tlsModeOf(server) as TerminatingMode;
      const hosts = (server.hosts ?? []).map((h) => (h.includes('/') ? h.slice(h.indexOf('/') + 1) : h).toLowerCase());
      const list = byPort.get(server.port.number) ?? [];
      list.push({ gateway: gw.key, index, hosts, mode, protocol, tls: server.tls as ServerTls, ...(gw.dir ? { dir: gw.dir } : {}) });
      byPort.set(server.port.number, list);
    });
  }
  return [...byPort].sort(([a], [b]) => a - b).map(([port, servers]) => {
    const asking = servers.filter((s) => s.mode !== 'SIMPLE');
    const required = servers.every((s) => s.mode === 'MUTUAL' || s.mode === 'ISTIO_MUTUAL');
    return { port, protocol: servers.every((s) => s.protocol === 'TLS') ? 'TLS' as const : 'HTTPS' as const, servers, ...(asking.length ? { clientCert: required ? 'required' as const : 'optional' as const } : {}) };
  });
}

/** The TLS-terminating ports of the Gateways the ingress serves (every Gateway but those selecting the egress gateway). */
export function ingressTerminatedPorts(gateways: readonly Resource<'Gateway'>[], namespace: string, dirOf?: (gw: Resource<'Gateway'>) => string | undefined): TerminatedPort[] {
  // Oldest first, as pilot merges them (initGateways): the first server of a host keeps it.
  const ordered = byCreation(gateways, (gw) => ({ created: gw.metadata.creationTimestamp, name: gw.metadata.name, namespace: gw.metadata.namespace ?? namespace }));
  return terminatedPorts(ordered.filter((gw) => !selectsEgressGateway(gw.spec)).map((gw) => ({ key: `${gw.metadata.namespace ?? namespace}/${gw.metadata.name}`, spec: gw.spec ?? {}, dir: dirOf?.(gw) })));
}
