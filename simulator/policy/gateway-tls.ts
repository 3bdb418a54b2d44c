/**
 * Which Gateway servers pass TLS through (Istio's "Ingress gateway without
 * TLS termination"): protocol TLS with `tls.mode` PASSTHROUGH (the mode's
 * default), or HTTPS with `tls.mode: PASSTHROUGH` written out. The ingress
 * binds such a server's port and routes each connection by the ClientHello's
 * server name through the tls[] rules of the VirtualServices bound to the
 * Gateway; the client's TLS reaches the destination untouched. Pure.
 */
import type { GatewayServer } from './model';

export function tlsModeOf(server: Pick<GatewayServer, 'tls'>): string | undefined {
  const tls = server.tls;
  return tls && typeof tls === 'object' && typeof (tls as { mode?: unknown }).mode === 'string' ? (tls as { mode: string }).mode : undefined;
}

export function isTlsPassthrough(server: Pick<GatewayServer, 'port' | 'tls'>): boolean {
  const protocol = String(server.port?.protocol ?? '').toUpperCase();
  const mode = tlsModeOf(server);
  if (protocol === 'TLS') return (mode ?? 'PASSTHROUGH') === 'PASSTHROUGH';
  return protocol === 'HTTPS' && mode === 'PASSTHROUGH';
}
