/**
 * What `devmesh up` does for Gateway API Gateways beyond the snapshot: a
 * local port for every Gateway port (the port itself from 1024 up, so
 * `http://127.0.0.1:8080` is what the Gateway says; a free one below, since
 * binding 80 or 443 needs privileges), kept across reloads; and the
 * certificate each HTTPS listener serves — the PEM of the TLS Secret its
 * certificateRefs names, or one devmesh mints from its CA for the listener's
 * hostname (localhost and 127.0.0.1 when it has none). Istio Gateway
 * servers that terminate TLS (HTTPS with SIMPLE, MUTUAL, OPTIONAL_MUTUAL or
 * ISTIO_MUTUAL) get a port of their own the same way, one per server port,
 * with the certificate of their credentialName Secret or files.
 */
import { readFileSync } from 'node:fs';
import { watch, type FSWatcher } from 'chokidar';
import * as path from 'node:path';
import { createSecureContext } from 'node:tls';
import { gatewayStatuses, servedGatewayPorts, type GatewayStatus } from '../policy/gateway-api/status';
import { ISTIO_INGRESS_GATEWAY, type TerminatedPort, type TerminatedServer } from '../policy/gateway-tls';
import { caCertOf, type TlsSecret } from '../policy/gateway-api/secrets';
import type { Certificates, ClientCredential, GatewayListenerInfo, ListenerCertificate, MeshSnapshot } from '../protocol';
import type { DestinationRuleSpec } from '../policy/model';
import { originationCredentials } from './origination-credentials';
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

/** The Gateway ports the ingress serves: every served Gateway API port, and every Istio Gateway server port that terminates TLS. */
export function servedPorts(g: Pick<GatewayApiView, 'gateways' | 'istio'>): { gateway: string; port: number }[] {
  return [...servedGatewayPorts(g.gateways).map(({ gateway, port }) => ({ gateway, port })), ...g.istio.map((p) => ({ gateway: ISTIO_INGRESS_GATEWAY, port: p.port }))];
}

/**
 * The certificates of every HTTPS Gateway port, per listener hostname. A
 * minted certificate is kept per (port, hostname) until the CA's lifetime
 * runs out, so a reload does not change what clients see.
 */
export class ListenerCertificates {
  private readonly minted = new Map<string, Certificates>();
  /** The last certificate (or CA) each set of serverCertificate/privateKey (caCertificates) files held that parsed: an invalid rewrite keeps it serving. */
  private readonly kept = new Map<string, object>();

  constructor(private readonly ca: () => MeshCa, private readonly now: () => number = Date.now) {}

  forGateways(gateways: readonly GatewayStatus[], secrets: ReadonlyMap<string, TlsSecret>): Record<string, ListenerCertificate[]> {
    const out: Record<string, ListenerCertificate[]> = {};
    for (const p of servedGatewayPorts(gateways)) {
      if (p.protocol !== 'HTTPS') continue;
      const key = `${p.gateway}:${p.port}`;
      out[key] = p.listeners.map((l) => this.listenerCertificate(l, key, secrets));
    }
    // A TLS Terminate listener is an Istio Gateway TLS server of the ingress (routing/gatewayApi/l4.ts): its certificate goes with theirs, by port.
    for (const gw of gateways) {
      for (const l of gw.listeners) {
        if (!l.served || l.protocol !== 'TLS' || l.tlsMode !== 'Terminate') continue;
        const key = `${ISTIO_INGRESS_GATEWAY}:${l.port}`;
        (out[key] ??= []).push({ ...this.listenerCertificate(l, key, secrets), mode: 'SIMPLE' });
      }
    }
    return out;
  }

