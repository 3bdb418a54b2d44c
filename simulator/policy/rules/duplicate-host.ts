import { hostsOverlap } from '../hosts';
import type { PolicyDocument } from '../source';
import type { DocumentRule } from './rule';
import { gatewaysOf } from './destinations';
import { arr, obj, str, type WorkspaceIndex } from '../workspace-index';

/**
 * Two VirtualServices that the sidecars (`mesh`) apply to one host: only the
 * oldest applies (pilot's creationTimestamp order; IST0109, KIA1106). VirtualServices bound only to
 * gateways are merged by Istio and never conflict. `exportTo` scopes a
 * VirtualService's hosts as Istio's analyzer does: two exported everywhere
 * conflict on the same host; one exported to some namespaces conflicts with
 * one exported everywhere whose host overlaps it. Each VirtualService of a
 * conflict gets the finding.
 */
export const duplicateHost: DocumentRule<'VirtualService'> = {
  codes: ['duplicate-host'],
  kinds: ['VirtualService'],
  facts: (index) => scopedHosts(index).facts,
  factsOf: (vs, index) => JSON.stringify(conflictsOf(vs, index).map((c) => [c.i, c.others.map(id)])),
  check(vs, index, report) {
    for (const { i, host, others } of conflictsOf(vs, index)) {
      report(vs, ['spec', 'hosts', i], 'duplicate-host',
        `VirtualService ${others.map((o) => `${id(o)} (${o.file})`).join(', ')} also routes host "${host}" for the sidecars (IST0109): only the oldest applies there (creationTimestamp, then name; without one, the first written), the other's rules are unused; merge them into one VirtualService, or scope them apart with exportTo`);
    }
  },
};

interface ScopedHost {
  vs: PolicyDocument<'VirtualService'>;
  /** Index of the host in spec.hosts. */
  i: number;
  host: string;
  fqdn: string;
  /** `*`, or a namespace the VirtualService is exported to. */
  scope: string;
}

interface HostTable {
  byKey: Map<string, ScopedHost[]>;
  byVs: Map<PolicyDocument<'VirtualService'>, ScopedHost[]>;
  /** The hosts exported everywhere, and those exported to some namespaces: the two meet by overlap. */
  everywhere: ScopedHost[];
  scoped: ScopedHost[];
  facts: string;
}

const tables = new WeakMap<WorkspaceIndex, HostTable>();

/** Every host of every VirtualService the sidecars apply, by `scope/fqdn`. */
function scopedHosts(index: WorkspaceIndex): HostTable {
  let table = tables.get(index);
  if (table) return table;
  table = { byKey: new Map(), byVs: new Map(), everywhere: [], scoped: [], facts: '' };
  const facts: string[] = [];
  for (const vs of index.byKind.VirtualService) {
    const own = hostsOf(vs, index);
    if (own.entries.length === 0) continue;
    facts.push(own.facts);
    table.byVs.set(vs, own.entries);
    for (const entry of own.entries) {
      const key = `${entry.scope}/${entry.fqdn}`;
      const list = table.byKey.get(key);
      if (list) list.push(entry);
      else table.byKey.set(key, [entry]);
      (entry.scope === '*' ? table.everywhere : table.scoped).push(entry);
    }
  }
  table.facts = facts.join('\n');
  tables.set(index, table);
  return table;
}

// A VirtualService's scoped hosts depend on its text and namespace: computed once per document.
const hostsCache = new WeakMap<PolicyDocument, { namespace: string; entries: ScopedHost[]; facts: string }>();

function hostsOf(vs: PolicyDocument<'VirtualService'>, index: WorkspaceIndex): { entries: ScopedHost[]; facts: string } {
  const namespace = index.namespaceOf(vs);
  let cached = hostsCache.get(vs);
  if (cached && cached.namespace === namespace) return cached;
  const entries: ScopedHost[] = [];
  if (gatewaysOf(vs).includes('mesh')) {
    const spec = obj(vs.value.spec);
    const exportTo = arr(spec.exportTo).filter((e): e is string => typeof e === 'string');
    const scopes = exportTo.length === 0 || exportTo.includes('*') ? ['*'] : [...new Set(exportTo.map((e) => (e === '.' ? namespace : e)))];
    arr(spec.hosts).forEach((h, i) => {
      const host = str(h);
      if (!host) return;
      const fqdn = index.fqdn(host, vs);
      for (const scope of scopes) entries.push({ vs, i, host, fqdn, scope });
    });
  }
  hostsCache.set(vs, (cached = { namespace, entries, facts: `${namespace}/${vs.name} ${entries.map((e) => `${e.scope}/${e.fqdn}`).join(' ')}` }));
  return cached;
}

/** The hosts of `vs` that another VirtualService's hosts conflict with, and those VirtualServices. */
function conflictsOf(vs: PolicyDocument<'VirtualService'>, index: WorkspaceIndex): { i: number; host: string; others: PolicyDocument<'VirtualService'>[] }[] {
  const table = scopedHosts(index);
  const out = new Map<number, { i: number; host: string; others: Set<PolicyDocument<'VirtualService'>> }>();
  const add = (mine: ScopedHost, other: ScopedHost) => {
    if (other.vs === vs) return;
    const entry = out.get(mine.i) ?? { i: mine.i, host: mine.host, others: new Set() };
    entry.others.add(other.vs);
    out.set(mine.i, entry);
  };
  for (const m of table.byVs.get(vs) ?? []) {
    for (const other of table.byKey.get(`${m.scope}/${m.fqdn}`) ?? []) add(m, other);
    // A host exported to some namespaces meets every overlapping host exported everywhere, and the other way round.
    for (const other of m.scope === '*' ? table.scoped : table.everywhere) if (hostsOverlap(m.fqdn, other.fqdn)) add(m, other);
  }
  return [...out.values()].sort((a, b) => a.i - b.i).map((e) => ({ i: e.i, host: e.host, others: [...e.others] }));
}

function id(vs: PolicyDocument): string {
  return `${vs.namespace ? `${vs.namespace}/` : ''}${vs.name}`;
}
