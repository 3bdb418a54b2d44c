/**
 * Endpoint choice per DestinationRule `loadBalancer`, decided purely: the pick
 * is a function of the endpoints, the shared stats, the request and an
 * injected random source (tests pass a seeded one).
 *
 * - LEAST_REQUEST (Istio's default when `simple` is unset, from policy/defaults): Envoy's power of
 *   two choices — sample two endpoints, take the one with fewer active requests.
 * - ROUND_ROBIN: a counter per cluster.
 * - RANDOM: uniform.
 * - consistentHash: rendezvous hashing on the key (header, cookie, source IP or
 *   query parameter), so one key sticks to one endpoint and only the keys of a
 *   removed endpoint move. With no key in the request, a random pick (Envoy does the same).
 */
import { createHash } from 'node:crypto';
import type { LoadBalancerSettings } from '../../policy/model';
import { ISTIO, type Defaults } from '../../policy/defaults';
import { draw, uniformIndex, type RandomSource } from '../../random';

export interface Endpoint {
  name: string;
}

/** Shared, mutable stats the balancer reads (and round robin advances). */
export interface LbStats {
  roundRobin: Map<string, number>;
  activeRequests: Map<string, number>;
}

export function newLbStats(): LbStats {
  return { roundRobin: new Map(), activeRequests: new Map() };
}

export interface LbRequest {
  headers: Record<string, string | string[] | undefined>;
  query: Record<string, string>;
  sourceIp?: string;
}

export interface LbPick<E> {
  endpoint: E;
  /** A cookie to set on the response when httpCookie hashing minted a new key. */
  setCookie?: string;
}

export function pickEndpoint<E extends Endpoint>(
  lb: LoadBalancerSettings | undefined,
  endpoints: readonly E[],
  clusterKey: string,
  stats: LbStats,
  req: LbRequest,
  random: RandomSource,
  /** The flavor's algorithm when `simple` is unset (Istio: LEAST_REQUEST; see policy/defaults). */
  fallback: Defaults['loadBalancer'] = ISTIO.defaults.loadBalancer,
): LbPick<E> | undefined {
  if (endpoints.length === 0) return undefined;
  if (endpoints.length === 1) return { endpoint: endpoints[0] };
  if (lb?.consistentHash) return hashPick(lb.consistentHash, endpoints, req, random);
  const simple = !lb?.simple || lb.simple === 'UNSPECIFIED' ? fallback : lb.simple;
  switch (simple) {
    case 'ROUND_ROBIN': {
      const n = stats.roundRobin.get(clusterKey) ?? 0;
      stats.roundRobin.set(clusterKey, n + 1);
      return { endpoint: endpoints[n % endpoints.length] };
    }
    case 'RANDOM':
    case 'PASSTHROUGH':
      return { endpoint: endpoints[uniformIndex(endpoints.length, random)] };
    default: {
      // LEAST_REQUEST and LEAST_CONN (its deprecated alias).
      const a = endpoints[uniformIndex(endpoints.length, random)];
      const b = endpoints[uniformIndex(endpoints.length, random)];
      const la = stats.activeRequests.get(a.name) ?? 0;
      const lb2 = stats.activeRequests.get(b.name) ?? 0;
      return { endpoint: lb2 < la ? b : a };
    }
  }
}

function hashPick<E extends Endpoint>(ch: NonNullable<LoadBalancerSettings['consistentHash']>, endpoints: readonly E[], req: LbRequest, random: RandomSource): LbPick<E> {
  let key: string | undefined;
  let setCookie: string | undefined;
  if (ch.httpHeaderName) key = first(req.headers[ch.httpHeaderName.toLowerCase()]);
  else if (ch.httpQueryParameterName) key = req.query[ch.httpQueryParameterName];
  else if (ch.useSourceIp) key = req.sourceIp;
  else if (ch.httpCookie) {
    key = readCookie(first(req.headers.cookie), ch.httpCookie.name);
    if (key === undefined && ch.httpCookie.ttl) {
      // Envoy mints the cookie when a ttl is given, so the next request sticks.
      key = Math.floor(draw(random, 'a new hash cookie value') * 2 ** 48).toString(16);
      setCookie = `${ch.httpCookie.name}=${key}; Path=${ch.httpCookie.path ?? '/'}; HttpOnly`;
    }
  }
  if (key === undefined) return { endpoint: endpoints[uniformIndex(endpoints.length, random)] };
  let best = endpoints[0];
  let bestScore = -1;
  for (const e of endpoints) {
    const score = createHash('sha1').update(key).update('\0').update(e.name).digest().readUInt32BE(0);
    if (score > bestScore) {
      best = e;
      bestScore = score;
    }
  }
  return { endpoint: best, setCookie };
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export { seededRandom } from '../../random';
