/**
 * `x-forwarded-client-cert` in Envoy's format, as Istio's inbound sidecar
 * sets it for the app: `By=<own SPIFFE id>;Hash=<sha256 of the peer
 * certificate, hex>;Subject="";URI=<peer SPIFFE id>`. Istio workload
 * certificates have an empty subject, hence `Subject=""`.
 */
import { createHash } from 'node:crypto';
import type { ForwardClientCert } from '../../policy/defaults';

export function formatXfcc(by: string, peer: { spiffeId: string; certHash: string; subject?: string }, details: { subject: boolean; uri: boolean } = { subject: true, uri: true }): string {
  return `By=${by};Hash=${peer.certHash}${details.subject ? `;Subject="${peer.subject ?? ''}"` : ''}${details.uri ? `;URI=${peer.spiffeId}` : ''}`;
}

/**
 * The x-forwarded-client-cert the app gets, as Envoy's connection manager
 * mutates it (forward_client_cert_details): SANITIZE drops it, FORWARD_ONLY
 * and ALWAYS_FORWARD_ONLY leave it, APPEND_FORWARD appends this hop's
 * element, SANITIZE_SET replaces it; on a connection without a verified
 * client certificate every mode but ALWAYS_FORWARD_ONLY drops it.
 */
export function forwardedClientCert(mode: ForwardClientCert, incoming: string | undefined, element: string | undefined): string | undefined {
  if (mode === 'ALWAYS_FORWARD_ONLY') return incoming;
  if (mode === 'SANITIZE' || element === undefined) return undefined;
  if (mode === 'FORWARD_ONLY') return incoming;
  if (mode === 'APPEND_FORWARD' && incoming) return `${incoming},${element}`;
  return element;
}

export function certHash(der: Buffer): string {
  return createHash('sha256').update(der).digest('hex');
}

/** Parses one XFCC element back into its keys (for tests and the app side). */
export function parseXfcc(value: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of value.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) out[part.slice(0, eq)] = part.slice(eq + 1).replace(/^"(.*)"$/, '$1');
  }
  return out;
}

/** A certificate's subject in RFC 2253 form, as Envoy writes it: the last RDN first, comma-separated, commas and the like escaped. */
export function rfc2253(subject: string | undefined): string {
  return (subject ?? '').split('\n').filter(Boolean).reverse().map((rdn) => rdn.replace(/([,+"\\<>;])/g, '\\$1')).join(',');
}

/** The Subject Alternative Names of one type in Node's `subjectaltname` string (`DNS:a, URI:b`). */
export function sans(subjectaltname: string | undefined, type: 'DNS' | 'URI'): string[] {
  return (subjectaltname ?? '').split(', ').filter((s) => s.startsWith(`${type}:`)).map((s) => s.slice(type.length + 1));
}

/**
 * The x-forwarded-client-cert an Istio gateway sets for a client that
 * presented a verified certificate: Istio builds every gateway listener
 * with forward_client_cert_details SANITIZE_SET and
 * set_current_client_cert_details { subject, cert, dns, uri }
 * (pilot buildGatewayConnectionManager, unless the gateway's proxy config
 * gatewayTopology says otherwise). Envoy writes By (each URI SAN of the
 * gateway's own certificate), Hash, then Subject, URI, Cert (the
 * URL-encoded PEM) and DNS, in that order.
 */
export function gatewayXfcc(peer: { raw: Buffer; subject: string | undefined; subjectaltname?: string }, local: { subjectaltname?: string } | undefined): string {
  const pem = `-----BEGIN CERTIFICATE-----\n${peer.raw.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`;
  return [
    ...sans(local?.subjectaltname, 'URI').map((u) => `By=${u}`),
    `Hash=${certHash(peer.raw)}`,
    `Subject="${rfc2253(peer.subject)}"`,
    ...sans(peer.subjectaltname, 'URI').map((u) => `URI=${u}`),
    `Cert="${encodeURIComponent(pem)}"`,
    ...sans(peer.subjectaltname, 'DNS').map((d) => `DNS=${d}`),
  ].join(';');
}
