/**
 * Gateway API hostnames: a leading `*.` label matches one or more labels
 * (`*.example.com` matches `a.example.com` and `a.b.example.com`, not
 * `example.com`); a listener and a route attach when their hostnames
 * intersect, and the route then serves the intersection. Pure.
 */

/** Whether a hostname pattern covers a concrete host (lowercase, no port). */
export function hostnameMatches(pattern: string, host: string): boolean {
  const p = pattern.toLowerCase();
  const h = host.toLowerCase();
  if (p === '*') return true;
  if (p.startsWith('*.')) return h.endsWith(p.slice(1)) && h.length > p.length - 1;
  return p === h;
}

/**
 * The hostnames a route serves on a listener: its own hostnames narrowed to
 * the listener's, the listener's when the route has none, `*` when neither
 * has any. Empty when they do not intersect (the route is not accepted
 * there: NoMatchingListenerHostname).
 */
export function intersectHostnames(listener: string | undefined, route: readonly string[]): string[] {
  const l = listener?.toLowerCase();
  if (route.length === 0) return [l ?? '*'];
  if (!l) return route.map((h) => h.toLowerCase());
  const out: string[] = [];
  for (const raw of route) {
    const r = raw.toLowerCase();
    if (hostnameMatches(l, r)) out.push(r);
    else if (hostnameMatches(r, l)) out.push(l);
  }
  return [...new Set(out)];
}

/**
 * How specific a hostname is, for precedence between routes of a listener:
 * a matching non-wildcard hostname first, then the longer one.
 */
export function hostnameSpecificity(hostname: string): [number, number] {
  return hostname.startsWith('*') ? [0, hostname.length] : [hostname.length, hostname.length];
}
