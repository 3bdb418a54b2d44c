import type { Rule } from './rule';
import { arr, obj, str } from '../workspace-index';

/**
 * AuthorizationPolicy principals are SPIFFE ids without `spiffe://`:
 * `<trustDomain>/ns/<namespace>/sa/<serviceAccount>`. One that names a service
 * account no workload runs as can never match (KIA0106).
 */
export const principals: Rule = {
  codes: ['principal-format', 'unknown-principal'],
  check(index, report) {
    const mesh = index.mesh;
    const accounts = new Set((mesh?.workloads ?? []).map((w) => `${w.namespace}/sa/${w.serviceAccount}`));
    // The ingress runs as Istio's ingress gateway account, so policies written for a cluster keep working.
    accounts.add('istio-system/sa/istio-ingressgateway-service-account');
    for (const ap of index.byKind.AuthorizationPolicy) {
      arr(obj(ap.value.spec).rules).forEach((rule, i) => {
        arr(obj(rule).from).forEach((from, j) => {
          const source = obj(obj(from).source);
          for (const field of ['principals', 'notPrincipals'] as const) {
            arr(source[field]).forEach((p, k) => {
              const principal = str(p);
              if (!principal) return;
              const path = ['spec', 'rules', i, 'from', j, 'source', field, k];
              if (principal.startsWith('spiffe://')) {
                report(ap, path, 'principal-format',
                  `write principals without "spiffe://": "${principal.slice(9)}"`, { data: { replacement: principal.slice(9) } });
                return;
              }
              if (!mesh || principal.includes('*')) return;
              const m = /^([^/]+)\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(principal);
              if (!m) {
                report(ap, path, 'principal-format',
                  `"${principal}" is not a principal: write "<trustDomain>/ns/<namespace>/sa/<serviceAccount>", e.g. "${mesh.trustDomain}/ns/${mesh.namespace}/sa/${mesh.workloads[0]?.serviceAccount ?? 'productpage'}"`);
                return;
              }
              const [, td, ns, sa] = m;
              if (td !== mesh.trustDomain && td !== 'cluster.local') {
                report(ap, path, 'unknown-principal', `trust domain "${td}" is not the Mesh's ("${mesh.trustDomain}"); this principal never matches`);
              } else if (!accounts.has(`${ns}/sa/${sa}`)) {
                const known = [...new Set(mesh.workloads.map((w) => w.serviceAccount))].join(', ');
                report(ap, path, 'unknown-principal',
                  `no workload runs as service account "${sa}" in namespace "${ns}" (service accounts: ${known}); this principal never matches (KIA0106)`);
              }
            });
          }
        });
      });
    }
  },
};
