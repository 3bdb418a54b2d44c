/**
 * HTTPRewrite and HTTPRedirect as Envoy applies them.
 *
 * `rewrite.uri` replaces the part of the path the rule's uri match matched,
 * verbatim, as Envoy's prefix_rewrite does (pilot route.go:651): the prefix
 * for a prefix match — so `rewrite.uri: /` after `prefix: /api` turns
 * `/api/items` into `//items`, which Envoy's route docs warn about and
 * `devmesh validate` flags (rewrite-double-slash) — the whole path for an
 * exact or regex match, and the leading `/` when the rule has no uri match
 * (Istio then translates it to a `/` prefix match). The query string is kept.
 */
import type { HTTPMatchRequest, HTTPRedirect, HTTPRewrite } from '../../policy/model';

export function rewritePath(pathWithQuery: string, rewrite: HTTPRewrite, matched: HTTPMatchRequest | undefined): string {
  const q = pathWithQuery.indexOf('?');
  const path = q < 0 ? pathWithQuery : pathWithQuery.slice(0, q);
  const query = q < 0 ? '' : pathWithQuery.slice(q);
  if (rewrite.uriRegexRewrite) {
    const re = new RegExp(rewrite.uriRegexRewrite.match);
    // RE2 rewrite strings write groups as \1; JavaScript as $1.
    return path.replace(re, rewrite.uriRegexRewrite.rewrite.replace(/\\(\d)/g, '$$$1')) + query;
  }
  if (rewrite.uri === undefined) return pathWithQuery;
  const uri = matched?.uri;
  if (uri?.prefix !== undefined) {
    const rest = path.slice(uri.prefix.length);
    return rewrite.uri + rest + query;
  }
  if (uri?.exact !== undefined || uri?.regex !== undefined) return rewrite.uri + query;
  return rewrite.uri + path.slice(1) + query;
}

/**
 * Location and status of a redirect, as pilot's ApplyRedirect builds Envoy's
 * RedirectAction (istio/istio@release-1.30 pilot/pkg/networking/core/route/route.go:779-853):
 * the request's own scheme, host and path fill what the rule leaves out; a
 * `port` (or `derivePort: FROM_REQUEST_PORT`, the port the request came to)
 * replaces the host's port, except that 80 with http and 443 with https are
 * left out; FROM_PROTOCOL_DEFAULT drops the port.
 */
export function redirectLocation(r: HTTPRedirect, req: { authority: string; path: string; scheme: string; port?: number }): { status: number; location: string } {
  const scheme = r.scheme ?? req.scheme;
  let host = r.authority ?? req.authority;
  const port = r.port ?? (r.derivePort === 'FROM_REQUEST_PORT' ? req.port : undefined);
  if (port !== undefined) host = (port === 80 && scheme === 'http') || (port === 443 && scheme === 'https') ? stripPortOf(host) : `${stripPortOf(host)}:${port}`;
  else if (r.derivePort === 'FROM_PROTOCOL_DEFAULT') host = stripPortOf(host);
  const q = req.path.indexOf('?');
  const path = r.uri ?? req.path;
  const query = r.uri !== undefined && q >= 0 && !r.uri.includes('?') ? req.path.slice(q) : '';
  return { status: r.redirectCode ?? 301, location: `${scheme}://${host}${path}${query}` };
}

function stripPortOf(authority: string): string {
  const colon = authority.lastIndexOf(':');
  return colon > 0 && /^\d+$/.test(authority.slice(colon + 1)) ? authority.slice(0, colon) : authority;
}