  /** The certificate of an HTTPS or TLS Terminate listener: its Secret's, or one minted for its hostname. */
  private listenerCertificate(l: GatewayStatus['listeners'][number], key: string, secrets: ReadonlyMap<string, TlsSecret>): ListenerCertificate {
    const hostname = l.hostname;
    if (l.certificate) {
      const secret = secrets.get(`${l.certificate.namespace}/${l.certificate.name}`);
      if (secret && !('problem' in secret)) return { ...(hostname ? { hostname } : {}), certPem: secret.certPem, keyPem: secret.keyPem, source: `Secret ${l.certificate.namespace}/${l.certificate.name}` };
    }
    // One per listener hostname: listeners sharing the port each serve their own name (SNI picks), and sweep keeps it by its port.
    const certs = this.mint(`${key}|${hostname ?? '*'}`, hostname ? [hostname] : []);
    return { ...(hostname ? { hostname } : {}), certPem: certs.certPem, keyPem: certs.keyPem, source: `minted by devmesh for ${hostname ?? 'localhost, 127.0.0.1'}` };
  }

  /**
   * The certificates of every Istio Gateway server port that terminates TLS,
   * one per server host (SNI picks among them, as Envoy's filter chain
   * match on server_names does), with what is wrong with a credential the
   * server names: it then serves one minted for its hosts.
   */
  forIstio(ports: readonly TerminatedPort[], secrets: ReadonlyMap<string, TlsSecret>, read: (file: string) => string = (f) => readFileSync(f, 'utf8')): { certs: Record<string, ListenerCertificate[]>; problems: string[] } {
    const certs: Record<string, ListenerCertificate[]> = {};
    const problems: string[] = [];
    for (const p of ports) {
      const key = `${ISTIO_INGRESS_GATEWAY}:${p.port}`;
      certs[key] = p.servers.flatMap((server) => {
        const where = `Gateway ${server.gateway} spec.servers[${server.index}] (port ${p.port}, ${server.mode})`;
        const chosen = serverCredential(server, secrets, read, (m) => problems.push(`${where}: ${m}`), this.kept) ?? (() => {
          const dns = server.hosts.filter((h) => h !== '*');
          const minted = this.mint(`${key}|${server.gateway}|${server.index}`, dns);
          return { certPem: minted.certPem, keyPem: minted.keyPem, source: `minted by devmesh for ${dns.join(', ') || 'localhost, 127.0.0.1'}` };
        })();
        let ca: { clientCaPem?: string; clientCaSource?: string; clientCaMissing?: string } = {};
        if (server.mode === 'ISTIO_MUTUAL') ca = { clientCaPem: this.ca().trustBundlePem, clientCaSource: 'the mesh CA (ISTIO_MUTUAL)' };
        else if (server.mode !== 'SIMPLE') {
          ca = clientCa(server, secrets, read, this.kept);
          if ('clientCaMissing' in ca) {
            problems.push(`${where}: ${ca.clientCaMissing}; every connection to this server is refused until one resolves`);
            ca = { ...ca, clientCaSource: 'no CA (every connection refused)' };
          }
        }
        const settings = { mode: server.mode, ...ca, ...tlsParameters(server) };
        // A `*` host (or none) is the port's catch-all chain; any other host is matched by SNI.
        const hosts = server.hosts.length === 0 || server.hosts.includes('*') ? [undefined] : server.hosts;
        return hosts.map((hostname) => ({ ...(hostname ? { hostname } : {}), ...chosen, ...settings }));
      });
    }
    return { certs, problems };
  }

  /** A certificate devmesh's CA issues for these names (localhost and 127.0.0.1 with none), kept until it nears its end. */
  private mint(key: string, dns: string[]): Certificates {
    let certs = this.minted.get(key);
    if (!certs || certs.notAfter - this.now() < 60_000) {
      certs = this.ca().issueServer(dns.length ? { dns } : { dns: ['localhost'], ips: ['127.0.0.1'] });
      this.minted.set(key, certs);
    }
    return certs;
  }

  /** Drops the minted certificates no port in `keep` asks for any more. */
  sweep(keep: Record<string, unknown>): void {
    for (const k of this.minted.keys()) if (!(k.slice(0, k.indexOf('|')) in keep)) this.minted.delete(k);
  }
}

/** Istio's secret namespaces for a credentialName: the ingress gateway's own (istio-system), then the Gateway's. */
function credentialKeys(name: string, gateway: string): string[] {
  if (name.includes('/')) return [name];
  return [...new Set([`${ISTIO_INGRESS_GATEWAY.split('/')[0]}/${name}`, `${gateway.split('/')[0]}/${name}`])];
}

