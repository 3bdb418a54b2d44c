/**
 * Endpoint: resolves the plan's subset to workloads, looks up the
 * DestinationRule policy in force (subset and port level), and lets the load
 * balancer pick one. No workload left = 503 UH, as Envoy's "no healthy upstream".
 * A ServiceEntry host's endpoints may be addresses outside the mesh (externalEndpoints.ts).
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Filter, RequestContext } from '../context';
import type { WorkloadInfo } from '../../protocol';
import { endpointsOf } from '../routing/externalEndpoints';
import type { RandomSource } from '../../random';
import { noHealthyUpstream, noRoute } from '../errors';
import { pickEndpoint, type LbPick, type LbStats } from '../routing/loadBalancer';
import type { ForwardPlan } from '../routing/plan';
import { subsetEndpoints } from '../routing/subsets';
import { effectiveTrafficPolicy, type EffectivePolicy } from '../routing/trafficPolicy';
import { splitPath } from '../routing/match';
import type { MeshTables } from '../tables';

export interface EndpointSettings {
  lb: LbStats;
  random: RandomSource;
  /** Narrows the candidates before the pick: outlier ejections, hosts a retry already tried. */
  eligible: <E extends WorkloadInfo>(ctx: RequestContext, endpoints: E[], policy: EffectivePolicy) => E[];
}

/** What the endpoint decision found: the subset's workloads, the policy in force, the candidates left and the pick. */
export type EndpointChoice =
  | { kind: 'unknown-subset'; error: string }
  | { kind: 'picked' | 'none'; endpoints: WorkloadInfo[]; policy: EffectivePolicy; candidates: WorkloadInfo[]; pick?: LbPick<WorkloadInfo> };

/**
 * The endpoint decision for a routed request (explain calls it with odds and
 * no narrowing): subset -> workloads -> DestinationRule policy for that
 * subset and port -> the candidates `narrow` leaves -> the load balancer's pick.
 */
/** The key the load balancer's shared stats keep a cluster's round-robin counter under. */
export function lbKey(plan: ForwardPlan): string {
  return `${plan.host}|${plan.subset ?? ''}`;
}

export function chooseEndpoint(
  t: MeshTables,
  plan: ForwardPlan,
  req: { headers: IncomingHttpHeaders; path: string; sourceIp?: string },
  lb: LbStats,
  random: RandomSource,
  narrow?: (endpoints: WorkloadInfo[], policy: EffectivePolicy) => WorkloadInfo[],
): EndpointChoice {
  const dr = t.destinationRules.get(plan.host);
  const subset = subsetEndpoints(endpointsOf(t, plan), dr, plan.subset, plan.host);
  if ('error' in subset) return { kind: 'unknown-subset', error: subset.error };
  const policy = effectiveTrafficPolicy(dr, plan.subset, plan.port);
  const clusterKey = lbKey(plan);
  // A call to a workload's own address goes to that workload only.
  const endpoints = plan.endpoint ? subset.endpoints.filter((w) => w.name === plan.endpoint) : subset.endpoints;
  const candidates = narrow ? narrow(endpoints, policy) : endpoints;
  const pick = pickEndpoint(policy.loadBalancer, candidates, clusterKey, lb, { headers: req.headers, query: splitPath(req.path).query, sourceIp: req.sourceIp }, random, t.defaults.loadBalancer);
  return { kind: pick ? 'picked' : 'none', endpoints: subset.endpoints, policy, candidates, pick };
}

export const endpoint = (settings: EndpointSettings): Filter => (next) => (ctx) => {
  const plan = ctx.plan;
  if (plan?.kind !== 'forward') return next(ctx);
  const choice = chooseEndpoint(ctx.tables, plan, { headers: ctx.downstream.headers, path: ctx.path, sourceIp: ctx.source.address }, settings.lb, settings.random, (endpoints, policy) => settings.eligible(ctx, endpoints, policy));
  if (choice.kind === 'unknown-subset') return ctx.fail(noRoute(`devmesh: ${choice.error}\n`, 'unknown-subset', 503));
  ctx.policy = choice.policy;
  const pick = choice.pick;
  if (!pick) return ctx.fail(noHealthyUpstream(`devmesh: no workload of ${plan.host}${plan.subset ? ` in subset "${plan.subset}"` : ''} to send to\n`));
  ctx.endpoint = pick.endpoint;
  if (pick.setCookie) ctx.responseHeaderOps.push({ add: { 'set-cookie': pick.setCookie } });
  next(ctx);
};
