/**
 * Host names as Istio reads them. A short name (`reviews`) is interpreted in
 * the namespace of the resource that mentions it, so `reviews` written in
 * namespace `default` means `reviews.default.svc.cluster.local`. Wildcards
 * (`*.example.com`, `*`) match by suffix. The Kubernetes cluster domain is
 * always `cluster.local` here, independent of the SPIFFE trust domain.
 */

export const CLUSTER_DOMAIN = 'svc.cluster.local';

export function serviceFqdn(name: string, namespace: string): string {
  return `${name}.${namespace}.${CLUSTER_DOMAIN}`;
}

/**
 * A host as Istio reads it in a policy (VirtualService hosts, destinations,
 * DestinationRule host): only a name without dots is short and expanded in
 * the resource's namespace; anything with a dot is taken literally, so
 * `reviews.default` does NOT mean the reviews service (a classic Istio trap).
 */
export function policyHost(host: string, namespace: string): string {
  const h = host.toLowerCase();
  return h.includes('.') || h === '*' ? h : serviceFqdn(h, namespace);
}

/**
 * Expands a host the way a caller's DNS search path does (`name`,
 * `name.ns`, `name.ns.svc`, full name) — for Host headers and proxy-form
 * requests, not for policy fields (see policyHost).
 * `reviews` -> `reviews.<ns>.svc.cluster.local`; `reviews.other` ->
 * `reviews.other.svc.cluster.local`; `reviews.other.svc` -> `...svc.cluster.local`;
 * anything already qualified, wildcard or external stays as written (lowercased).
 */
export function qualifyHost(host: string, namespace: string): string {
  // Rules qualify every host of the workspace on each check; the answers repeat.
  let inNamespace = qualified.get(namespace);
  if (!inNamespace) qualified.set(namespace, (inNamespace = new Map()));
  let q = inNamespace.get(host);
  if (q === undefined) {
    if (inNamespace.size > 50_000) inNamespace.clear();
    q = qualify(host, namespace);
    inNamespace.set(host, q);
  }
  return q;
}

const qualified = new Map<string, Map<string, string>>();

function qualify(host: string, namespace: string): string {
  const h = stripPort(host).toLowerCase();
  if (h === '*' || h.startsWith('*.')) return h;
  const parts = h.split('.');
  if (parts.length === 1) return serviceFqdn(h, namespace);
  if (parts.length === 2) return serviceFqdn(parts[0], parts[1]);
  if (parts.length === 3 && parts[2] === 'svc') return `${h}.cluster.local`;
  return h;
}

/** Whether a (possibly wildcard) host pattern covers a concrete FQDN. */
export function hostMatches(pattern: string, fqdn: string): boolean {
  if (pattern === '*') return true;
  if (pattern.startsWith('*.')) return fqdn.endsWith(pattern.slice(1));
  return pattern === fqdn;
}

/** Whether two (possibly wildcard) hosts have a name in common, as Istio's host.Name.Matches reads them. */
export function hostsOverlap(a: string, b: string): boolean {
  return a === b || hostMatches(a, b) || hostMatches(b, a);
}

/** Drops a `:port` suffix from an authority. */
export function stripPort(authority: string): string {
  if (authority.startsWith('[')) {
    const end = authority.indexOf(']');
    return end >= 0 ? authority.slice(0, end + 1) : authority;
  }
  const colon = authority.lastIndexOf(':');
  return colon >= 0 && /^\d+$/.test(authority.slice(colon + 1)) ? authority.slice(0, colon) : authority;
}

/** The port of an authority, or undefined when it has none. */
export function authorityPort(authority: string): number | undefined {
  const m = /:(\d+)$/.exec(authority);
  return m ? Number(m[1]) : undefined;
}

/** spiffe://<trustDomain>/ns/<namespace>/sa/<serviceAccount> */
export function spiffeId(trustDomain: string, namespace: string, serviceAccount: string): string {
  return `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
}

/** Istio's principal form of a SPIFFE id: the id without `spiffe://`. */
export function principalOf(spiffe: string): string {
  return spiffe.startsWith('spiffe://') ? spiffe.slice('spiffe://'.length) : spiffe;
}

/**
 * Whether a resource of namespace `owner` with this `exportTo` is visible to
 * namespace `viewer`, as Istio reads exportTo: none means everywhere, `*`
 * everywhere, `.` its own namespace, `~` nowhere, else the namespaces named.
 */
export function exportedTo(exportTo: readonly unknown[] | undefined, owner: string, viewer: string): boolean {
  if (!exportTo || exportTo.length === 0) return true;
  return exportTo.some((e) => e === '*' || (e === '.' ? owner : e) === viewer);
}
