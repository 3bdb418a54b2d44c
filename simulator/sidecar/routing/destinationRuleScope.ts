/**
 * The DestinationRule a sidecar applies to a service, as pilot looks it up
 * (istio/istio pilot/pkg/model/push_context.go `destinationRule` and
 * `setDestinationRules`, destination_rule.go `mergeDestinationRule`):
 *
 * 1. the rules of the client's own namespace that it sees (in the root
 *    namespace only its private ones),
 * 2. else the rules of the service's namespace exported to the client,
 * 3. else the rules of the root namespace exported to the client;
 *
 * within a namespace the most specific host wins (exact, then the longest
 * wildcard), and several rules for one host merge: subsets are added unless
 * a name repeats, the first top-level trafficPolicy stays. A rule with a
 * workloadSelector applies only to the workloads it selects in its own
 * namespace, before the rules without one. Pure.
 */
import type { DestinationRuleSpec, Resource } from '../../policy/model';
import { hostMatches, policyHost } from '../../policy/hosts';
import { isPrivate, moreSpecific, visibleTo } from './exportTo';

export interface ScopedDestinationRule {
  /** The merged rule, and the `ns/name` of each rule merged into it. */
  spec: DestinationRuleSpec;
  from: string[];
}

export interface DestinationRuleClient {
  namespace: string;
  labels: Record<string, string>;
  rootNamespace: string;
}

export function destinationRuleFor(
  all: readonly Resource<'DestinationRule'>[],
  client: DestinationRuleClient,
  service: { fqdn: string; namespace: string },
  defaultNamespace: string,
): ScopedDestinationRule | undefined {
  const nsOf = (dr: Resource<'DestinationRule'>) => dr.metadata.namespace ?? defaultNamespace;
  const selects = (dr: Resource<'DestinationRule'>) => {
    const sel = dr.spec.workloadSelector?.matchLabels;
    return !sel || Object.entries(sel).every(([k, v]) => client.labels[k] === v);
  };
  const ordered = [...all.filter((dr) => dr.spec.workloadSelector), ...all.filter((dr) => !dr.spec.workloadSelector)];
  // Seen in its own namespace unless exported only elsewhere (or hidden with `~`).
  const local = ordered.filter((dr) => nsOf(dr) === client.namespace && visibleTo(dr.spec.exportTo, nsOf(dr), client.namespace) && selects(dr)
    && (client.namespace !== client.rootNamespace || isPrivate(dr.spec.exportTo, nsOf(dr))));
  const exportedFrom = (ns: string) => ordered.filter((dr) => nsOf(dr) === ns && !dr.spec.workloadSelector
    && !isPrivate(dr.spec.exportTo, ns) && visibleTo(dr.spec.exportTo, ns, client.namespace));
  for (const candidates of [local, exportedFrom(service.namespace), exportedFrom(client.rootNamespace)]) {
    const found = mostSpecific(candidates, service.fqdn, nsOf);
    if (found.length) return merge(found, nsOf);
  }
  return undefined;
}

/** The rules whose host is the most specific match of the service host (all of them, to merge). */
function mostSpecific(rules: readonly Resource<'DestinationRule'>[], fqdn: string, nsOf: (dr: Resource<'DestinationRule'>) => string): Resource<'DestinationRule'>[] {
  let best: string | undefined;
  const hostOf = (dr: Resource<'DestinationRule'>) => policyHost(dr.spec.host ?? '', nsOf(dr));
  for (const dr of rules) {
    const h = hostOf(dr);
    if (!hostMatches(h, fqdn)) continue;
    if (best === undefined || moreSpecific(h, best)) best = h;
  }
  return best === undefined ? [] : rules.filter((dr) => hostOf(dr) === best);
}

function merge(rules: readonly Resource<'DestinationRule'>[], nsOf: (dr: Resource<'DestinationRule'>) => string): ScopedDestinationRule {
  const [first, ...rest] = rules;
  const spec: DestinationRuleSpec = { ...first.spec, subsets: [...(first.spec.subsets ?? [])] };
  for (const dr of rest) {
    for (const s of dr.spec.subsets ?? []) if (!spec.subsets!.some((x) => x.name === s.name)) spec.subsets!.push(s);
    if (!spec.trafficPolicy && dr.spec.trafficPolicy) spec.trafficPolicy = dr.spec.trafficPolicy;
  }
  if (!first.spec.subsets && spec.subsets!.length === 0) delete spec.subsets;
  return { spec, from: rules.map((dr) => `${nsOf(dr)}/${dr.metadata.name}`) };
}
