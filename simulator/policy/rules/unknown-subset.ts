import type { DocumentRule } from './rule';
import { destinationsOf } from './destinations';

/** A destination subset must be defined by a DestinationRule of its host (IST0101, KIA1107). */
export const unknownSubset: DocumentRule<'VirtualService'> = {
  codes: ['unknown-subset'],
  kinds: ['VirtualService'],
  facts: (index) => `${index.meshFacts}\n${index.serviceEntryFacts}\n${index.destinationRuleFacts}`,
  // Per destination with a subset: whether its host is a service (else unknown-host speaks) and its DestinationRules' subsets.
  factsOf(vs, index) {
    let facts = '';
    for (const d of destinationsOf(vs)) {
      if (!d.subset) continue;
      const fqdn = index.fqdn(d.host, vs);
      facts += `${fqdn} ${!index.mesh ? '-' : index.destination(d.host, vs) ? '+' : 'x'} ${index.subsetFacts(fqdn)}\n`;
    }
    return facts;
  },
  check(vs, index, report) {
    for (const d of destinationsOf(vs)) {
      if (!d.subset || (index.mesh && !index.destination(d.host, vs))) continue; // unknown host is reported once, by unknown-host
      const fqdn = index.fqdn(d.host, vs);
      const rules = index.destinationRules(fqdn);
      const subsets = index.subsetNames(fqdn);
      if (subsets.includes(d.subset)) continue;
      const message = rules.length === 0
        ? `subset "${d.subset}" of host "${d.host}" is not defined: no DestinationRule exists for ${fqdn}; create one with a subset "${d.subset}" (IST0101)`
        : `subset "${d.subset}" is not defined in DestinationRule ${rules.map((r) => `"${r.name}"`).join(', ')}` +
          (subsets.length ? ` (it has ${subsets.map((s) => `"${s}"`).join(', ')})` : ' (it has no subsets)') +
          `; add it there or fix the name (IST0101)`;
      report(vs, [...d.path, 'subset'], 'unknown-subset', message, {
        data: { host: d.host, fqdn, subset: d.subset, destinationRule: rules[0] ? { file: rules[0].file, name: rules[0].name } : undefined },
      });
    }
  },
};
