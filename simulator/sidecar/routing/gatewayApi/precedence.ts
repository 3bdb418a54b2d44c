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
import { compareAge, type ResourceAge } from '../../../policy/gateway-api/age';
import type { GatewayApiEntry } from './compile';

export type RouteAge = ResourceAge;

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
