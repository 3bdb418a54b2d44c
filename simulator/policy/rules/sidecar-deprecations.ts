import type { WorkspaceRule } from './rule';
import { obj } from '../workspace-index';

/**
 * Sidecar fields Istio has deprecated and ignores (IST0002). devmesh does not
 * simulate the Sidecar resource yet, but these are worth knowing before it
 * reaches a cluster.
 */
export const sidecarDeprecations: WorkspaceRule = {
  codes: ['deprecated'],
  check(index, report) {
    for (const sidecar of index.cluster.istio.get('Sidecar') ?? []) {
      const policy = obj(obj(sidecar.value.spec).outboundTrafficPolicy);
      if (policy.egressProxy !== undefined) {
        report(sidecar, ['spec', 'outboundTrafficPolicy', 'egressProxy'], 'deprecated',
          'Sidecar outboundTrafficPolicy.egressProxy is deprecated and ignored by Istio (IST0002): route outbound traffic through an egress gateway with a VirtualService instead', { part: 'key' });
      }
    }
  },
};
