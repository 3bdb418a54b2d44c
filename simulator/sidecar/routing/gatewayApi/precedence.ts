/**
 * Precedence across every Gateway API route of one parent, as the Gateway
 * API defines it for HTTPRouteRule.matches and pilot sorts it
 * (conversion.go sortHTTPRoutes, after routes were ordered by creation time,
 * namespace and name): an Exact path, then the longest PathPrefix (a
 * RegularExpression after both, pilot's choice), then a method match, then
 * the most header matches, then the most query parameter matches; ties go to
 * the oldest route, then the first by `namespace/name`, then the first rule
 * and match in the route. Entries without a match (a GRPCRoute rule with no
 * matches) come last. Once sorted, the first entry whose match accepts a
 * request is the one the Gateway API selects. Pure.
 */
import type { GatewayApiEntry } from './compile';

export interface RouteAge {
  /** metadata.creationTimestamp, when the document has one (absent: as old as any other). */
  created?: string;
  namespace: string;
  name: string;
}

export function byPrecedence(entries: readonly GatewayApiEntry[], ageOf: (e: GatewayApiEntry) => RouteAge): GatewayApiEntry[] {
  return [...entries].sort((a, b) => compareEntries(a, b, ageOf));
}

function compareEntries(a: GatewayApiEntry, b: GatewayApiEntry, ageOf: (e: GatewayApiEntry) => RouteAge): number {
  if ((a.matches === null) !== (b.matches === null)) return a.matches === null ? 1 : -1;
  const x = a.specificity;
  const y = b.specificity;
  if (x.pathRank !== y.pathRank) return y.pathRank - x.pathRank;
  if (x.pathLength !== y.pathLength) return y.pathLength - x.pathLength;
  if (x.method !== y.method) return x.method ? -1 : 1;
  if (x.headers !== y.headers) return y.headers - x.headers;
  if (x.queryParams !== y.queryParams) return y.queryParams - x.queryParams;
  const age = compareAge(ageOf(a), ageOf(b));
  if (age !== 0) return age;
  return a.index - b.index || a.match - b.match;
}

/** Oldest first (by creationTimestamp when both have one), then `namespace/name`. */
export function compareAge(a: RouteAge, b: RouteAge): number {
  if (a.created && b.created && a.created !== b.created) {
    const ta = Date.parse(a.created);
    const tb = Date.parse(b.created);
    if (Number.isFinite(ta) && Number.isFinite(tb) && ta !== tb) return ta - tb;
  }
  if (a.namespace !== b.namespace) return a.namespace < b.namespace ? -1 : 1;
  if (a.name !== b.name) return a.name < b.name ? -1 : 1;
  return 0;
}
