import type { WorkspaceRule } from './rule';
import { arr, obj, str } from '../workspace-index';

/**
 * A workload whose PeerAuthentication is STRICT refuses plaintext, so a
 * DestinationRule that sends it plaintext (tls.mode DISABLE) breaks every call
 * (IST0113).
 */
export const mtlsConflict: WorkspaceRule = {
  codes: ['mtls-conflict'],
  reads: ['DestinationRule', 'PeerAuthentication', 'Mesh'],
  check(index, report) {
    const mesh = index.mesh;
    if (!mesh) return;
    const pas = index.byKind.PeerAuthentication;
    for (const dr of index.byKind.DestinationRule) {
      const spec = obj(dr.value.spec);
      const host = str(spec.host);
      const service = host ? index.service(host, dr) : undefined;
      if (!service) continue;
      const policies: { path: (string | number)[]; mode: unknown }[] = [
        { path: ['spec', 'trafficPolicy', 'tls', 'mode'], mode: obj(obj(spec.trafficPolicy).tls).mode },
        ...arr(spec.subsets).map((s, i) => ({ path: ['spec', 'subsets', i, 'trafficPolicy', 'tls', 'mode'], mode: obj(obj(obj(s).trafficPolicy).tls).mode })),
      ];
      for (const p of policies) {
        if (p.mode !== 'DISABLE') continue;
        for (const w of service.workloads) {
          const strict = pas.find((pa) => {
            const paSpec = obj(pa.value.spec);
            const ns = index.namespaceOf(pa);
            const selector = obj(obj(paSpec.selector).matchLabels);
            const rooted = ns === index.rootNamespace && ns !== w.namespace;
            const applies = (ns === w.namespace || (rooted && Object.keys(selector).length === 0))
              && Object.entries(selector).every(([k, v]) => w.labels[k] === String(v));
            return applies && obj(paSpec.mtls).mode === 'STRICT';
          });
          if (strict) {
            report(dr, p.path, 'mtls-conflict',
              `tls mode DISABLE sends plaintext to ${service.name}, but PeerAuthentication "${strict.name}" requires STRICT mTLS for workload ${w.name}: every request would fail; use ISTIO_MUTUAL (IST0113)`);
            break;
          }
        }
      }
    }
  },
};
