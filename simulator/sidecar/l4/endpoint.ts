/**
 * L4 endpoint: the plan's subset -> workloads (minus hosts outlier
 * detection ejected) -> the DestinationRule's load balancer, per connection
 * (consistentHash can only use the source IP here: there are no headers).
 * A ServiceEntry host's endpoints are its own (`endpointsOf`); one of
 * resolution NONE has one, where the app's CONNECT named (ORIGINAL_DST).
 * `chooseL4Endpoint` is the decision, pure; `devmesh explain ... tcp` runs it with odds.
 */
import type { Endpoint } from '../../protocol';
import type { RandomSource } from '../../random';
import { eligibleEndpoints } from '../filters/outlier';
import type { ResilienceState } from '../resilience/state';
import { endpointsOf } from '../routing/externalEndpoints';
import type { L4ForwardPlan } from '../routing/l4Plan';
import { pickEndpoint, type LbPick, type LbStats } from '../routing/loadBalancer';
import { targetOf } from '../routing/plan';
import { subsetEndpoints } from '../routing/subsets';
import { effectiveTrafficPolicy, type EffectivePolicy } from '../routing/trafficPolicy';
import type { MeshTables } from '../tables';
import type { L4Filter } from './context';

export type L4EndpointChoice =
  | { kind: 'unknown-subset'; error: string }
  | { kind: 'chosen'; policy: EffectivePolicy; endpoints: Endpoint[]; candidates: Endpoint[]; pick?: LbPick<Endpoint> };

/** The cluster's load-balancer key (round-robin counters), as the filter keeps it. */
export const l4LbKey = (plan: Pick<L4ForwardPlan, 'host' | 'subset'>) => `${plan.host}|${plan.subset ?? ''}`;

export function chooseL4Endpoint(
  t: MeshTables, plan: L4ForwardPlan, authority: string | undefined, sourceIp: string | undefined, lb: LbStats, random: RandomSource,
  eligible: (plan: L4ForwardPlan, endpoints: Endpoint[], policy: EffectivePolicy) => Endpoint[] = (_p, e) => e,
): L4EndpointChoice {
  const dr = t.destinationRules.get(plan.host);
  const target = authority ? targetOf(authority, plan.port) : undefined;
  const subset = subsetEndpoints(endpointsOf(t, { ...plan, target }), dr, plan.subset, plan.host);
  if ('error' in subset) return { kind: 'unknown-subset', error: subset.error };
  const policy = effectiveTrafficPolicy(dr, plan.subset, plan.port);
  const candidates = eligible(plan, subset.endpoints, policy);
  const pick = pickEndpoint(policy.loadBalancer, candidates, l4LbKey(plan), lb, { headers: {}, query: {}, sourceIp }, random, t.defaults.loadBalancer);
  return { kind: 'chosen', policy, endpoints: subset.endpoints, candidates, ...(pick ? { pick } : {}) };
}

export const l4Endpoint = (s: { lb: LbStats; random: () => number; state: ResilienceState }): L4Filter => (next) => {
  const eligible = eligibleEndpoints(s.state);
  return (ctx) => {
    const plan = ctx.plan!;
    const t = ctx.tables;
    const choice = chooseL4Endpoint(t, plan, ctx.destination?.authority, ctx.source.address, s.lb, s.random, (p, endpoints, policy) => eligible({ plan: p, tables: t }, endpoints, policy));
    if (choice.kind === 'unknown-subset') return ctx.fail({ flag: 'NR', reason: 'unknown-subset', message: choice.error });
    ctx.policy = choice.policy;
    if (!choice.pick) return ctx.fail({ flag: 'UH', reason: 'no-healthy-upstream', message: `no workload of ${plan.host}${plan.subset ? ` in subset "${plan.subset}"` : ''} to connect to` });
    ctx.endpoint = choice.pick.endpoint;
    next(ctx);
  };
};
