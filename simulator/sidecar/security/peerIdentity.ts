/**
 * The caller's identity from its TLS connection: the SPIFFE id in the URI SAN
 * of a client certificate that verified against the mesh CA. Computed once
 * per connection and kept on the socket, since every request on an HTTP/2
 * session shares it.
 */
import type { TLSSocket } from 'node:tls';

export interface PeerIdentity {
  /** Whether the connection is TLS at all. */
  tls: boolean;
  /** Set only when the client certificate verified against the mesh CA. */
  spiffeId?: string;
  certHash?: string;
  /** Why a TLS peer has no identity (no certificate, foreign CA, no SPIFFE SAN). */
  error?: string;
}

export const PEER = Symbol('devmesh.peer');

export const PLAINTEXT: PeerIdentity = Object.freeze({ tls: false });

export function identify(socket: TLSSocket): PeerIdentity {
  // The X509 object of the session, not getPeerCertificate()'s JS copy of every field (~4 % of a
  // sidecar's CPU when each TCP connection has its own TLS connection); one certificate's SAN is read once.
  const cert = socket.getPeerX509Certificate();
  if (!cert) return { tls: true, error: 'no client certificate' };
  if (!socket.authorized) return { tls: true, error: `client certificate rejected: ${socket.authorizationError}` };
  const hash = cert.fingerprint256.replaceAll(':', '').toLowerCase();
  let spiffeId = known.get(hash);
  if (spiffeId === undefined) {
    spiffeId = spiffeFromSan(cert.subjectAltName) ?? null;
    if (known.size >= MAX_KNOWN) known.delete(known.keys().next().value!);
    known.set(hash, spiffeId);
  }
  if (!spiffeId) return { tls: true, error: 'client certificate has no spiffe:// URI SAN' };
  return { tls: true, spiffeId, certHash: hash };
}

/** Certificate hash (SHA-256 of the DER, as certHash computes it) -> its SPIFFE id (null: it has none). */
const known = new Map<string, string | null>();
const MAX_KNOWN = 1024;

/** `URI:spiffe://td/ns/x/sa/y, DNS:...` -> the first SPIFFE URI. */
export function spiffeFromSan(san: string | undefined): string | undefined {
  if (!san) return undefined;
  for (const part of san.split(',')) {
    const p = part.trim();
    if (p.startsWith('URI:spiffe://')) return p.slice(4);
  }
  return undefined;
}

/** `spiffe://td/ns/<ns>/sa/<sa>` -> namespace, for AuthorizationPolicy `namespaces`. */
export function namespaceOf(spiffeId: string | undefined): string | undefined {
  const m = spiffeId ? /\/ns\/([^/]+)\/sa\//.exec(spiffeId) : null;
  return m ? m[1] : undefined;
}
