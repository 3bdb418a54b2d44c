import { credentialProblem } from '../credentials';
import { caCertOf, tlsSecrets } from '../gateway-api/secrets';
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
 * handshakes until the Secret appears (control/gateway-ingress.ts). A
 * MUTUAL or OPTIONAL_MUTUAL server's client CA is resolved as the ingress
 * resolves it (caCertOf: istiod's GetCaCert of `<credentialName>-cacert`,
 * or the caCertCredentialName resource): none, and it refuses everyone.
 */
export const gatewayCredentials: DocumentRule<'Gateway'> = {
  codes: ['unknown-credential', 'invalid-credential', 'mutual-credential-no-ca'],
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
    let withCa: ReturnType<typeof tlsSecrets> | undefined;
    arr(spec.servers).forEach((server, i) => {
      const tls = obj(obj(server).tls);
      const name = str(tls.credentialName);
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
      const mode = str(tls.mode);
      if (mode !== 'MUTUAL' && mode !== 'OPTIONAL_MUTUAL') return;
      const caName = str(tls.caCertCredentialName);
      const resource = caName ?? `${name}-cacert`;
      const caPath = ['spec', 'servers', i, 'tls', caName ? 'caCertCredentialName' : 'credentialName'];
      if (!resource.endsWith('-cacert')) {
        report(gw, caPath, 'mutual-credential-no-ca',
          `caCertCredentialName "${resource}" does not end in "-cacert": istiod serves kubernetes://${resource} as a certificate and key, never a CA, so this ${mode} server refuses every connection; name the CA Secret "${resource}-cacert"`);
        return;
      }
      withCa ??= tlsSecrets(index.references, index.defaultNamespace);
      const ca = caCertOf(withCa, resource.includes('/') ? [resource] : namespaces.map((ns) => `${ns}/${resource}`));
      if ('problem' in ca) {
        report(gw, caPath, 'mutual-credential-no-ca',
          `${mode} has no CA to verify client certificates: ${ca.problem} (istiod: failed to fetch ca certificate for kubernetes://${resource}), so this server refuses every connection`);
      }
    });
  },
};
