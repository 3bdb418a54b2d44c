/**
 * Chaos: runtime faults aimed at the picked workload (`devmesh fault add
 * reviews --workload reviews-v2 ...`, or a subset the route did not name),
 * acting as if that instance misbehaved — inside retries and seen by outlier
 * detection — and TCP toxics: the connection goes through a toxic relay.
 */
import type { Filter, RequestContext } from '../context';
import { endpointFaults, toxicsFor } from '../chaos/runtimeFaults';
import { decideRuntimeFaults } from '../resilience/faultDecision';
import type { ResilienceState } from '../resilience/state';
import { applyFault } from './fault';

export const chaos = (state: ResilienceState): Filter => (next) => (ctx) => {
  const faults = ctx.tables.snapshot.faults;
  const plan = ctx.plan;
  const ep = ctx.endpoint;
  if (!faults || faults.length === 0 || plan?.kind !== 'forward' || !ep) return next(ctx);
  const now = state.now();
  const id = ctx.tables.identity;
  const caller = { workload: id.name, service: ctx.tables.self?.service };
  const dr = ctx.tables.destinationRules.get(plan.host);
  const subsetLabels = (name: string) => dr?.subsets?.find((s) => s.name === name)?.labels;

  const withToxic = (c: RequestContext) => {
    const toxic = toxicsFor(faults, ep, subsetLabels, caller, now, plan.host)[0];
    // A TCP toxic relays to a sidecar's port; an address outside the mesh gets the HTTP faults only.
    if (!toxic || ep.external) return next(c);
    const port = state.toxics.portFor(toxic, ep.name, ep.sidecar.inboundPort);
    if (typeof port === 'number') {
      c.upstreamPort = port;
      return next(c);
    }
    port.then((p) => { c.upstreamPort = p; next(c); }, () => next(c));
  };

  const http = endpointFaults(faults, plan.host, plan.subset, ep, subsetLabels, caller, now);
  if (http.length === 0) return withToxic(ctx);
  const d = decideRuntimeFaults(http, state.random);
  if (d.delayMs === undefined && !d.abort) return withToxic(ctx);
  applyFault(ctx, d, withToxic, state.stats);
};
