import { isTlsPassthrough, tlsModeOf } from '../gateway-tls';
import type { GatewayServer } from '../model';
import { arr, obj } from '../plain';
import type { DocumentRule } from './rule';

/**
 * A Gateway server's `tls` is simulated when it passes TLS through (protocol
 * TLS, mode PASSTHROUGH: the ingress routes it by the tls[] sniHosts of the
 * VirtualServices bound to the Gateway). Any other mode would terminate TLS
 * at the gateway, which devmesh's ingress does not: a warning on `tls`.
 */
export const gatewayTls: DocumentRule<'Gateway'> = {
  codes: ['not-simulated'],
  kinds: ['Gateway'],
  check(gw, _index, report) {
    arr(obj(gw.value.spec).servers).forEach((raw, i) => {
      const server = obj(raw) as unknown as GatewayServer;
      if (server.tls === undefined || server.tls === null || isTlsPassthrough(server)) return;
      const mode = tlsModeOf(server) ?? 'PASSTHROUGH';
      report(gw, ['spec', 'servers', i, 'tls'], 'not-simulated',
        `"spec.servers[${i}].tls" (mode ${mode} on a ${String(obj(server.port).protocol ?? '?')} server) is accepted but not simulated locally (devmesh's ingress terminates no TLS; it serves the server's hosts as plain HTTP on its port, and passes TLS through only for protocol TLS with mode PASSTHROUGH); it will work on a cluster`,
        { part: 'key' });
    });
  },
};
