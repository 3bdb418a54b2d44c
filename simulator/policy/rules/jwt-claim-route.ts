import { INGRESS_GATEWAY } from '../model';
import type { DocumentRule } from './rule';
import { arr, obj, str, type WorkspaceIndex } from '../workspace-index';

const CLAIM_HEADER = /^@request\.auth\.claims(\.|\[)/i;

/** Whether a RequestAuthentication selects the ingress gateway (in its namespace or the root namespace, its labels or none). */
function ingressHasRequestAuthentication(index: WorkspaceIndex): boolean {
  return index.byKind.RequestAuthentication.some((doc) => index.selectsIngressGateway(doc));
}

/**
 * Routing on JWT claims (`headers: {"@request.auth.claims.sub": ...}`) is
 * Istio's gateway-only feature: a VirtualService that sidecars apply may not
 * use it (pilot's validation refuses it), and at a gateway it needs a
 * RequestAuthentication there, or no request has claims (IST0149).
 */
export const jwtClaimRoute: DocumentRule<'VirtualService'> = {
  codes: ['jwt-claim-route', 'jwt-claim-route-without-authn'],
  kinds: ['VirtualService'],
  facts: (index) => String(ingressHasRequestAuthentication(index)),
  check(vs, index, report) {
    const spec = obj(vs.value.spec);
    const gateways = arr(spec.gateways).map(str).filter((g): g is string => !!g);
    const atSidecars = gateways.length === 0 || gateways.includes('mesh');
    let checkedAuthn = false;
    arr(spec.http).forEach((rule, i) => {
      arr(obj(rule).match).forEach((m, j) => {
        for (const field of ['headers', 'withoutHeaders'] as const) {
          for (const name of Object.keys(obj(obj(m)[field]))) {
            if (!CLAIM_HEADER.test(name)) continue;
            const path = ['spec', 'http', i, 'match', j, field, name];
            if (atSidecars) {
              report(vs, path, 'jwt-claim-route', `JWT claim based routing (key: ${name}) is only supported for gateway, found no gateways: [${gateways.join(' ')}]; bind this VirtualService to a Gateway (and not to "mesh")`, { part: 'key' });
            } else if (!checkedAuthn) {
              checkedAuthn = true;
              if (!ingressHasRequestAuthentication(index)) {
                report(vs, path, 'jwt-claim-route-without-authn', `The virtual service uses the JWT claim based routing (key: ${name}) but found no request authentication for the gateway pod; apply a RequestAuthentication in ${INGRESS_GATEWAY.namespace} selecting istio: ingressgateway, or no request has claims to route on (IST0149)`, { part: 'key' });
              }
            }
          }
        }
      });
    });
  },
};
