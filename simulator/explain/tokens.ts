/**
 * The JWTs of a request, verified before the walk: verification is the
 * sidecars' own (jwtVerify.ts over the keys of a JwksStore, signatures by
 * jose) and asynchronous, the walk is not. For every proxy a
 * RequestAuthentication selects, each provider's verdict on the tokens it
 * finds in the request, looked up by the walk when the request reaches that
 * proxy (filters/jwt.ts decides from the verdicts, in the walk as in the sidecar).
 */
import type { MeshSnapshot } from '../protocol';
import { compileTables } from '../sidecar/tables';
import { providersOf } from '../sidecar/filters/jwt';
import { splitPath } from '../sidecar/routing/match';
import { JwksStore } from '../sidecar/security/jwksStore';
import { verifyProvider, type ProviderResult } from '../sidecar/security/jwtVerify';
import { extractTokens, type FoundToken, type JwtProvider } from '../sidecar/security/requestAuthentication';
import { requestTarget } from '../sidecar/listeners/outbound';
import type { ExplainRequest } from './result';

/** A provider's verdict on the tokens it found, as verified beforehand (undefined: not verified). */
export type TokenVerdicts = (provider: JwtProvider, tokens: readonly FoundToken[]) => ProviderResult | undefined;

const keyOf = (p: JwtProvider, tokens: readonly FoundToken[]) => JSON.stringify([p, tokens]);

/** The tokens a request carries, as each provider of the mesh finds them in its headers or query. */
export function tokensIn(p: JwtProvider, headers: Record<string, string | string[] | undefined>, path: string): FoundToken[] {
  return extractTokens(p, { headers, query: splitPath(path).query });
}

export async function verifyRequestTokens(snapshot: MeshSnapshot, req: ExplainRequest, opts: { store?: JwksStore; now?: number } = {}): Promise<TokenVerdicts> {
  const verdicts = new Map<string, ProviderResult>();
  const target = requestTarget(req.url, undefined);
  if ('error' in target) return () => undefined;
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) headers[k.toLowerCase()] = v;
  const store = opts.store ?? new JwksStore();
  const nowSeconds = Math.floor((opts.now ?? Date.now()) / 1000);
  for (const proxy of [null, ...snapshot.workloads.map((w) => w.name)]) {
    for (const p of providersOf(compileTables(snapshot, proxy))) {
      const tokens = tokensIn(p, headers, target.path);
      const key = keyOf(p, tokens);
      if (!verdicts.has(key)) verdicts.set(key, await verifyProvider(p, tokens, store, nowSeconds));
    }
  }
  return (p, tokens) => verdicts.get(keyOf(p, tokens));
}