type ServerCredential = Pick<ListenerCertificate, 'certPem' | 'keyPem' | 'source' | 'warming'>;

/**
 * A credential whose SDS secret never arrives: istiod finds no Secret (or
 * one it cannot use) and sends nothing, istio-agent cannot read the files;
 * Envoy's filter chain then has no certificate and closes every connection
 * it matches (the listener's other chains serve once its initial fetch
 * times out).
 */
function warmingCredential(sds: string, why: string): ServerCredential {
  return { certPem: '', keyPem: '', source: `${sds} (not found: no handshake)`, warming: { sds, why } };
}

/**
 * The server certificate a server names: its credentialName Secret, or its
 * serverCertificate and privateKey files; a credential that does not
 * resolve is warming (that server refuses handshakes). Undefined when it
 * names none (ISTIO_MUTUAL, or Istio's validation error), or names a Secret
 * in a workspace that keeps none: the mesh CA mints.
 */
function serverCredential(server: TerminatedServer, secrets: ReadonlyMap<string, TlsSecret>, read: (file: string) => string, problem: (m: string) => void, kept: Map<string, object>): ServerCredential | undefined {
  const tls = server.tls ?? {};
  if (server.mode === 'ISTIO_MUTUAL') return undefined;
  if (tls.credentialName) {
    const keys = credentialKeys(tls.credentialName, server.gateway);
    const key = keys.find((k) => secrets.has(k));
    const secret = key ? secrets.get(key)! : undefined;
    if (secret && !('problem' in secret)) return { certPem: secret.certPem, keyPem: secret.keyPem, source: `Secret ${key}` };
    if (secrets.size === 0) {
      // No Secret in the workspace at all: the cluster's are kept elsewhere (cert-manager, a vault), as the
      // analyzer assumes too (unknown-credential is checked only beside Secrets). A local stand-in lets the
      // routes behind this server be tried; once the workspace models Secrets, a missing one refuses handshakes.
      problem(`credentialName "${tls.credentialName}": the workspace holds no Secrets, so devmesh serves a certificate its CA mints for ${server.hosts.join(', ')} (trust .devmesh/ca.pem) — on a cluster this server completes no TLS handshake until the Secret exists; add a kubernetes.io/tls Secret document to serve your own certificate here`);
      return undefined;
    }
    const why = secret
      ? `Secret ${key} cannot serve TLS (${(secret as { problem: string }).problem}); istiod sends no certificate for it, so this server completes no TLS handshake (the port's other servers serve) until it is fixed`
      : `credentialName "${tls.credentialName}" names no Secret in the workspace (looked for ${keys.join(', ')}; IST0101); its SDS secret never arrives, so this server completes no TLS handshake (the port's other servers serve) — add a kubernetes.io/tls Secret with tls.crt and tls.key`;
    problem(why);
    return warmingCredential(`kubernetes://${tls.credentialName}`, why);
  }
  if (tls.serverCertificate && tls.privateKey) {
    const files = [path.resolve(server.dir ?? '.', tls.serverCertificate), path.resolve(server.dir ?? '.', tls.privateKey)];
    const key = `files|${files.join('|')}`;
    try {
      const [certPem, keyPem] = files.map(read);
      createSecureContext({ cert: certPem, key: keyPem });
      const good = { certPem, keyPem, source: `files ${tls.serverCertificate}, ${tls.privateKey}` };
      kept.set(key, good);
      return good;
    } catch (err) {
      // A rotation caught half-written, or a bad pair: Envoy keeps the certificate it has (SDS rejects the update), so does the ingress.
      const before = kept.get(key) as ServerCredential | undefined;
      const why = `serverCertificate ${tls.serverCertificate} / privateKey ${tls.privateKey}: ${(err as Error).message}; ${before ? 'still serving the certificate read from them before' : 'istio-agent has no certificate to send, so this server completes no TLS handshake'} until they hold a matching certificate and key`;
      problem(why);
      return before ?? warmingCredential(`file-cert:${tls.serverCertificate}~${tls.privateKey}`, why);
    }
  }
  problem(`names no certificate (credentialName, or serverCertificate and privateKey); serving one minted by devmesh for ${server.hosts.join(', ')} (trust .devmesh/ca.pem)`);
  return undefined;
}

