import type { WorkspaceRule } from './rule';
import { arr, obj, str } from '../workspace-index';

/**
 * Istio merges several DestinationRules for one host of one namespace only
 * partly: subsets are combined, but a second top-level trafficPolicy or a
 * repeated subset name is silently dropped (KIA0201). Rules in different
 * namespaces do not merge: each proxy takes its own namespace's first. Inside
 * one rule, a subset name must be unique.
 */
export const destinationRuleConflicts: WorkspaceRule = {
  codes: ['conflicting-destination-rules', 'duplicate-subset'],
  reads: ['DestinationRule', 'Mesh'],
  check(index, report) {
    const byHost = new Map<string, { policy?: string; subsets: Map<string, string> }>();
    for (const dr of index.byKind.DestinationRule) {
      const spec = obj(dr.value.spec);
      const host = str(spec.host);
      if (!host || spec.workloadSelector) continue;
      const fqdn = index.fqdn(host, dr);
      const key = `${index.namespaceOf(dr)}|${fqdn}`;
      const seen = byHost.get(key) ?? { subsets: new Map<string, string>() };
      byHost.set(key, seen);
      if (spec.trafficPolicy) {
        if (seen.policy && seen.policy !== dr.name) {
          report(dr, ['spec', 'trafficPolicy'], 'conflicting-destination-rules',
            `DestinationRule "${seen.policy}" already sets a trafficPolicy for ${fqdn}; Istio keeps only the first: merge them into one DestinationRule (KIA0201)`, { part: 'key' });
        } else {
          seen.policy = dr.name;
        }
      }
      const local = new Set<string>();
      arr(spec.subsets).forEach((raw, i) => {
        const name = str(obj(raw).name);
        if (!name) return;
        if (local.has(name)) {
          report(dr, ['spec', 'subsets', i, 'name'], 'duplicate-subset', `subset "${name}" is defined twice in this DestinationRule; rename or remove one`);
          return;
        }
        local.add(name);
        const other = seen.subsets.get(name);
        if (other && other !== dr.name) {
          report(dr, ['spec', 'subsets', i, 'name'], 'conflicting-destination-rules',
            `subset "${name}" of ${fqdn} is also defined by DestinationRule "${other}"; Istio ignores one of them: keep a single definition (KIA0201)`);
        } else {
          seen.subsets.set(name, dr.name);
        }
      });
    }
  },
};
