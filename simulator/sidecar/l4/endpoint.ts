/**
 * L4 endpoint: the plan's subset -> workloads (minus hosts outlier
 * detection ejected) -> the DestinationRule's load balancer, per connection
 * (consistentHash can only use the source IP here: there are no headers).
 * A ServiceEntry host's endpoints are its own (`endpointsOf`); one of
 * resolution NONE has one, where the app's CONNECT named (ORIGINAL_DST).
 */
import { eligibleEndpoints } from '../filters/outlier';
import type { ResilienceState } from '../resilience/state';
import { endpointsOf } from '../routing/externalEndpoints';
import { pickEndpoint, type LbStats } from '../routing/loadBalancer';
import { targetOf } from '../routing/plan';
import { subsetEndpoints } from '../routing/subsets';
import { effectiveTrafficPolicy } from '../routing/trafficPolicy';
import type { L4Filter } from './context';

export const l4Endpoint = (s: { lb: LbStats; random: () => number; state: ResilienceState }): L4Filter => (next) => {
  const eligible = eligibleEndpoints(s.state);
  return (ctx) => {
    const plan = ctx.plan!;
    const t = ctx.tables;
    const dr = t.destinationRules.get(plan.host);
    const target = ctx.destination ? targetOf(ctx.destination.authority, plan.port) : undefined;
    const subset = subsetEndpoints(endpointsOf(t, { ...plan, target }), dr, plan.subset, plan.host);
    if ('error' in subset) return ctx.fail({ flag: 'NR', reason: 'unknown-subset', message: subset.error });
    const policy = effectiveTrafficPolicy(dr, plan.subset, plan.port);
    ctx.policy = policy;
    const candidates = eligible({ plan, tables: t }, subset.endpoints, policy);
    const pick = pickEndpoint(policy.loadBalancer, candidates, `${plan.host}|${plan.subset ?? ''}`, s.lb, { headers: {}, query: {}, sourceIp: ctx.source.address }, s.random, t.defaults.loadBalancer);
    if (!pick) return ctx.fail({ flag: 'UH', reason: 'no-healthy-upstream', message: `no workload of ${plan.host}${plan.subset ? ` in subset "${plan.subset}"` : ''} to connect to` });
    ctx.endpoint = pick.endpoint;
    next(ctx);
  };
};
