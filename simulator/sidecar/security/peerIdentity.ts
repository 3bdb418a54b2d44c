/**
 * The caller's identity from its TLS connection: the SPIFFE id in the URI SAN
 * of a client certificate that verified against the mesh CA, read with the
 * mesh flavor's identity format (policy/flavors), with the namespace it
 * names. Computed once per connection and kept on the socket, since every
 * request on an HTTP/2 session shares it.
 */
import type { TLSSocket } from 'node:tls';
import type { IdentityFormat } from '../../policy/flavors';
import { firstSpiffeUri } from '../../policy/flavors/spiffe';

export interface PeerIdentity {
  /** Whether the connection is TLS at all. */
  tls: boolean;
  /** Set only when the client certificate verified against the mesh CA. */
  spiffeId?: string;
  /** The namespace the id names, as the flavor reads it (AuthorizationPolicy `namespaces`, metrics). */
  namespace?: string;
  certHash?: string;
  /** Why a TLS peer has no identity (no certificate, foreign CA, no SPIFFE SAN). */
  error?: string;
}

export const PEER = Symbol('devmesh.peer');

export const PLAINTEXT: PeerIdentity = Object.freeze({ tls: false });

export function identify(socket: TLSSocket, format: IdentityFormat): PeerIdentity {
  // The X509 object of the session, not getPeerCertificate()'s JS copy of every field (~4 % of a
  // sidecar's CPU when each TCP connection has its own TLS connection); one certificate's SAN is read once.
  const cert = socket.getPeerX509Certificate();
  if (!cert) return { tls: true, error: 'no client certificate' };
  if (!socket.authorized) return { tls: true, error: `client certificate rejected: ${socket.authorizationError}` };
  const hash = cert.fingerprint256.replaceAll(':', '').toLowerCase();
  let known = knownBy.get(format);
  if (known === undefined) knownBy.set(format, (known = new Map()));
  let id = known.get(hash);
  if (id === undefined) {
    const spiffeId = format.fromSan(cert.subjectAltName);
    id = spiffeId ? { spiffeId, namespace: format.namespace(spiffeId) } : null;
    if (known.size >= MAX_KNOWN) known.delete(known.keys().next().value!);
    known.set(hash, id);
  }
  if (!id) return { tls: true, error: 'client certificate has no spiffe:// URI SAN' };
  return { tls: true, spiffeId: id.spiffeId, namespace: id.namespace, certHash: hash };
}

/** Per identity format: certificate hash (SHA-256 of the DER, as certHash computes it) -> its id and namespace (null: it has none). */
const knownBy = new WeakMap<IdentityFormat, Map<string, { spiffeId: string; namespace: string | undefined } | null>>();
const MAX_KNOWN = 1024;

/** `URI:spiffe://td/ns/x/sa/y, DNS:...` -> the first SPIFFE URI (the SAN every flavor's workload certificate carries). */
export const spiffeFromSan = firstSpiffeUri;
