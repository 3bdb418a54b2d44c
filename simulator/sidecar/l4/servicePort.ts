/**
 * L4 inbound: which of this workload's ports the connection is for — the
 * `<fqdn>:<port>` the caller's sidecar named in its CONNECT (the tunnel's
 * counterpart of x-devmesh-destination), or the port the listener already
 * chose for a plaintext client — and whether that port's PeerAuthentication
 * mode admits the peer (portLevelMtls). Refused: the connection is reset, as
 * Envoy has no filter chain for it.
 */
import { admits } from '../security/peerAuthentication';
import type { L4Filter } from './context';

export const l4ServicePort = (): L4Filter => (next) => (ctx) => {
  const t = ctx.tables;
  if (!ctx.inbound && ctx.requested) ctx.inbound = t.inbound?.byDestination.get(ctx.requested.toLowerCase());
  const port = ctx.inbound;
  if (!port) {
    return ctx.fail({ flag: 'NR', reason: 'unknown-destination-port', status: 404, message: `${t.identity.name} serves no port ${ctx.requested ?? '(none named)'}` });
  }
  if (!admits(port.mtls.mode, { tls: ctx.source.tls !== false, spiffeId: ctx.source.spiffeId })) {
    return ctx.fail({ reason: 'mtls-mode-refused', status: 503, message: `port ${port.number} of ${t.identity.name} is ${port.mtls.mode} (${port.mtls.source})`, reset: true });
  }
  next(ctx);
};
