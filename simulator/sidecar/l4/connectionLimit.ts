/**
 * `connectionPool.tcp.maxConnections` for TCP: Envoy's tcp_proxy opens one
 * upstream connection per downstream one, and the cluster's circuit breaker
 * refuses a connection past the limit (upstream_cx_overflow): the downstream
 * is closed at once, flag UO. The count is the cluster's (host, subset,
 * port), across workers, as Envoy's resource manager keeps it.
 */
import { clusterName, type ResilienceState } from '../resilience/state';
import { poolLimits } from '../resilience/connectionPool';
import type { L4Filter } from './context';

export const l4ConnectionLimit = (state: ResilienceState): L4Filter => (next) => (ctx) => {
  const cluster = clusterName(ctx.plan!);
  const max = poolLimits(ctx.policy?.connectionPool, ctx.tables.defaults.connectionPool).maxConnections;
  if (!state.tcp.open(cluster, max)) {
    return ctx.fail({ flag: 'UO', reason: 'overflow', message: `${cluster} has ${max} connection${max === 1 ? '' : 's'} open already (connectionPool.tcp.maxConnections)` });
  }
  ctx.onClose(() => state.tcp.close(cluster));
  next(ctx);
};
