/**
 * XFCC: tells the app who called, in Envoy's `x-forwarded-client-cert`
 * format. A value the client sent is dropped first (Envoy's SANITIZE_SET):
 * only this sidecar, which verified the certificate, may vouch for it.
 */
import type { Filter } from '../context';
import { formatXfcc } from '../security/xfcc';

export const xfcc = (): Filter => (next) => (ctx) => {
  delete ctx.headers['x-forwarded-client-cert'];
  const { spiffeId, certHash } = ctx.source;
  if (spiffeId && certHash) ctx.headers['x-forwarded-client-cert'] = formatXfcc(ctx.tables.identity.spiffeId, { spiffeId, certHash });
  next(ctx);
};
