import type { PolicyDocument } from '../source';
import type { WorkspaceRule } from './rule';
import { gatewaysOf } from './destinations';
import { arr, obj, str, type WorkspaceIndex } from '../workspace-index';

/**
 * Two VirtualServices for one host on the same gateway that one namespace
 * both sees: which one applies is undefined (IST0109, KIA1106). As istioctl's
 * analyzer scopes it, a VirtualService exported to some namespaces conflicts
 * with another exported to one of them or to all.
 */
export const duplicateHost: WorkspaceRule = {
  codes: ['duplicate-host'],
  reads: ['VirtualService', 'Mesh'],
  check(index, report) {
    const seen = new Map<string, PolicyDocument<'VirtualService'>>();
    /** Per `gateway|fqdn`, the first VirtualService in any scope: one exported to all conflicts with it. */
    const anyScope = new Map<string, PolicyDocument<'VirtualService'>>();
    for (const vs of index.byKind.VirtualService) {
      for (const { key, wide, gateway, host, i } of routedHosts(vs, index)) {
        const hostKey = wide.replace('|*|', '|');
        const first = key === wide ? anyScope.get(hostKey) : seen.get(key) ?? seen.get(wide);
        if (!first) {
          seen.set(key, vs);
          if (!anyScope.has(hostKey)) anyScope.set(hostKey, vs);
        } else if (first.name !== vs.name || first.file !== vs.file || index.namespaceOf(first) !== index.namespaceOf(vs)) {
          report(vs, ['spec', 'hosts', i], 'duplicate-host',
            `VirtualService "${first.name}" (${first.file}) already routes host "${host}" for ${gateway === 'mesh' ? 'the sidecars' : `gateway ${gateway}`}; only one of them would apply: merge the rules into one VirtualService (IST0109)`);
        }
      }
    }
  },
};

interface RoutedHost {
  /** `gateway|scope|fqdn` (scope: a namespace it is exported to, or `*`): two VirtualServices with one key conflict. */
  key: string;
  /** The key of the same host exported to every namespace, which conflicts with any scope. */
  wide: string;
  gateway: string;
  host: string;
  /** Index of the host in spec.hosts. */
  i: number;
}

// The keys of a document depend on its text and its namespace; this rule runs on every
// change, so an unchanged document's keys are built once, not once per keystroke.
const routedHostsCache = new WeakMap<PolicyDocument, { namespace: string; hosts: RoutedHost[] }>();

function routedHosts(vs: PolicyDocument<'VirtualService'>, index: WorkspaceIndex): RoutedHost[] {
  const namespace = index.namespaceOf(vs);
  const cached = routedHostsCache.get(vs);
  if (cached && cached.namespace === namespace) return cached.hosts;
  const hosts: RoutedHost[] = [];
  const spec = obj(vs.value.spec);
  const exportTo = arr(spec.exportTo).filter((e): e is string => typeof e === 'string');
  const scopes = exportTo.length === 0 || exportTo.includes('*') ? ['*'] : [...new Set(exportTo.map((e) => (e === '.' ? namespace : e)))];
  for (const gateway of gatewaysOf(vs)) {
    arr(spec.hosts).forEach((h, i) => {
      const host = str(h);
      if (!host) return;
      const fqdn = index.fqdn(host, vs);
      for (const scope of scopes) hosts.push({ key: `${gateway}|${scope}|${fqdn}`, wide: `${gateway}|*|${fqdn}`, gateway, host, i });
    });
  }
  routedHostsCache.set(vs, { namespace, hosts });
  return hosts;
}
