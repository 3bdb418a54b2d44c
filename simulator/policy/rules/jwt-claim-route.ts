import { clusterWorkloads, selects, type ClusterWorkload } from '../cluster-workloads';
import type { PolicyDocument } from '../source';
import type { DocumentRule } from './rule';
import { arr, obj, str, strings } from '../plain';
import type { WorkspaceIndex } from '../workspace-index';

const CLAIM_HEADER = /^@request\.auth\.claims(\.|\[)/i;

/**
 * Routing on JWT claims (`headers: {"@request.auth.claims.sub": ...}`) is
 * Istio's gateway-only feature: a VirtualService that sidecars apply may not
 * use it (pilot's validation refuses it). At a gateway it needs a
 * RequestAuthentication — in the root namespace or the gateway workload's —
 * that selects each workload of the gateway, or no request has claims there
 * (IST0149, as Istio's JWTClaimRouteAnalyzer checks it: per gateway of the
 * VirtualService, per workload its selector picks). The workloads are Istio's
 * ingress gateway, the manifests' pods and the Mesh's.
 */
export const jwtClaimRoute: DocumentRule<'VirtualService'> = {
  codes: ['jwt-claim-route', 'jwt-claim-route-without-authn'],
  kinds: ['VirtualService'],
  facts: (index) => `${index.gatewayFacts}\n${clusterWorkloads(index).facts}\n${JSON.stringify(requestAuthentications(index))}`,
  check(vs, index, report) {
    const claim = claimKey(vs);
    if (!claim) return;
    const gateways = arr(obj(vs.value.spec).gateways).map(str).filter((g): g is string => !!g);
    if (gateways.length === 0 || gateways.includes('mesh')) {
      report(vs, claim.path, 'jwt-claim-route', `JWT claim based routing (key: ${claim.key}) is only supported for gateway, found no gateways: [${gateways.join(' ')}]; bind this VirtualService to a Gateway (and not to "mesh")`, { part: 'key' });
      return;
    }
    const authns = requestAuthentications(index);
    for (const name of gateways) {
      const gw = index.gateways.get(name.includes('/') ? name : `${index.namespaceOf(vs)}/${name}`);
      if (!gw) continue; // the gateways rule reports it
      const selector = strings(obj(gw.doc.value.spec).selector);
      const uncovered = clusterWorkloads(index).all.filter((w) => selects(selector, w.labels) && !covered(w, authns, index.rootNamespace));
      if (uncovered.length === 0) continue;
      report(vs, claim.path, 'jwt-claim-route-without-authn',
        `The virtual service uses the JWT claim based routing (key: ${claim.key}) but found no request authentication for the gateway ${name}'s ${uncovered.map((w) => w.title).join(', ')}; apply a RequestAuthentication in its namespace or the root namespace "${index.rootNamespace}" that selects it, or no request has claims to route on (IST0149)`,
        { part: 'key' });
    }
  },
};

interface Authn { namespace: string; selector: Record<string, string> }

function covered(w: ClusterWorkload, authns: readonly Authn[], rootNamespace: string): boolean {
  return authns.some((ra) => (ra.namespace === rootNamespace || ra.namespace === w.namespace) && selects(ra.selector, w.labels));
}

/** The first header match on a JWT claim, in headers or withoutHeaders. */
function claimKey(vs: PolicyDocument<'VirtualService'>): { key: string; path: (string | number)[] } | undefined {
  const http = arr(obj(vs.value.spec).http);
  for (let i = 0; i < http.length; i++) {
    const matches = arr(obj(http[i]).match);
    for (let j = 0; j < matches.length; j++) {
      for (const field of ['headers', 'withoutHeaders'] as const) {
        const key = Object.keys(obj(obj(matches[j])[field])).find((k) => CLAIM_HEADER.test(k));
        if (key) return { key, path: ['spec', 'http', i, 'match', j, field, key] };
      }
    }
  }
  return undefined;
}

/** The RequestAuthentications that select workloads by label (one attached by targetRef selects none). */
function requestAuthentications(index: WorkspaceIndex): Authn[] {
  return index.byKind.RequestAuthentication
    .filter((ra) => { const spec = obj(ra.value.spec); return spec.targetRef === undefined && arr(spec.targetRefs).length === 0; })
    .map((ra) => ({ namespace: index.namespaceOf(ra), selector: strings(obj(obj(ra.value.spec).selector).matchLabels) }));
}
