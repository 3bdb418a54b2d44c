import type { DocumentRule } from './rule';
import { arr, obj, str } from '../plain';

/**
 * A MUTUAL or OPTIONAL_MUTUAL Gateway server that names its certificate by
 * files (no credentialName) must name the CA that verifies clients in
 * `caCertificates`: Istio's validation rejects the Gateway otherwise
 * ("MUTUAL TLS requires a client CA bundle", validateTLSOptions). With a
 * credentialName the CA comes from Secrets (caCertOf: a `-cacert` Secret,
 * else the credential's `ca.crt`), which `devmesh up` resolves and says
 * when it is missing.
 */
export const gatewayMutualCa: DocumentRule<'Gateway'> = {
  codes: ['mutual-tls-no-ca'],
  kinds: ['Gateway'],
  check(gw, _index, report) {
    arr(obj(gw.value.spec).servers).forEach((raw, i) => {
      const tls = obj(obj(raw).tls);
      const mode = str(tls.mode);
      if ((mode !== 'MUTUAL' && mode !== 'OPTIONAL_MUTUAL') || str(tls.credentialName) || arr(tls.credentialNames).length > 0 || str(tls.caCertificates)) return;
      report(gw, ['spec', 'servers', i, 'tls', 'mode'], 'mutual-tls-no-ca',
        `MUTUAL TLS requires a client CA bundle (Istio rejects this Gateway, IST0106): spec.servers[${i}].tls has mode ${mode} and no caCertificates; set caCertificates to the PEM file of the CA that signs client certificates, or use a credentialName Secret with a ca.crt key`);
    });
  },
};
