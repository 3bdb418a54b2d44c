import { clusterWorkloads, selects } from '../cluster-workloads';
import type { PolicyDocument } from '../source';
import type { DocumentRule } from './rule';
import { arr, obj, strings } from '../plain';
import type { WorkspaceIndex } from '../workspace-index';

const CLAIM = /^@request\.auth\.claims[.[]/;

/**
 * Routing on JWT claims (`headers: { "@request.auth.claims.group": ... }`)
 * works only at gateways (IST0106 at the sidecars), and only where a
 * RequestAuthentication — in the root namespace or the gateway workload's —
 * selects the gateway workload, or the claims are never there (IST0149).
 */
export const jwtClaimRoutes: DocumentRule<'VirtualService'> = {
  codes: ['jwt-claim-route', 'bad-value'],
  kinds: ['VirtualService'],
  facts: (index) => `${index.gatewayFacts}\n${clusterWorkloads(index).facts}\n${JSON.stringify(requestAuthentications(index))}`,
  check(vs, index, report) {
    const claim = claimKey(vs);
    if (!claim) return;
    const gateways = arr(obj(vs.value.spec).gateways).filter((g): g is string => typeof g === 'string');
    if (gateways.length === 0 || gateways.includes('mesh')) {
      report(vs, claim.path, 'bad-value', `routing on JWT claims ("${claim.key}") works only at gateways, and this VirtualService applies at the sidecars (IST0106): bind it to Gateways only`);
      return;
    }
    const authns = requestAuthentications(index);
    gateways.forEach((name, i) => {
      const gw = index.gateways.get(name.includes('/') ? name : `${index.namespaceOf(vs)}/${name}`);
      if (!gw) return; // the gateways rule reports it
      const selector = strings(obj(gw.doc.value.spec).selector);
      const uncovered = clusterWorkloads(index).all.filter((w) => selects(selector, w.labels)
        && !authns.some((ra) => (ra.namespace === index.rootNamespace || ra.namespace === w.namespace) && selects(ra.selector, w.labels)));
      if (uncovered.length === 0) return;
      report(vs, ['spec', 'gateways', i], 'jwt-claim-route',
        `this VirtualService routes on the JWT claim "${claim.key}" at gateway ${name}, but no RequestAuthentication applies to ${uncovered.map((w) => w.title).join(', ')} (IST0149): the claim is never there; add a RequestAuthentication that selects the gateway's workloads`);
    });
  },
};

function claimKey(vs: PolicyDocument<'VirtualService'>): { key: string; path: (string | number)[] } | undefined {
  const http = arr(obj(vs.value.spec).http);
  for (let i = 0; i < http.length; i++) {
    const matches = arr(obj(http[i]).match);
    for (let j = 0; j < matches.length; j++) {
      for (const field of ['headers', 'withoutHeaders'] as const) {
        const key = Object.keys(obj(obj(matches[j])[field])).find((k) => CLAIM.test(k));
        if (key) return { key, path: ['spec', 'http', i, 'match', j, field, key] };
      }
    }
  }
  return undefined;
}

function requestAuthentications(index: WorkspaceIndex): { namespace: string; selector: Record<string, string> }[] {
  return (index.cluster.istio.get('RequestAuthentication') ?? []).map((ra) => ({
    namespace: ra.namespace ?? index.defaultNamespace,
    selector: strings(obj(obj(ra.value.spec).selector).matchLabels),
  }));
}

