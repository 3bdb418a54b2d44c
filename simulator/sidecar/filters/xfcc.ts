/**
 * XFCC: tells the app who called, in Envoy's `x-forwarded-client-cert`
 * format, per proxyHeaders.forwardedClientCert (Istio's sidecar default
 * APPEND_FORWARD: this hop's element after whatever a verified mTLS peer
 * sent; the caller's sidecar never forwards its app's value, as Envoy's
 * outbound listener sanitizes it) and setCurrentClientCertDetails.
 */
import type { Filter } from '../context';
import { formatXfcc, forwardedClientCert } from '../security/xfcc';

const XFCC = 'x-forwarded-client-cert';

export const xfcc = (): Filter => (next) => (ctx) => {
  const h = ctx.tables.defaults.proxyHeaders;
  const { spiffeId, certHash } = ctx.source;
  const element = spiffeId && certHash ? formatXfcc(ctx.tables.identity.spiffeId, { spiffeId, certHash }, h.setCurrentClientCertDetails) : undefined;
  const incoming = ctx.headers[XFCC];
  const value = forwardedClientCert(h.forwardedClientCert.inbound, typeof incoming === 'string' ? incoming : undefined, element);
  if (value === undefined) delete ctx.headers[XFCC];
  else ctx.headers[XFCC] = value;
  next(ctx);
};
