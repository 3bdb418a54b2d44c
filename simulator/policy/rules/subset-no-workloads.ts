import type { DocumentRule } from './rule';
import { arr, obj } from '../workspace-index';

/** Subset labels that select no workload of the host leave the subset empty (KIA0203). */
export const subsetNoWorkloads: DocumentRule<'DestinationRule'> = {
  codes: ['subset-no-workloads'],
  kinds: ['DestinationRule'],
  facts: (index) => index.meshFacts,
  check(dr, index, report) {
    const spec = obj(dr.value.spec);
    const service = typeof spec.host === 'string' ? index.service(spec.host, dr) : undefined;
    if (!service) return;
    arr(spec.subsets).forEach((raw, i) => {
      const labels = obj(obj(raw).labels);
      if (Object.keys(labels).length === 0) return;
      if (index.workloadsMatching(labels, service.namespace, service.workloads).length > 0) return;
      const have = service.workloads.map((w) => `${w.name} {${Object.entries(w.labels).map(([k, v]) => `${k}: ${v}`).join(', ')}}`).join('; ');
      report(dr, ['spec', 'subsets', i, 'labels'], 'subset-no-workloads',
        `subset "${obj(raw).name}" selects no workload of ${service.name}: its labels match none of ${have || 'its workloads (it has none)'}; requests routed to it get 503 (no healthy upstream) (IST0173)`,
        { part: 'key' });
    });
  },
};
