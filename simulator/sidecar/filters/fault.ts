/**
 * Fault: the route's `fault` and the runtime faults on this service/subset
 * (`devmesh fault add`), decided once per request before retries and
 * timeouts (Envoy's order): a delay holds the request (flag DI), an abort
 * answers it here (flag FI) — `fault filter abort`, or a trailers-only gRPC
 * status for `grpcStatus`.
 */
import type { Filter } from '../context';
import { ProxyError } from '../errors';
import { routeFaults } from '../chaos/runtimeFaults';
import { decideRouteFault, decideRuntimeFaults, mergeFaults, type FaultDecision } from '../resilience/faultDecision';
import type { Stats } from '../stats';
import type { RandomSource } from '../../random';
import type { ForwardPlan } from '../routing/plan';
import type { MeshTables } from '../tables';

export interface FaultSettings {
  random: RandomSource;
  now: () => number;
  stats?: Stats;
}

/** The faults for one routed request at this proxy: the rule's own and the runtime faults on its destination (explain calls it with odds). */
export function faultFor(t: MeshTables, plan: ForwardPlan, now: number, random: RandomSource): FaultDecision {
  const runtime = t.snapshot.faults;
  const caller = { workload: t.identity.name, service: t.self?.service };
  const fromRuntime = runtime && runtime.length > 0 ? decideRuntimeFaults(routeFaults(runtime, plan.host, plan.subset, caller, now), random) : {};
  return mergeFaults(decideRouteFault(plan.rule?.fault, random), fromRuntime);
}

export const fault = (s: FaultSettings): Filter => (next) => (ctx) => {
  const plan = ctx.plan;
  if (plan?.kind !== 'forward') return next(ctx);
  const d = faultFor(ctx.tables, plan, s.now(), s.random);
  if (d.delayMs === undefined && !d.abort) return next(ctx);
  applyFault(ctx, d, next, s.stats);
};

/** Delay, then abort or pass on. Shared with the endpoint-level chaos filter. */
export function applyFault(ctx: Parameters<ReturnType<Filter>>[0], d: FaultDecision, next: (c: typeof ctx) => void, stats?: Stats): void {
  if (ctx.notes) ctx.notes.fault = d;
  const go = () => {
    if (!d.abort) return next(ctx);
    stats?.inc('fault.aborts_injected');
    if (!ctx.flags.includes('FI')) ctx.flags.push('FI');
    if (d.abort.grpcStatus !== undefined) {
      return ctx.respond(200, { 'content-type': 'application/grpc', 'grpc-status': String(d.abort.grpcStatus), 'grpc-message': 'fault filter abort', 'x-devmesh-proxy-error': 'fault-abort' }, null);
    }
    ctx.fail(new ProxyError(d.abort.httpStatus, 'FI', 'fault-abort', 'fault filter abort'));
  };
  if (d.delayMs === undefined) return go();
  stats?.inc('fault.delays_injected');
  if (!ctx.flags.includes('DI')) ctx.flags.push('DI');
  const timer = setTimeout(go, d.delayMs);
  ctx.onAbort(() => clearTimeout(timer));
}
