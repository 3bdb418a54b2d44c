import { credentialProblem } from '../credentials';
import { clusterWorkloads, selects } from '../cluster-workloads';
import type { DocumentRule } from './rule';
import { arr, obj, str, strings } from '../plain';

/**
 * A Gateway server's `credentialName` must name a Secret in the namespace of
 * a gateway workload the Gateway selects (IST0101), holding a certificate and
 * key with a certificate valid now (IST0161). Checked when the workspace
 * holds Kubernetes Secrets (a cluster's manifests): the Secrets of a cluster
 * are often kept elsewhere. A missing Secret is a warning, not a refused
 * edit: as on a cluster the Gateway applies and only that server refuses
 * handshakes until the Secret appears (control/gateway-ingress.ts).
 */
export const gatewayCredentials: DocumentRule<'Gateway'> = {
  codes: ['unknown-credential', 'invalid-credential'],
  kinds: ['Gateway'],
  facts: (index) => `${clusterWorkloads(index).facts}\n${JSON.stringify([...index.cluster.secrets].map(([key, s]) => [key, s.type, s.data]))}`,
  check(gw, index, report) {
    const secrets = index.cluster.secrets;
    if (secrets.size === 0) return;
    const spec = obj(gw.value.spec);
    const selector = strings(spec.selector);
    // Istio looks in the namespace of the gateway's pods; Istio's own ingress gateway is the last resort.
    const namespaces = [...new Set(clusterWorkloads(index).all.filter((w) => selects(selector, w.labels)).map((w) => w.namespace).reverse())];
    if (namespaces.length === 0) return; // gateway-workloads says the selector matches nothing
    arr(spec.servers).forEach((server, i) => {
      const name = str(obj(obj(server).tls).credentialName);
      if (!name) return;
      const keys = name.includes('/') ? [name] : namespaces.map((ns) => `${ns}/${name}`);
      const secret = keys.map((k) => secrets.get(k)).find((s) => s !== undefined);
      const path = ['spec', 'servers', i, 'tls', 'credentialName'];
      if (!secret) {
        report(gw, path, 'unknown-credential',
          `referenced credentialName not found (IST0101): no Secret "${name}" in namespace ${namespaces.map((ns) => `"${ns}"`).join(' or ')}, where the gateway workloads this Gateway selects run, so this server completes no TLS handshake until it exists (as Envoy's never-arriving SDS secret); create it there or fix the name`);
        return;
      }
      const problem = credentialProblem(secret, Date.now());
      if (problem) {
        report(gw, path, 'invalid-credential',
          `Secret ${secret.namespace}/${secret.name} is not a usable credential for gateway ${gw.name} (IST0161): ${problem}; the gateway cannot serve TLS on this server`);
      }
    });
  },
};
