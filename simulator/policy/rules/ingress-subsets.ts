import type { PolicyDocument } from '../source';
import type { DocumentRule } from './rule';
import { destinationsOf, gatewaysOf } from './destinations';
import { arr, obj, str } from '../plain';
import type { WorkspaceIndex } from '../workspace-index';

/**
 * A gateway applies only the VirtualServices bound to it: a route there to a
 * host without a subset reaches every version of the host, even when the
 * sidecars' VirtualService for that host sends its traffic to subsets
 * (IST0140). Name the subset at the gateway too. Said only when the host has
 * a workload those subsets leave out, or when its workloads are not known
 * (as Istio's analyzer does).
 */
export const ingressSubsets: DocumentRule<'VirtualService'> = {
  codes: ['ingress-subset'],
  kinds: ['VirtualService'],
  facts: (index) => `${subsetRouted(index).facts}\n${index.meshFacts}\n${index.destinationRuleFacts}`,
  check(vs, index, report) {
    if (arr(obj(vs.value.spec).gateways).filter((g) => g !== 'mesh').length === 0) return;
    const routed = subsetRouted(index).byHost;
    for (const d of destinationsOf(vs)) {
      if (d.subset || d.path[1] !== 'http' || d.path[3] !== 'route') continue;
      const fqdn = index.fqdn(d.host, vs);
      for (const other of routed.get(fqdn) ?? []) {
        if (other.vs === vs || onlySubsetWorkloads(d.host, vs, other.subsets, index)) continue;
        report(vs, [...d.path, 'host'], 'ingress-subset',
          `traffic from the gateway to "${d.host}" reaches every version of it: VirtualService ${other.id} routes ${fqdn} to subsets (${other.subsets.join(', ')}) only at the sidecars (IST0140); name a subset here as well`);
      }
    }
  },
};

/** Whether every workload of the host is in one of the subsets: then the gateway reaches nothing the sidecars would not. */
function onlySubsetWorkloads(host: string, vs: PolicyDocument<'VirtualService'>, subsets: string[], index: WorkspaceIndex): boolean {
  const service = index.service(host, vs);
  if (!service || service.workloads.length === 0) return false;
  const labels = index.destinationRules(service.fqdn).flatMap((dr) => arr(obj(dr.value.spec).subsets).map(obj))
    .filter((s) => subsets.includes(String(s.name))).map((s) => obj(s.labels));
  return service.workloads.every((w) => labels.some((l) => Object.entries(l).every(([k, v]) => w.labels[k] === String(v))));
}

interface SubsetRouting {
  vs: PolicyDocument<'VirtualService'>;
  id: string;
  subsets: string[];
}

const cache = new WeakMap<WorkspaceIndex, { byHost: Map<string, SubsetRouting[]>; facts: string }>();

// A VirtualService's own subset routes depend on its text and namespace: computed once per document.
const ownCache = new WeakMap<PolicyDocument, { namespace: string; routes: [string, string[]][] }>();

/** The hosts of a VirtualService the sidecars apply that it routes to subsets of, with those subsets. */
function ownSubsets(vs: PolicyDocument<'VirtualService'>, index: WorkspaceIndex): [string, string[]][] {
  const namespace = index.namespaceOf(vs);
  let cached = ownCache.get(vs);
  if (!cached || cached.namespace !== namespace) {
    const bySubsetHost = new Map<string, Set<string>>();
    if (gatewaysOf(vs).includes('mesh')) {
      const hosts = new Set(arr(obj(vs.value.spec).hosts).map(str).filter((h): h is string => !!h).map((h) => index.fqdn(h, vs)));
      for (const d of destinationsOf(vs)) {
        const fqdn = index.fqdn(d.host, vs);
        if (d.subset && hosts.has(fqdn)) bySubsetHost.set(fqdn, (bySubsetHost.get(fqdn) ?? new Set()).add(d.subset));
      }
    }
    ownCache.set(vs, (cached = { namespace, routes: [...bySubsetHost].map(([h, s]) => [h, [...s]]) }));
  }
  return cached.routes;
}

/** Per host: the VirtualServices the sidecars apply that route their own host to subsets. */
function subsetRouted(index: WorkspaceIndex): { byHost: Map<string, SubsetRouting[]>; facts: string } {
  let found = cache.get(index);
  if (found) return found;
  const byHost = new Map<string, SubsetRouting[]>();
  for (const vs of index.byKind.VirtualService) {
    for (const [fqdn, subsets] of ownSubsets(vs, index)) {
      const list = byHost.get(fqdn) ?? [];
      list.push({ vs, id: `${index.namespaceOf(vs)}/${vs.name}`, subsets });
      byHost.set(fqdn, list);
    }
  }
  found = { byHost, facts: JSON.stringify([...byHost].map(([h, list]) => [h, list.map((l) => [l.id, l.subsets])])) };
  cache.set(index, found);
  return found;
}
