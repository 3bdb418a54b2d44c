import { byCreation } from '../gateway-api/age';
import { BUILT_IN_PROVIDERS } from '../telemetry';
import type { PolicyDocument } from '../source';
import type { WorkspaceRule } from './rule';
import { arr, obj, str } from '../workspace-index';

const SECTIONS = ['tracing', 'accessLogging', 'metrics'] as const;

/**
 * Telemetry resources: every provider they name is one the mesh has (Istio's
 * built-in `envoy`, `prometheus`, `stackdriver`, or a Mesh extensionProviders
 * entry; pilot drops a name it cannot fetch, so the entry does nothing), and
 * of several Telemetries at one level only the oldest applies (pilot's
 * applicableTelemetries; istioctl's IST0159 and IST0158).
 */
export const telemetry: WorkspaceRule = {
  codes: ['unknown-provider', 'ignored-telemetry'],
  reads: ['Mesh', 'Telemetry'],
  check(index, report) {
    const docs = index.byKind.Telemetry;
    if (docs.length === 0) return;
    const declared = index.mesh?.extensionProviders.map((p) => p.name) ?? [];
    const known = new Set([...BUILT_IN_PROVIDERS, ...declared].map((n) => n.toLowerCase()));
    for (const doc of docs) {
      const spec = obj(doc.value.spec);
      for (const section of SECTIONS) {
        arr(spec[section]).forEach((entry, i) => {
          arr(obj(entry).providers).forEach((p, j) => {
            const name = str(obj(p).name);
            if (name === undefined || known.has(name.toLowerCase())) return;
            report(doc, ['spec', section, i, 'providers', j, 'name'], 'unknown-provider',
              `provider "${name}" is not defined: name one of ${[...BUILT_IN_PROVIDERS, ...declared].map((n) => `"${n}"`).join(', ')}, or add it to the Mesh's spec.extensionProviders; Istio ignores a provider it cannot find, so this ${section} entry has no effect`);
          });
        });
      }
    }
    ignoredTelemetries(docs, index.mesh?.namespace ?? 'default', report);
  },
};

function ignoredTelemetries(docs: PolicyDocument<'Telemetry'>[], defaultNamespace: string, report: Parameters<WorkspaceRule['check']>[1]): void {
  const nsOf = (d: PolicyDocument<'Telemetry'>) => d.namespace ?? defaultNamespace;
  const ordered = byCreation(docs, (d) => ({ created: str(obj(d.value.metadata).creationTimestamp), name: d.name, namespace: nsOf(d) }));
  const first = new Map<string, PolicyDocument<'Telemetry'>>();
  for (const doc of ordered) {
    const spec = obj(doc.value.spec);
    const labels = obj(obj(spec.selector).matchLabels);
    const refs = [...(spec.targetRef ? [spec.targetRef] : []), ...arr(spec.targetRefs)];
    if (refs.length > 0) continue;
    const selector = Object.keys(labels).sort().map((k) => `${k}=${String(labels[k])}`).join(',');
    const key = `${nsOf(doc)}\0${selector}`;
    const older = first.get(key);
    if (!older) {
      first.set(key, doc);
      continue;
    }
    const what = selector ? `selects the same workloads (${selector}) as` : 'is namespace-wide, as is';
    report(doc, selector ? ['spec', 'selector'] : ['metadata', 'name'], 'ignored-telemetry',
      `this Telemetry ${what} ${nsOf(older)}/${older.name}, which is older and applies instead (IST0${selector ? '158' : '159'}): merge the two, or give this one a selector`);
  }
}