/**
 * The CA a MUTUAL server verifies client certificates with, as istiod serves
 * it: the SDS resource `caCertCredentialName`, else `<credentialName>-cacert`,
 * resolved by GetCaCert (caCertOf); or the caCertificates file. None: why,
 * and the chain refuses every connection (istiod sends no validation
 * context, Envoy's chain never completes a handshake).
 */
function clientCa(server: TerminatedServer, secrets: ReadonlyMap<string, TlsSecret>, read: (file: string) => string, kept: Map<string, object>): { clientCaPem: string; clientCaSource: string } | { clientCaMissing: string } {
  const tls = server.tls ?? {};
  const missing = (why: string) => ({ clientCaMissing: `${server.mode} has no CA to verify client certificates: ${why}` });
  const resource = tls.caCertCredentialName ?? (tls.credentialName ? `${tls.credentialName}-cacert` : undefined);
  if (resource) {
    // SDS reads a name without the -cacert suffix as a certificate and key (GetCertInfo), never as a CA.
    if (!resource.endsWith('-cacert')) return missing(`caCertCredentialName "${resource}" does not end in "-cacert", so istiod serves kubernetes://${resource} as a certificate and key, not a CA (istiod: only a -cacert resource is read with GetCaCert); name the CA Secret "${resource}-cacert"`);
    const ca = caCertOf(secrets, credentialKeys(resource, server.gateway));
    if ('caPem' in ca) return { clientCaPem: ca.caPem, clientCaSource: ca.source };
    return missing(`${ca.problem} (istiod: failed to fetch ca certificate for kubernetes://${resource})`);
  }
  if (tls.caCertificates) {
    const file = path.resolve(server.dir ?? '.', tls.caCertificates);
    try {
      const pem = read(file);
      createSecureContext({ ca: pem });
      const good = { clientCaPem: pem, clientCaSource: `file ${tls.caCertificates}` };
      kept.set(`ca|${file}`, good);
      return good;
    } catch (err) {
      const before = kept.get(`ca|${file}`) as { clientCaPem: string; clientCaSource: string } | undefined;
      // A rotation caught half-written: Envoy keeps the CA it has.
      return before ?? missing(`caCertificates ${tls.caCertificates}: ${(err as Error).message}`);
    }
  }
  return missing('set tls.caCertificates (Istio rejects this Gateway: MUTUAL TLS requires a client CA bundle)');
}

const NODE_TLS_VERSIONS: Record<string, ListenerCertificate['minVersion']> = { TLSV1_0: 'TLSv1', TLSV1_1: 'TLSv1.1', TLSV1_2: 'TLSv1.2', TLSV1_3: 'TLSv1.3' };

