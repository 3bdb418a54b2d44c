/**
 * What a mesh flavor decides, in one object per flavor: its defaults table
 * (policy/defaults), how it names a workload and reads a peer back (its
 * identity format), and which resource kinds it applies. Callers take the
 * profile from the Mesh (validation, the snapshot) or the snapshot (the
 * sidecar's tables, resolved once per snapshot), never `if (flavor === ...)`.
 * The trace headers a flavor's proxies speak by default are part of its
 * defaults table (`defaults.tracePropagation`).
 */
import type { FlavorTable } from '../defaults/types';
import type { Kind } from '../model';

/**
 * How a flavor names a workload in its certificate and how policies name a
 * peer. Pure string functions; the sidecar calls `fromSan` and `namespace`
 * once per connection, `principal` and `serviceAccount` while an
 * authorization rule is evaluated (as cheap as the slice they replace).
 */
export interface IdentityFormat {
  /** How a policy writes a principal, for messages (Istio: `<trustDomain>/ns/<namespace>/sa/<serviceAccount>`). */
  principalForm: string;
  /** The URI SAN of a workload certificate (the id the CA signs, explain shows and x-forwarded-client-cert carries). */
  mint(trustDomain: string, namespace: string, serviceAccount: string): string;
  /** The peer's id from a verified certificate's subjectAltName as Node writes it (`URI:spiffe://..., DNS:...`). */
  fromSan(san: string | undefined): string | undefined;
  /** The principal policies match (`principals`, `source.principal`) for a peer id. */
  principal(id: string): string;
  /** The namespace policies match (`namespaces`, `source.namespace`) for a peer id. */
  namespace(id: string | undefined): string | undefined;
  /** `<namespace>/<serviceAccount>` for `serviceAccounts`, from a principal. */
  serviceAccount(principal: string): string | undefined;
  /** A principal as a policy writes it, without wildcards -> what it names (validation); undefined: not in this form. */
  parsePrincipal(principal: string): { trustDomain: string; namespace: string; serviceAccount: string } | undefined;
}

/** The resource kinds a flavor applies; the Mesh kind always applies. */
export interface KindSupport {
  applies: ReadonlySet<Kind>;
  /** The diagnostic for a kind the flavor does not take: what happens and how to fix it. */
  refusal(kind: Kind): string;
}

export interface FlavorProfile {
  /** `spec.flavor` as written. */
  name: string;
  defaults: FlavorTable;
  identity: IdentityFormat;
  kinds: KindSupport;
}
