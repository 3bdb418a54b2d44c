/**
 * Outlier detection on the L4 path: each connection attempt's outcome
 * counts for its host. Istio's DestinationRule doc: "When the upstream host
 * is accessed over an opaque TCP connection, connect timeouts and
 * connection error/failure events qualify as a gateway error" (and as 5xx
 * errors for consecutive5xxErrors); a connection that succeeds resets the
 * counts. Only when the DestinationRule sets `outlierDetection`.
 */
import { outcomeRecorder } from '../filters/outlier';
import { clusterName, type ResilienceState } from '../resilience/state';
import type { L4Filter } from './context';

export const l4Outlier = (s: { state: ResilienceState; onEject?: (message: string) => void }): L4Filter => (next) => (ctx) => {
  const od = ctx.policy?.outlierDetection;
  const ep = ctx.endpoint;
  if (!od || !ep) return next(ctx);
  const record = outcomeRecorder(s, clusterName(ctx.plan!), od, ctx.tables.defaults.outlierDetection, ep.name);
  const { relay, fail } = ctx;
  let decided = false;
  ctx.relay = (upstream) => {
    if (!decided) record({ kind: 'response', status: 200 });
    decided = true;
    relay(upstream);
  };
  ctx.fail = (err) => {
    if (!decided && err.flag === 'UF') record({ kind: 'local', timeout: err.reason === 'connect-timeout' });
    decided = true;
    fail(err);
  };
  next(ctx);
};
