/**
 * The ingress's side of a client's TLS handshake on an Istio Gateway server
 * port that terminates TLS, walked offline with the sidecar's own functions
 * (listeners/tlsChains.ts): the chain the ClientHello's server name picks
 * (pickChain), whether the port asks for a client certificate
 * (clientCertOf), who the chain refuses once the handshake is done
 * (clientRefusal) — over the certificate the client is assumed to present
 * (`--client-cert`), checked against the chain's CA as the handshake would —
 * and, for a verified client, the x-forwarded-client-cert the gateway sets
 * (SANITIZE_SET, security/xfcc.ts gatewayXfcc) and the SPIFFE id
 * AuthorizationPolicy reads as its source principal. Pure but for parsing
 * certificates.
 */
import { X509Certificate } from 'node:crypto';
import { clientCertOf, clientRefusal, pickChain, type ListenerCertificateRef } from '../sidecar/listeners/tlsChains';
import { gatewayXfcc } from '../sidecar/security/xfcc';
import type { ListenerCertificate } from '../protocol';

/** One chain of a port, as the ingress is given it (where its certificate and CA come from too, when known). */
export type GatewayChain = ListenerCertificateRef & Partial<Pick<ListenerCertificate, 'source' | 'clientCaSource'>>;
import { spiffeFromSan } from '../sidecar/security/peerIdentity';

export interface GatewayHandshake {
  /** The server name the ClientHello sends. */
  sni?: string;
  /** The chain it picks: its hostname (none: the port's catch-all), mode and certificate source; absent when none covers the name. */
  chain?: { hostname?: string; mode?: string; source?: string; clientCa?: string };
  /** Whether the port asks for a client certificate (`required`: a client without one fails the handshake itself). */
  clientCert?: 'required' | 'optional';
  /** The client certificate, as the chain's CA judges it. */
  client?: { presented: boolean; verified: boolean; why?: string; principal?: string };
  /** Why the ingress closes the connection (the words its log says), when it does. */
  refused?: string;
  /** The x-forwarded-client-cert the ingress sets on the requests of this connection (a verified client certificate only). */
  xfcc?: string;
}

/** The PEM blocks of a bundle. */
function certificates(pem: string | undefined): X509Certificate[] {
  const blocks = (pem ?? '').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.flatMap((b) => { try { return [new X509Certificate(b)]; } catch { return []; } });
}

/** Node's verdict on a client certificate against a CA bundle, in OpenSSL's words (authorizationError). */
function verify(cert: X509Certificate, caPem: string | undefined, now: number): { authorized: boolean; authorizationError?: string } {
  const issuer = certificates(caPem).find((ca) => cert.checkIssued(ca) && cert.verify(ca.publicKey));
  if (!issuer) return { authorized: false, authorizationError: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' };
  if (now < Date.parse(cert.validFrom)) return { authorized: false, authorizationError: 'CERT_NOT_YET_VALID' };
  if (now > Date.parse(cert.validTo)) return { authorized: false, authorizationError: 'CERT_HAS_EXPIRED' };
  return { authorized: true };
}

/**
 * The handshake of a client on one port: `chains` are the port's
 * certificates as the ingress serves them, `clientPem` the certificate the
 * client presents (none: it presents none).
 */
export function gatewayHandshake(chains: readonly GatewayChain[], sni: string | undefined, clientPem: string | undefined, now = Date.now()): GatewayHandshake {
  const out: GatewayHandshake = { ...(sni ? { sni } : {}) };
  const asked = clientCertOf(chains);
  if (asked) out.clientCert = asked;
  const chain = pickChain(chains, sni) as GatewayChain | undefined;
  if (chain) out.chain = { ...(chain.hostname ? { hostname: chain.hostname } : {}), ...(chain.mode ? { mode: chain.mode } : {}), ...(chain.source ? { source: chain.source } : {}), ...(chain.clientCaSource ? { clientCa: chain.clientCaSource } : {}) };
  let cert: X509Certificate | undefined;
  if (clientPem !== undefined) {
    try { cert = new X509Certificate(clientPem); } catch (e) { throw new Error(`the client certificate is not a PEM certificate: ${(e as Error).message}`); }
  }
  // A client presents its certificate only when the port asks for one.
  const sent = asked !== undefined ? cert : undefined;
  const verdict = sent && chain?.clientCaPem ? verify(sent, chain.clientCaPem, now) : { authorized: false, authorizationError: sent ? 'UNABLE_TO_GET_ISSUER_CERT' : undefined };
  if (sent) {
    const principal = spiffeFromSan(sent.subjectAltName);
    out.client = { presented: true, verified: verdict.authorized, ...(verdict.authorizationError ? { why: verdict.authorizationError } : {}), ...(principal ? { principal } : {}) };
  } else if (asked) out.client = { presented: false, verified: false };
  // A port where every chain needs a verified client certificate refuses the others in the handshake itself.
  if (asked === 'required' && !verdict.authorized) {
    out.refused = `refused a client in the handshake: ${sent ? `its certificate does not verify (${verdict.authorizationError})` : 'it sent no certificate'}`;
    return out;
  }
  const socket = {
    authorized: verdict.authorized,
    authorizationError: verdict.authorizationError as unknown as Error,
    servername: sni ?? '',
    getPeerCertificate: () => (sent ? { raw: sent.raw } : {}) as ReturnType<import('node:tls').TLSSocket['getPeerCertificate']>,
  };
  const refused = clientRefusal(chain, socket as unknown as Parameters<typeof clientRefusal>[1]);
  if (refused) {
    out.refused = refused;
    return out;
  }
  if (sent && verdict.authorized) {
    let local: { subjectaltname?: string } | undefined;
    try { local = chain?.certPem ? { subjectaltname: new X509Certificate(chain.certPem).subjectAltName } : undefined; } catch { local = undefined; }
    out.xfcc = gatewayXfcc({ raw: sent.raw, subject: sent.subject, subjectaltname: sent.subjectAltName }, local);
  }
  return out;
}
