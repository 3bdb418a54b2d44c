/**
 * XFCC: tells the app who called, in Envoy's `x-forwarded-client-cert`
 * format, per proxyHeaders.forwardedClientCert (Istio's sidecar default
 * APPEND_FORWARD: this hop's element after whatever a verified mTLS peer
 * sent; the caller's sidecar never forwards its app's value, as Envoy's
 * outbound listener sanitizes it) and setCurrentClientCertDetails.
 * Envoy's connection manager sets it before any filter runs, so it comes
 * before the inbound policies: RBAC and ext_authz see this hop's element.
 */
import { setRequestHeader, type Filter } from '../context';
import type { MeshTables } from '../tables';
import { formatXfcc, forwardedClientCert } from '../security/xfcc';

const XFCC = 'x-forwarded-client-cert';

/** The XFCC the inbound listener hands on, for a peer (`certHash`: of its certificate) and what the peer sent. Explain calls it too. */
export function inboundXfcc(t: MeshTables, peer: { spiffeId?: string; certHash?: string }, incoming: unknown): string | undefined {
  const h = t.defaults.proxyHeaders;
  const { spiffeId, certHash } = peer;
  const element = spiffeId && certHash ? formatXfcc(t.identity.spiffeId, { spiffeId, certHash }, h.setCurrentClientCertDetails) : undefined;
  return forwardedClientCert(h.forwardedClientCert.inbound, typeof incoming === 'string' ? incoming : undefined, element);
}

export const xfcc = (): Filter => (next) => (ctx) => {
  setRequestHeader(ctx, XFCC, inboundXfcc(ctx.tables, ctx.source, ctx.headers[XFCC]));
  next(ctx);
};
