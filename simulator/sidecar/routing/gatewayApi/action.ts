/**
 * What a selected Gateway API rule does to one request, pure: redirect
 * (Location from the request and the filter, port derived as the Gateway
 * API says), or forward to a backend picked by weight — a backend that did
 * not resolve answers 500 for its share, a rule with no backend of weight
 * above 0 answers 500 for all — after URLRewrite and the header modifiers of
 * the rule and of the backend.
 */
import type { HTTPPathModifier, HTTPRequestRedirectFilter, HeaderOperations } from '../../../policy/model';
import { stripPort } from '../../../policy/hosts';
import { ProxyError } from '../../errors';
import type { RouteOrigin } from '../../tables';
import type { GatewayApiAction } from './compile';
import { replacePrefixMatch, splitQuery } from './paths';
import { pickWeighted } from '../weights';

export interface GatewayApiRequest {
  method: string;
  /** Path with query string. */
  path: string;
  authority: string;
  /** `http`, or `https` on an HTTPS listener. */
  scheme: 'http' | 'https';
  /** The port the request was sent to: the service port (mesh) or the Gateway listener's port (ingress). */
  port: number;
}

export type GatewayApiOutcome =
  | { kind: 'redirect'; status: number; location: string; responseHeaderOps: HeaderOperations[] }
  | { kind: 'direct'; status: number; body: string; responseHeaderOps: HeaderOperations[] }
  | { kind: 'error'; error: ProxyError }
  | {
    kind: 'forward';
    fqdn: string;
    port: number;
    path: string;
    authority: string;
    requestHeaderOps: HeaderOperations[];
    responseHeaderOps: HeaderOperations[];
  };

export function gatewayApiOutcome(action: GatewayApiAction, origin: RouteOrigin, routeName: string, req: GatewayApiRequest, random: () => number): GatewayApiOutcome {
  if (action.redirect) {
    return { kind: 'redirect', ...redirectLocation(action.redirect, action.prefix, req), responseHeaderOps: action.responseHeaderOps };
  }
  if (action.backends.length === 0) {
    return { kind: 'direct', status: 500, body: `devmesh: ${origin.kind} ${origin.namespace}/${origin.name} rule ${routeName} has no backend with a weight above 0 (the Gateway API answers 500)\n`, responseHeaderOps: action.responseHeaderOps };
  }
  const backend = pickWeighted(action.backends, random)!;
  if (backend.invalid || !backend.fqdn || backend.port === undefined) {
    return { kind: 'error', error: new ProxyError(500, 'NC', 'invalid-backend', `devmesh: ${origin.kind} ${origin.namespace}/${origin.name} rule ${routeName}: ${backend.invalid ?? 'backend does not resolve'} (its share of requests gets 500, as the Gateway API asks)\n`) };
  }
  let path = req.path;
  let authority = req.authority;
  const rewrite = action.rewrite;
  if (rewrite?.path) path = modifiedPath(req.path, rewrite.path, action.prefix);
  if (rewrite?.hostname) authority = rewrite.hostname;
  return {
    kind: 'forward', fqdn: backend.fqdn, port: backend.port, path, authority,
    requestHeaderOps: [...action.requestHeaderOps, ...backend.requestHeaderOps],
    responseHeaderOps: [...action.responseHeaderOps, ...backend.responseHeaderOps],
  };
}

/** The path after a ReplaceFullPath / ReplacePrefixMatch modifier; the query string is kept. */
function modifiedPath(pathWithQuery: string, m: HTTPPathModifier, prefix: string | undefined): string {
  const [path, query] = splitQuery(pathWithQuery);
  if (m.type === 'ReplaceFullPath') return (m.replaceFullPath ?? '/') + query;
  if (m.type === 'ReplacePrefixMatch' && prefix !== undefined) return replacePrefixMatch(path, prefix, m.replacePrefixMatch ?? '') + query;
  return pathWithQuery;
}

/**
 * Location and status of a RequestRedirect: scheme, hostname and path from
 * the filter or the request; the port from the filter, else the scheme's
 * well-known port when the filter sets a scheme, else the port the request
 * was sent to — left out when it is 80 with http or 443 with https. 302
 * unless the filter says otherwise.
 */
export function redirectLocation(f: HTTPRequestRedirectFilter, prefix: string | undefined, req: GatewayApiRequest): { status: number; location: string } {
  const scheme = f.scheme ?? req.scheme;
  const host = f.hostname ?? stripPort(req.authority);
  const port = f.port ?? (f.scheme ? (scheme === 'https' ? 443 : 80) : req.port);
  const implied = (scheme === 'http' && port === 80) || (scheme === 'https' && port === 443);
  const path = f.path ? modifiedPath(req.path, f.path, prefix) : req.path;
  return { status: f.statusCode ?? 302, location: `${scheme}://${host}${implied ? '' : `:${port}`}${path}` };
}