/** minProtocolVersion, maxProtocolVersion and cipherSuites as Node's TLS takes them (TLS_AUTO: Node's defaults, TLS 1.2 to 1.3 as Envoy's). */
function tlsParameters(server: TerminatedServer): Pick<ListenerCertificate, 'minVersion' | 'maxVersion' | 'ciphers'> {
  const tls = server.tls ?? {};
  const min = NODE_TLS_VERSIONS[tls.minProtocolVersion ?? ''];
  const max = NODE_TLS_VERSIONS[tls.maxProtocolVersion ?? ''];
  const ciphers = Array.isArray(tls.cipherSuites) && tls.cipherSuites.length ? tls.cipherSuites.join(':') : undefined;
  return { ...(min ? { minVersion: min } : {}), ...(max ? { maxVersion: max } : {}), ...(ciphers ? { ciphers } : {}) };
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

  /** What is wrong with the credentials Istio Gateway servers name, as last said. */
  private problems = new Set<string>();

  constructor(ca: () => MeshCa, private readonly pushToIngress: () => void, private readonly warn: (message: string) => void = () => undefined) {
    this.listenerCerts = new ListenerCertificates(ca);
  }

  /** What the last update was given, for the certificate files' watcher to redo it. */
  private view?: GatewayApiView;
  private watcher?: FSWatcher;
  private watched = new Set<string>();
  private redo?: NodeJS.Timeout;

  /**
   * The certificates the workspace's Gateways need, and the Secrets its
   * DestinationRules' credentialNames name for the gateways' TLS
   * origination; when they changed, the gateways get them at once. A
   * credential problem is said once, when it appears.
   */
  update(g: GatewayApiView, destinationRules: readonly { spec: DestinationRuleSpec }[] = this.destinationRules): void {
    this.view = g;
    this.destinationRules = destinationRules;
    this.watchFiles(certificateFiles(g.istio));
    const istio = this.listenerCerts.forIstio(g.istio, g.secrets);
    const next = { ...this.listenerCerts.forGateways(g.gateways, g.secrets) };
    // A port with Istio Gateway TLS servers and Gateway API TLS Terminate listeners serves the chains of both (SNI picks).
    for (const [key, chains] of Object.entries(istio.certs)) next[key] = [...chains, ...(next[key] ?? [])];
    this.listenerCerts.sweep(next);
    // Both local gateways run in istio-system, where istiod looks a DestinationRule's credentialName up for them.
    const credentials = originationCredentials(destinationRules, g.secrets, ISTIO_INGRESS_GATEWAY.split('/')[0]);
    // A Gateway API listener whose certificateRefs do not resolve is not served (Istio drops its server): say why, once.
    const unprogrammed = g.gateways.flatMap((gw) => gw.listeners.filter((l) => l.attachable && !l.served).map((l) => `Gateway ${gw.key} listener ${l.name} (port ${l.port}): ${l.conditions.find((c) => c.type === 'ResolvedRefs' && c.status === 'False')?.message ?? 'not programmed'}`));
    const problems = [...istio.problems, ...unprogrammed, ...Object.entries(credentials).flatMap(([name, c]) => c.problems.map((p) => `DestinationRule credentialName "${name}" (TLS origination at the gateways): ${p}; the gateways' calls with it fail until it resolves`))];
    for (const p of problems) if (!this.problems.has(p)) this.warn(`devmesh: ${p}`);
    this.problems = new Set(problems);
    if (JSON.stringify(next) === JSON.stringify(this.certs) && JSON.stringify(credentials) === JSON.stringify(this.credentials)) return;
    this.certs = next;
    this.credentials = credentials;
    this.pushToIngress();
  }

  /** The DestinationRules of the last update (a certificate file's change redoes it with them). */
  private destinationRules: readonly { spec: DestinationRuleSpec }[] = [];
  /** credentialName -> what the gateways originate TLS with. */
  credentials: Record<string, ClientCredential> = {};

  /**
   * Watches the serverCertificate, privateKey and caCertificates files the
   * servers name, as istio-agent watches the files it serves over SDS: a
   * rewritten file is read again and served on the next handshake (an
   * invalid one is said, and the last good certificate serves on).
   */
  private watchFiles(files: string[]): void {
    const wanted = new Set(files);
    if (wanted.size === 0 && !this.watcher) return;
    this.watcher ??= watch([], { ignoreInitial: true }).on('all', () => {
      // A rotation writes the certificate and the key one after the other: read them once both are written.
      clearTimeout(this.redo);
      this.redo = setTimeout(() => { if (this.view) this.update(this.view); }, FILE_SETTLE_MS);
    });
    const added = [...wanted].filter((f) => !this.watched.has(f));
    const removed = [...this.watched].filter((f) => !wanted.has(f));
    if (added.length) this.watcher.add(added);
    if (removed.length) this.watcher.unwatch(removed);
    this.watched = wanted;
  }

  /** Stops watching certificate files. */
  async close(): Promise<void> {
    clearTimeout(this.redo);
    await this.watcher?.close();
    this.watcher = undefined;
  }

  /** The ingress's certificates carry its listeners' and the origination credentials. */
  withListeners(certs: Certificates): Certificates {
    return { ...certs, listeners: this.certs, credentials: this.credentials };
  }

  /** The egress gateway's carry the origination credentials. */
  withCredentials(certs: Certificates): Certificates {
    return { ...certs, credentials: this.credentials };
  }
}

