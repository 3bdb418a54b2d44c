import { isTlsPassthrough, terminatedProtocol, tlsModeOf } from '../gateway-tls';
import type { GatewayServer } from '../model';
import { arr, obj } from '../plain';
import type { DocumentRule } from './rule';

/** ServerTLSSettings fields the ingress does not honour when it terminates TLS. */
const UNHONOURED = ['subjectAltNames', 'verifyCertificateSpki', 'verifyCertificateHash', 'caCrl', 'credentialNames', 'tlsCertificates', 'insecureSkipVerify'] as const;

/**
 * A Gateway server's `tls` is simulated when it passes TLS through (protocol
 * TLS or HTTPS, mode PASSTHROUGH written or by default: the ingress routes it
 * by the tls[] sniHosts of the VirtualServices bound to the Gateway), when
 * an HTTPS or TLS server terminates it (SIMPLE, MUTUAL, OPTIONAL_MUTUAL,
 * ISTIO_MUTUAL: the ingress serves the server's port with its certificate,
 * then routes HTTP, or tcp[] rules for TLS), and `httpsRedirect` on an HTTP
 * server. Anything else (AUTO_PASSTHROUGH) gets a warning on `tls`, and a
 * field of a terminating server the ingress does not honour a warning on
 * that field.
 */
export const gatewayTls: DocumentRule<'Gateway'> = {
  codes: ['not-simulated'],
  kinds: ['Gateway'],
  check(gw, _index, report) {
    arr(obj(gw.value.spec).servers).forEach((raw, i) => {
      const server = obj(raw) as unknown as GatewayServer;
      if (server.tls === undefined || server.tls === null || isTlsPassthrough(server)) return;
      const protocol = String(obj(server.port).protocol ?? '?');
      if (terminatedProtocol(server)) {
        for (const field of UNHONOURED) {
          if (obj(server.tls)[field] === undefined) continue;
          report(gw, ['spec', 'servers', i, 'tls', field], 'not-simulated',
            `"spec.servers[${i}].tls.${field}" is accepted but not simulated locally (devmesh's ingress terminates this server's TLS with its certificate and client CA only); it will work on a cluster`, { part: 'key' });
        }
        return;
      }
      const tls = obj(server.tls);
      if (/^HTTP$/i.test(protocol) && Object.keys(tls).every((k) => k === 'httpsRedirect')) return;
      const mode = tlsModeOf(server) ?? 'PASSTHROUGH';
      report(gw, ['spec', 'servers', i, 'tls'], 'not-simulated',
        `"spec.servers[${i}].tls" (mode ${mode} on a ${protocol} server) is accepted but not simulated locally (devmesh's ingress terminates TLS for HTTPS and TLS servers with mode SIMPLE, MUTUAL, OPTIONAL_MUTUAL or ISTIO_MUTUAL, and passes it through with mode PASSTHROUGH; AUTO_PASSTHROUGH routes by SNI-encoded cluster names, which no local client sends); it will work on a cluster`,
        { part: 'key' });
    });
  },
};
