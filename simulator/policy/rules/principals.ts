import type { DocumentRule } from './rule';
import { arr, obj, str, type MeshView } from '../workspace-index';
import { ISTIO_IDENTITY } from '../flavors';

/**
 * AuthorizationPolicy principals are written in the Mesh flavor's form
 * (its identity format; Istio: SPIFFE ids without `spiffe://`,
 * `<trustDomain>/ns/<namespace>/sa/<serviceAccount>`). One that names a service
 * account no workload runs as can never match (KIA0106).
 */
export const principals: DocumentRule<'AuthorizationPolicy'> = {
  codes: ['principal-format', 'unknown-principal'],
  kinds: ['AuthorizationPolicy'],
  facts: (index) => index.meshFacts,
  check(ap, index, report) {
    const mesh = index.mesh;
    const identity = mesh?.flavor.identity ?? ISTIO_IDENTITY;
    const accounts = serviceAccounts(mesh);
    arr(obj(ap.value.spec).rules).forEach((rule, i) => {
      arr(obj(rule).from).forEach((from, j) => {
        const source = obj(obj(from).source);
        for (const field of ['principals', 'notPrincipals'] as const) {
          arr(source[field]).forEach((p, k) => {
            const principal = str(p);
            if (!principal) return;
            const path = ['spec', 'rules', i, 'from', j, 'source', field, k];
            // A certificate's id where its principal belongs: the flavor says what to write instead.
            const replacement = principal.startsWith('spiffe://') ? identity.principal(principal) : principal;
            if (replacement !== principal) {
              report(ap, path, 'principal-format',
                `write principals without "spiffe://": "${replacement}"`, { data: { replacement } });
              return;
            }
            if (!mesh || principal.includes('*')) return;
            const parsed = identity.parsePrincipal(principal);
            if (!parsed) {
              const example = identity.principal(identity.mint(mesh.trustDomain, mesh.workloads[0]?.namespace ?? mesh.namespace, mesh.workloads[0]?.serviceAccount ?? 'productpage'));
              report(ap, path, 'principal-format',
                `"${principal}" is not a principal: write "${identity.principalForm}", e.g. "${example}"`);
              return;
            }
            const { trustDomain: td, namespace: ns, serviceAccount: sa } = parsed;
            if (td !== mesh.trustDomain && td !== 'cluster.local') {
              report(ap, path, 'unknown-principal', `trust domain "${td}" is not the Mesh's ("${mesh.trustDomain}"); this principal never matches in the local mesh`);
            } else if (!accounts.has(`${ns}/sa/${sa}`)) {
              const here = [...new Set(mesh.workloads.filter((w) => w.namespace === ns).map((w) => w.serviceAccount))];
              const elsewhere = mesh.workloads.filter((w) => w.serviceAccount === sa).map((w) => w.namespace);
              const known = here.length ? `service accounts there: ${here.join(', ')}` : `no workload runs in namespace "${ns}"`;
              const hint = elsewhere.length ? `; "${sa}" runs in namespace ${[...new Set(elsewhere)].map((n) => `"${n}"`).join(', ')}: write "${identity.principal(identity.mint(td, elsewhere[0], sa))}"` : '';
              report(ap, path, 'unknown-principal',
                `no workload runs as service account "${sa}" in namespace "${ns}" (${known})${hint}; this principal never matches in the local mesh (KIA0106)`);
            }
          });
        }
      });
    });
  },
};

// The accounts of a Mesh view, computed once per view (a Mesh file's view lives as long as its text).
const accountsOf = new WeakMap<MeshView, Set<string>>();

function serviceAccounts(mesh: MeshView | undefined): Set<string> {
  let accounts = mesh && accountsOf.get(mesh);
  if (!accounts) {
    accounts = new Set((mesh?.workloads ?? []).map((w) => `${w.namespace}/sa/${w.serviceAccount}`));
    // The ingress runs as Istio's ingress gateway account, so policies written for a cluster keep working.
    accounts.add('istio-system/sa/istio-ingressgateway-service-account');
    if (mesh) accountsOf.set(mesh, accounts);
  }
  return accounts;
}
