/**
 * The Sidecar resource in force for a workload, and what it lets the
 * workload's sidecar know, as pilot scopes a proxy (pilot/pkg/model/
 * sidecar.go, istio/api networking/v1alpha3/sidecar.proto):
 *
 * - the Sidecar of the workload's namespace whose workloadSelector matches
 *   it, else the one of its namespace without a selector, else the one of
 *   the root namespace without a selector (the first written wins a tie);
 * - `egress[].hosts` are `namespace/dnsName`: the namespace `*` (any), `.`
 *   (the workload's own) or a name; the dnsName `*`, `*.suffix` or a name.
 *   A `~` before the namespace excludes what the entry names (`~/x` in any
 *   namespace); a host is known when an entry imports it and none excludes it;
 * - `outboundTrafficPolicy.mode` overrides the Mesh's for that workload.
 *
 * No Sidecar, or one without egress: every host (exported to the namespace)
 * is known. Pure.
 */
import { hostMatches } from '../../policy/hosts';
import type { OutboundTrafficMode, Resource } from '../../policy/model';

export interface SidecarScope {
  /** `ns/name` of the Sidecar in force; undefined when none applies. */
  source?: string;
  /** Whether the sidecar knows a host of a namespace (a service FQDN or a ServiceEntry host). */
  knows(host: string, namespace: string): boolean;
  /** The Sidecar's outboundTrafficPolicy.mode, when it sets one. */
  mode?: OutboundTrafficMode;
}

interface HostEntry { exclude: boolean; namespace: string; host: string }

export function sidecarScope(
  all: readonly Resource<'Sidecar'>[],
  workload: { namespace: string; labels: Record<string, string> },
  rootNamespace: string,
  defaultNamespace: string,
): SidecarScope {
  const nsOf = (s: Resource<'Sidecar'>) => s.metadata.namespace ?? defaultNamespace;
  const selector = (s: Resource<'Sidecar'>) => s.spec.workloadSelector?.labels ?? {};
  const hasSelector = (s: Resource<'Sidecar'>) => Object.keys(selector(s)).length > 0;
  const sidecar = all.find((s) => nsOf(s) === workload.namespace && hasSelector(s) && Object.entries(selector(s)).every(([k, v]) => workload.labels[k] === v))
    ?? all.find((s) => nsOf(s) === workload.namespace && !hasSelector(s))
    ?? all.find((s) => nsOf(s) === rootNamespace && !hasSelector(s));
  if (!sidecar) return { knows: () => true };
  const entries = (sidecar.spec.egress ?? []).flatMap((e) => e.hosts ?? []).map((h) => parseHost(h, workload.namespace));
  const imports = entries.filter((e) => !e.exclude);
  const excludes = entries.filter((e) => e.exclude);
  const covers = (e: HostEntry, host: string, namespace: string) => (e.namespace === '*' || e.namespace === namespace) && hostMatches(e.host, host);
  const scoped = (sidecar.spec.egress ?? []).length > 0;
  return {
    source: `${nsOf(sidecar)}/${sidecar.metadata.name}`,
    mode: sidecar.spec.outboundTrafficPolicy?.mode,
    knows: (host, namespace) => !scoped || (imports.some((e) => covers(e, host, namespace)) && !excludes.some((e) => covers(e, host, namespace))),
  };
}

function parseHost(entry: string, ownNamespace: string): HostEntry {
  const exclude = entry.startsWith('~');
  const body = exclude ? entry.slice(1) : entry;
  const slash = body.indexOf('/');
  const ns = slash < 0 ? '*' : body.slice(0, slash);
  const host = (slash < 0 ? body : body.slice(slash + 1)).toLowerCase();
  // `~/x`: a bare `~` is the wildcard namespace; `./x`: the workload's own namespace.
  const namespace = ns === '' || ns === '*' ? '*' : ns === '.' ? ownNamespace : ns;
  return { exclude, namespace, host };
}
