/**
 * TCP toxics on the L4 path (`devmesh fault add <service> --tcp ...`): the
 * tunnel to the picked workload goes through the toxic relay, which sits
 * between this sidecar and the peer's inbound listener (mTLS runs through
 * it), exactly as on the HTTP path.
 */
import { toxicsFor } from '../chaos/runtimeFaults';
import type { ResilienceState } from '../resilience/state';
import type { L4Filter } from './context';

export const l4Chaos = (state: ResilienceState): L4Filter => (next) => (ctx) => {
  const faults = ctx.tables.snapshot.faults;
  const plan = ctx.plan!;
  const ep = ctx.endpoint!;
  // The toxic relay sits in front of a peer's inbound listener; an endpoint outside the mesh has none (not faulted on the L4 path yet).
  if (!faults || faults.length === 0 || ep.external) return next(ctx);
  const id = ctx.tables.identity;
  const dr = ctx.tables.destinationRules.get(plan.host);
  const subsetLabels = (name: string) => dr?.subsets?.find((s) => s.name === name)?.labels;
  const toxic = toxicsFor(faults, ep, subsetLabels, { workload: id.name, service: ctx.tables.self?.service }, state.now(), plan.host)[0];
  if (!toxic) return next(ctx);
  const port = state.toxics.portFor(toxic, ep.name, ep.sidecar.inboundPort);
  if (typeof port === 'number') {
    ctx.upstreamPort = port;
    return next(ctx);
  }
  port.then((p) => { ctx.upstreamPort = p; next(ctx); }, () => next(ctx));
};
