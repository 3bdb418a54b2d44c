import { isTlsPassthrough, terminatingMode, tlsModeOf } from '../gateway-tls';
import type { GatewayServer } from '../model';
import { arr, obj } from '../plain';
import type { DocumentRule } from './rule';

/** ServerTLSSettings fields the ingress does not honour when it terminates TLS. */
const UNHONOURED = ['subjectAltNames', 'verifyCertificateSpki', 'verifyCertificateHash', 'caCrl', 'credentialNames', 'tlsCertificates', 'insecureSkipVerify'] as const;

/**
 * A Gateway server's `tls` is simulated when it passes TLS through (protocol
 * TLS, mode PASSTHROUGH: the ingress routes it by the tls[] sniHosts of the
 * VirtualServices bound to the Gateway) and when an HTTPS server terminates
 * it (SIMPLE, MUTUAL, OPTIONAL_MUTUAL, ISTIO_MUTUAL: the ingress serves the
 * server's port with its certificate), and `httpsRedirect` on an HTTP
 * server. Anything else (a TLS server that terminates, AUTO_PASSTHROUGH,
 * an HTTPS server with no mode) gets a warning on `tls`, and a field of a
 * terminating server the ingress does not honour a warning on that field.
 */
export const gatewayTls: DocumentRule<'Gateway'> = {
  codes: ['not-simulated'],
  kinds: ['Gateway'],
  check(gw, _index, report) {
    arr(obj(gw.value.spec).servers).forEach((raw, i) => {
      const server = obj(raw) as unknown as GatewayServer;
      if (server.tls === undefined || server.tls === null || isTlsPassthrough(server)) return;
      const protocol = String(obj(server.port).protocol ?? '?');
      if (terminatingMode(server)) {
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
        `"spec.servers[${i}].tls" (mode ${mode} on a ${protocol} server) is accepted but not simulated locally (devmesh's ingress terminates TLS for HTTPS servers with mode SIMPLE, MUTUAL, OPTIONAL_MUTUAL or ISTIO_MUTUAL, and passes it through for protocol TLS with mode PASSTHROUGH; this server's hosts are served as plain HTTP on the ingress port); it will work on a cluster`,
        { part: 'key' });
    });
  },
};