/** The DestinationRules among a workspace's resources (their credentialNames are the gateways' to resolve). */
export function destinationRulesOf(resources: readonly { kind: string; spec: unknown }[]): { spec: DestinationRuleSpec }[] {
  return resources.filter((r) => r.kind === 'DestinationRule') as { spec: DestinationRuleSpec }[];
}

/** How long after a certificate file changes it is read again (a rotation writes certificate and key apart). */
const FILE_SETTLE_MS = 100;

/** The certificate files Istio Gateway servers name (serverCertificate, privateKey; caCertificates where no credentialName gives the CA), absolute. */
export function certificateFiles(ports: readonly TerminatedPort[]): string[] {
  const files = ports.flatMap((p) => p.servers.flatMap((server) => {
    const tls = server.tls ?? {};
    if (server.mode === 'ISTIO_MUTUAL') return [];
    const named = tls.credentialName ? [] : [tls.serverCertificate, tls.privateKey, tls.caCertificates];
    return named.filter((f): f is string => typeof f === 'string' && f !== '').map((f) => path.resolve(server.dir ?? '.', f));
  }));
  return [...new Set(files)].sort();
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
    const chains = certs[`${l.gateway}:${l.port}`] ?? [];
    const sources = [...new Set(chains.map((c) => c.source))];
    const minted = sources.some((s) => s.startsWith('minted')) ? ' (trust .devmesh/ca.pem)' : '';
    const cas = [...new Set(chains.flatMap((c) => (c.clientCaSource ? [`${c.mode} client certificates of ${c.clientCaSource}`] : [])))];
    const tls = l.protocol === 'HTTPS' ? `; TLS: ${sources.join(', ') || 'no certificate'}${minted}${cas.length ? `; ${cas.join(', ')}` : ''}` : '';
    // An Istio server port belongs to the ingress gateway, which serves every Gateway's servers of that port.
    return `Gateway ${l.istio ? `${l.istio.join(', ')} (Istio server port ${l.port})` : l.gateway}: ${listenerUrl(l)}${mapped}${tls}`;
  });
}

/**
 * The Gateway API TLS (Passthrough) and TCP listeners the ingress serves:
 * as Istio Gateway TCP servers are, on 127.0.0.1 at the listener's own port
 * (not mapped: a port below 1024 needs privileges, so give such a listener a
 * port from 1024 up).
 */
export function l4GatewayListeners(gateways: readonly GatewayStatus[]): { gateway: string; name: string; port: number; protocol: 'TLS' | 'TCP'; terminate?: true; url: string }[] {
  return gateways.flatMap((gw) => gw.listeners
    .filter((l) => l.served && (l.protocol === 'TLS' || l.protocol === 'TCP'))
    .map((l) => ({ gateway: gw.key, name: l.name, port: l.port, protocol: l.protocol as 'TLS' | 'TCP', ...(l.tlsMode === 'Terminate' ? { terminate: true as const } : {}), url: `${l.protocol === 'TLS' ? 'tls' : 'tcp'}://127.0.0.1:${l.port}` })));
}

/** One line per Gateway API TLS or TCP listener for `up`'s banner. */
export function describeL4GatewayListeners(s: Pick<MeshSnapshot, 'kubernetesGateways'>): string[] {
  const gateways = gatewayStatuses({ services: new Map(), gateways: s.kubernetesGateways ?? [], referenceGrants: [] });
  return l4GatewayListeners(gateways).map((l) => `Gateway ${l.gateway} listener ${l.name}: ${l.url} (${l.protocol === 'TLS' ? (l.terminate ? 'TLS terminated here, the stream routed by TCPRoute' : 'TLS passed through, routed by TLSRoute on the server name') : 'TCP, routed by TCPRoute'}${l.port < PRIVILEGED ? `; port ${l.port} needs privileges: give the listener a port from 1024 up` : ''})`);
}
