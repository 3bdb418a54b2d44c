/**
 * The outbound filter chain as a sidecar composes it for the benchmarks that
 * run filters without sockets (micro.ts, decisions.ts): trace .. retry, then
 * endpoint .. chaos in front of a stub upstream that answers 200 at once.
 */
import { compose, type RequestContext } from '../../simulator/sidecar/context';
import { chaos } from '../../simulator/sidecar/filters/chaos';
import { circuitBreaker } from '../../simulator/sidecar/filters/circuitBreaker';
import { cors } from '../../simulator/sidecar/filters/cors';
import { endpoint } from '../../simulator/sidecar/filters/endpoint';
import { fault } from '../../simulator/sidecar/filters/fault';
import { metrics } from '../../simulator/sidecar/filters/metrics';
import { mirror } from '../../simulator/sidecar/filters/mirror';
import { eligibleEndpoints, outlier } from '../../simulator/sidecar/filters/outlier';
import { announcePeer } from '../../simulator/sidecar/filters/peerMetadata';
import { retry } from '../../simulator/sidecar/filters/retry';
import { route } from '../../simulator/sidecar/filters/route';
import { timeout } from '../../simulator/sidecar/filters/timeout';
import { trace } from '../../simulator/sidecar/filters/trace';
import { ResilienceState } from '../../simulator/sidecar/resilience/state';
import { newLbStats } from '../../simulator/sidecar/routing/loadBalancer';
import { Stats } from '../../simulator/sidecar/stats';

export function outboundFilterChain(): (ctx: RequestContext) => void {
  const stats = new Stats();
  const rs = new ResilienceState(stats, Math.random);
  const lb = newLbStats();
  const toCluster = compose([endpoint({ lb, random: Math.random, eligible: eligibleEndpoints(rs) }), circuitBreaker(rs), outlier({ state: rs }), chaos(rs)],
    (ctx) => ctx.respond(200, { 'content-type': 'application/json', 'content-length': '94' }, null));
  return compose([trace({ sampling: 100, random: Math.random }), metrics(), announcePeer(), route({ role: 'sidecar', random: Math.random }), cors(),
    fault({ random: Math.random, now: Date.now, stats }), mirror({ random: Math.random, send: toCluster, stats }), timeout({ stats }), retry(rs)], toCluster);
}
