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
 * - MUTUAL needs `clientCertificate` and `privateKey`.
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
import type { ClientTLSSettings } from '../../policy/model';

export interface Origination {
  options: tls.ConnectionOptions;
  agent: https.Agent;
}

/** undefined: plain HTTP (no origination asked for); `error`: the settings cannot be used (a file missing, MUTUAL without a key). */
export function tlsOrigination(settings: ClientTLSSettings | undefined, host: string, entrySans: readonly string[] | undefined): Origination | { error: string } | undefined {
  if (settings?.mode !== 'SIMPLE' && settings?.mode !== 'MUTUAL') return undefined;
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
  const servername = settings.sni ?? (net.isIP(host) ? undefined : host);
  const sans = settings.subjectAltNames?.length ? settings.subjectAltNames : entrySans?.length ? entrySans : undefined;
  const options: tls.ConnectionOptions = {
    ...(read.caCertificates ? { ca: read.caCertificates.pem } : {}),
    ...(read.clientCertificate ? { cert: read.clientCertificate.pem, key: read.privateKey!.pem } : {}),
    ...(servername ? { servername } : {}),
    rejectUnauthorized: settings.insecureSkipVerify !== true,
    ...(sans && settings.insecureSkipVerify !== true ? { checkServerIdentity: (_name: string, cert: tls.PeerCertificate) => checkSans(cert, sans) } : {}),
    ALPNProtocols: ['http/1.1'],
  };
  const key = JSON.stringify([settings.mode, files.map(([f, p]) => [p, read[f]?.version]), servername, sans, settings.insecureSkipVerify === true]);
  let agent = agents.get(key);
  if (!agent) {
    if (agents.size > 64) agents.clear();
    agent = new https.Agent({ keepAlive: true, maxFreeSockets: 64, scheduling: 'lifo', ...options });
    agents.set(key, agent);
  }
  return { options, agent };
}

const agents = new Map<string, https.Agent>();

/** The certificate must carry one of the names, as a DNS or URI subject alternative name. */
function checkSans(cert: tls.PeerCertificate, sans: readonly string[]): Error | undefined {
  const names = (cert.subjectaltname ?? '').split(/,\s*/).map((n) => n.replace(/^(DNS|URI|IP Address):/, ''));
  if (sans.some((s) => names.includes(s))) return undefined;
  return new Error(`certificate SANs [${names.join(', ')}] match none of subjectAltNames [${sans.join(', ')}]`);
}
