/**
 * Endpoint: resolves the plan's subset to workloads, looks up the
 * DestinationRule policy in force (subset and port level), and lets the load
 * balancer pick one. No workload left = 503 UH, as Envoy's "no healthy upstream".
 */
import type { Filter, RequestContext } from '../context';
import type { WorkloadInfo } from '../../protocol';
import { noHealthyUpstream, noRoute } from '../errors';
import { pickEndpoint, type LbStats } from '../routing/loadBalancer';
import { subsetEndpoints } from '../routing/subsets';
import { effectiveTrafficPolicy, type EffectivePolicy } from '../routing/trafficPolicy';
import { splitPath } from '../routing/match';

export interface EndpointSettings {
  lb: LbStats;
  random: () => number;
  /** Narrows the candidates before the pick: outlier ejections, hosts a retry already tried. */
  eligible: <E extends WorkloadInfo>(ctx: RequestContext, endpoints: E[], policy: EffectivePolicy) => E[];
}

export const endpoint = (settings: EndpointSettings): Filter => (next) => (ctx) => {
  const plan = ctx.plan;
  if (plan?.kind !== 'forward') return next(ctx);
  const t = ctx.tables;
  const dr = t.destinationRules.get(plan.host);
  const subset = subsetEndpoints(t.workloadsByService.get(plan.host) ?? [], dr, plan.subset, plan.host);
  if ('error' in subset) return ctx.fail(noRoute(`devmesh: ${subset.error}\n`, 'unknown-subset', 503));
  const policy = effectiveTrafficPolicy(dr, plan.subset, plan.port);
  ctx.policy = policy;
  const clusterKey = `${plan.host}|${plan.subset ?? ''}`;
  // A call to a workload's own address goes to that workload only.
  const endpoints = plan.endpoint ? subset.endpoints.filter((w) => w.name === plan.endpoint) : subset.endpoints;
  const candidates = settings.eligible(ctx, endpoints, policy);
  const pick = pickEndpoint(policy.loadBalancer, candidates, clusterKey, settings.lb, { headers: ctx.downstream.headers, query: splitPath(ctx.path).query, sourceIp: ctx.source.address }, settings.random, t.defaults.loadBalancer);
  if (!pick) return ctx.fail(noHealthyUpstream(`devmesh: no workload of ${plan.host}${plan.subset ? ` in subset "${plan.subset}"` : ''} to send to\n`));
  ctx.endpoint = pick.endpoint;
  if (pick.setCookie) ctx.responseHeaderOps.push({ add: { 'set-cookie': pick.setCookie } });
  next(ctx);
};
