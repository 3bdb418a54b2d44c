/**
 * TLS origination to a host outside the mesh: a DestinationRule `tls.mode`
 * SIMPLE (verify the server) or MUTUAL (and present a client certificate)
 * turns the app's plain HTTP call into HTTPS, as Istio's "Egress TLS
 * Origination" task does. Following Envoy's upstream TLS context as pilot
 * builds it (pilot/pkg/networking/core/cluster_tls.go):
 *
 * - `caCertificates` (a PEM file) is what the server's chain must lead to;
 *   none: the system's roots (VERIFY_CERTIFICATE_AT_CLIENT);
 * - `sni` is sent as the server name; none: the call's Host (auto SNI);
 * - `subjectAltNames` (else the ServiceEntry's) must contain one of the
 *   certificate's DNS or URI names; none: the server name must match it;
 * - `insecureSkipVerify` skips the checks;
 * - MUTUAL needs `clientCertificate` and `privateKey`;
 * - `credentialName` (at a gateway) takes all three from a Secret instead.
 *
 * Files are absolute `file://` URLs by the time a snapshot carries them
 * (policy/resolve.ts); a plain path is read as given.
 * Each distinct setting gets its own keep-alive agent, so a changed file or
 * setting never reuses a connection made under the old one.
 */
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { createHash } from 'node:crypto';
import type { ClientTLSSettings } from '../../policy/model';
import type { ClientCredential } from '../../protocol';

export interface Origination {
  options: tls.ConnectionOptions;
  agent: https.Agent;
}

/** Where the origination happens: a gateway reads a DestinationRule's credentialName; a sidecar only when the rule has a workloadSelector. */
export interface OriginationSite {
  gateway: boolean;
  /** The DestinationRule in force has a workloadSelector. */
  selectedRule?: boolean;
  /** The credentials the control plane gave this proxy, by credentialName. */
  credentials?: Readonly<Record<string, ClientCredential>>;
}

/** undefined: plain HTTP (no origination asked for); `error`: the settings cannot be used (a file missing, MUTUAL without a key, a credential that never arrived). */
export function tlsOrigination(settings: ClientTLSSettings | undefined, host: string, entrySans: readonly string[] | undefined, site: OriginationSite = { gateway: false }): Origination | { error: string } | undefined {
  if (settings?.mode !== 'SIMPLE' && settings?.mode !== 'MUTUAL') return undefined;
  const material = settings.credentialName ? fromCredential(settings, site) : fromFiles(settings);
  if (!material || 'error' in material) return material;
  const servername = settings.sni ?? (net.isIP(host) ? undefined : host);
  const sans = settings.subjectAltNames?.length ? settings.subjectAltNames : entrySans?.length ? entrySans : undefined;
  const options: tls.ConnectionOptions = {
    ...(material.ca ? { ca: material.ca } : {}),
    ...(material.cert ? { cert: material.cert, key: material.key } : {}),
    ...(servername ? { servername } : {}),
    rejectUnauthorized: settings.insecureSkipVerify !== true,
    ...(sans && settings.insecureSkipVerify !== true ? { checkServerIdentity: (_name: string, cert: tls.PeerCertificate) => checkSans(cert, sans) } : {}),
    ALPNProtocols: ['http/1.1'],
  };
  const key = JSON.stringify([settings.mode, material.version, servername, sans, settings.insecureSkipVerify === true]);
  let agent = agents.get(key);
  if (!agent) {
    if (agents.size > 64) agents.clear();
    agent = new https.Agent({ keepAlive: true, maxFreeSockets: 64, scheduling: 'lifo', ...options });
    agents.set(key, agent);
  }
  return { options, agent };
}

/** The PEMs a connection uses, and what tells one version of them from the next (a rotated file, an edited Secret). */
interface Material { ca?: string; cert?: string; key?: string; version: unknown }

/** caCertificates, clientCertificate and privateKey, read from their files. */
function fromFiles(settings: ClientTLSSettings): Material | { error: string } {
  const files: Array<[keyof ClientTLSSettings, string | undefined]> = [['caCertificates', settings.caCertificates]];
  if (settings.mode === 'MUTUAL') {
    if (!settings.clientCertificate || !settings.privateKey) return { error: 'tls.mode MUTUAL needs clientCertificate and privateKey' };
    files.push(['clientCertificate', settings.clientCertificate], ['privateKey', settings.privateKey]);
  }
  const read: Partial<Record<string, { pem: string; version: number }>> = {};
  for (const [field, file] of files) {
    if (!file) continue;
    try {
      const at = /^file:/i.test(file) ? new URL(file) : file;
      read[field] = { pem: fs.readFileSync(at, 'utf8'), version: fs.statSync(at).mtimeMs };
    } catch (err) {
      return { error: `cannot read tls.${field} ${file}: ${(err as Error).message}` };
    }
  }
  return { ca: read.caCertificates?.pem, cert: read.clientCertificate?.pem, key: read.privateKey?.pem, version: files.map(([f, p]) => [p, read[f]?.version]) };
}

/**
 * A credentialName's Secret, as pilot builds the upstream TLS context
 * (cluster_tls.go): at a sidecar with a rule without workloadSelector,
 * no TLS context at all (plaintext: istiod keeps the Secret from every
 * sidecar the rule reaches); else the certificate and key of
 * `kubernetes://<name>` (MUTUAL) and the CA of `kubernetes://<name>-cacert`
 * (unless insecureSkipVerify), the rule's files ignored. A secret that never
 * arrives leaves Envoy's cluster without it: every connection fails.
 */
function fromCredential(settings: ClientTLSSettings, site: OriginationSite): Material | { error: string } | undefined {
  if (!site.gateway && !site.selectedRule) return undefined;
  const name = settings.credentialName!;
  const c = site.credentials?.[name];
  if (!c) return { error: `credentialName "${name}" did not reach this proxy (${site.gateway ? 'no Secret of that name' : 'a credentialName at a sidecar is not simulated'})` };
  if (settings.mode === 'MUTUAL' && (!c.certPem || !c.keyPem)) return { error: `credentialName "${name}": ${c.problems.join('; ')}` };
  const verify = settings.insecureSkipVerify !== true;
  if (verify && !c.caPem) return { error: `credentialName "${name}": ${c.problems.filter((p) => p.includes('CA')).join('; ')}` };
  const material = { ...(verify ? { ca: c.caPem } : {}), ...(settings.mode === 'MUTUAL' ? { cert: c.certPem, key: c.keyPem } : {}) };
  return { ...material, version: createHash('sha256').update(JSON.stringify(material)).digest('hex') };
}

const agents = new Map<string, https.Agent>();

/** The certificate must carry one of the names, as a DNS or URI subject alternative name. */
function checkSans(cert: tls.PeerCertificate, sans: readonly string[]): Error | undefined {
  const names = (cert.subjectaltname ?? '').split(/,\s*/).map((n) => n.replace(/^(DNS|URI|IP Address):/, ''));
  if (sans.some((s) => names.includes(s))) return undefined;
  return new Error(`certificate SANs [${names.join(', ')}] match none of subjectAltNames [${sans.join(', ')}]`);
}
