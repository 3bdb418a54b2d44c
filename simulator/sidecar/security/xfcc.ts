/**
 * `x-forwarded-client-cert` in Envoy's format, as Istio's inbound sidecar
 * sets it for the app: `By=<own SPIFFE id>;Hash=<sha256 of the peer
 * certificate, hex>;Subject="";URI=<peer SPIFFE id>`. Istio workload
 * certificates have an empty subject, hence `Subject=""`.
 */
import { createHash } from 'node:crypto';

export function formatXfcc(by: string, peer: { spiffeId: string; certHash: string; subject?: string }): string {
  return `By=${by};Hash=${peer.certHash};Subject="${peer.subject ?? ''}";URI=${peer.spiffeId}`;
}

export function certHash(der: Buffer): string {
  return createHash('sha256').update(der).digest('hex');
}

/** Parses one XFCC element back into its keys (for tests and the app side). */
export function parseXfcc(value: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of value.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) out[part.slice(0, eq)] = part.slice(eq + 1).replace(/^"(.*)"$/, '$1');
  }
  return out;
}
