import type { PolicyDocument } from '../source';
import type { WorkspaceRule } from './rule';
import { gatewaysOf } from './destinations';
import { arr, obj, str, type WorkspaceIndex } from '../workspace-index';

/** Two VirtualServices for one host on the same gateway: which one applies is undefined (IST0109, KIA1106). */
export const duplicateHost: WorkspaceRule = {
  codes: ['duplicate-host'],
  reads: ['VirtualService', 'Mesh'],
  check(index, report) {
    const seen = new Map<string, PolicyDocument<'VirtualService'>>();
    for (const vs of index.byKind.VirtualService) {
      for (const { key, gateway, host, i } of routedHosts(vs, index)) {
        const first = seen.get(key);
        if (!first) {
          seen.set(key, vs);
        } else if (first.name !== vs.name || first.file !== vs.file) {
          report(vs, ['spec', 'hosts', i], 'duplicate-host',
            `VirtualService "${first.name}" (${first.file}) already routes host "${host}" for ${gateway === 'mesh' ? 'the sidecars' : `gateway ${gateway}`}; only one of them would apply: merge the rules into one VirtualService (IST0109)`);
        }
      }
    }
  },
};

interface RoutedHost {
  /** `gateway|fqdn`: two VirtualServices with one key conflict. */
  key: string;
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
  for (const gateway of gatewaysOf(vs)) {
    arr(spec.hosts).forEach((h, i) => {
      const host = str(h);
      if (host) hosts.push({ key: `${gateway}|${index.fqdn(host, vs)}`, gateway, host, i });
    });
  }
  routedHostsCache.set(vs, { namespace, hosts });
  return hosts;
}
