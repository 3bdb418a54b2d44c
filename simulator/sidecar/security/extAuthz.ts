/**
 * External authorization (AuthorizationPolicy `action: CUSTOM`) as Istio
 * builds Envoy's ext_authz filter from the mesh's extensionProviders, pure:
 *
 * - Which provider a name means, and whether it can be used (pilot's
 *   processExtensionProvider: the service must be in the registry at that
 *   port, statusOnError a valid status, no lone `*` in header lists). Here a
 *   service is a Mesh service (reached through the mesh, with mTLS) or a
 *   process on this machine (127.0.0.1 / localhost, reached directly).
 * - The check request of an HTTP provider: the original method, pathPrefix +
 *   path, Host, Authorization and the headers includeRequestHeadersInCheck
 *   names, plus the fixed additional headers; no body (Content-Length 0),
 *   or with includeRequestBodyInCheck the buffered start of the request's
 *   body (Content-Length its size).
 * - The verdict: 200 allows (headersToUpstreamOnAllow copied onto the
 *   request, headersToDownstreamOnAllow onto the response); any other status
 *   denies with the authorizer's status, body and (headersToDownstreamOnDeny)
 *   headers; no answer, a timeout or a 5xx is an error: `statusOnError`
 *   (default 403), or the request goes on when `failOpen`.
 */
import type { ExtAuthzGrpcProvider, ExtAuthzHttpProvider, ExtensionProvider } from '../../policy/model';
import { isLoopbackHost } from '../../policy/jwks';
import { parseDuration } from '../../policy/duration';
import type { ServiceInfo } from '../../protocol';
import { describePorts, portsOf } from '../routing/servicePorts';
import type { MeshTables } from '../tables';

export type AuthzTarget =
  | { kind: 'mesh'; service: ServiceInfo; port: number }
  | { kind: 'local'; host: string; port: number };

/** An external authorizer ready to be asked: `http` (envoyExtAuthzHttp) or `grpc` (envoyExtAuthzGrpc, envoy.service.auth.v3.Authorization/Check). */
export interface ResolvedProvider {
  name: string;
  api: 'http' | 'grpc';
  target: AuthzTarget;
  /** `host:port` as written, for messages. */
  address: string;
  timeoutMs: number;
  failOpen: boolean;
  statusOnError: number;
  pathPrefix: string;
  /** Client headers sent besides the defaults (Istio's exact / prefix* / *suffix forms). */
  includeHeaders: string[];
  additionalHeaders: Record<string, string>;
  upstreamOnAllow: string[];
  downstreamOnAllow: string[];
  /** Undefined: every header of the denial goes back (but Host). */
  downstreamOnDeny: string[] | undefined;
  /** includeRequestBodyInCheck: the body is buffered up to `maxBytes` and sent in the check (the CheckRequest's body, or the HTTP check's own). */
  requestBody?: RequestBodyInCheck;
}

export interface RequestBodyInCheck {
  /** maxRequestBytes (greater than 0: validate refuses a config without it, as Envoy does). */
  maxBytes: number;
  /** allowPartialMessage: a larger body sends its first `maxBytes`; otherwise the request gets 413. */
  allowPartial: boolean;
  /** packAsBytes (gRPC only): the body goes in `raw_body` (bytes) rather than `body` (UTF-8). */
  asBytes: boolean;
}

export type ProviderResolution = { provider: ResolvedProvider } | { problem: string };

/** Envoy's default timeout for Istio's ext_authz: 600 s. */
export const DEFAULT_AUTHZ_TIMEOUT_MS = 600_000;

/** Names of the providers, resolved against the mesh's services. */
export function resolveProviders(providers: readonly ExtensionProvider[], t: MeshTables): Map<string, ProviderResolution> {
  const out = new Map<string, ProviderResolution>();
  for (const p of providers) {
    if (out.has(p.name)) {
      out.set(p.name, { problem: `extension provider name must be unique, found duplicate: ${p.name}` });
      continue;
    }
    if (p.envoyExtAuthzHttp) out.set(p.name, resolveHttp(p.name, p.envoyExtAuthzHttp, t));
    else if (p.envoyExtAuthzGrpc) out.set(p.name, resolveGrpc(p.name, p.envoyExtAuthzGrpc, t));
    else out.set(p.name, { problem: `extension provider ${p.name} is not an external authorizer (envoyExtAuthzHttp or envoyExtAuthzGrpc)` });
  }
  return out;
}

/** What both kinds of provider share, as pilot's buildExtAuthzHTTP/GRPC check it: the port, the service, statusOnError. */
function resolveCommon(c: ExtAuthzGrpcProvider | ExtAuthzHttpProvider, t: MeshTables): { target: AuthzTarget; port: number; status: number } | { problem: string } {
  const port = typeof c.port === 'string' ? Number(c.port) : c.port;
  if (!Number.isInteger(port) || port < 1 || port > 65535) return { problem: `port must be in the range [1, 65535], found: ${String(c.port)}` };
  const target = resolveService(c.service ?? '', port, t);
  if ('problem' in target) return target;
  const status = c.statusOnError === undefined || c.statusOnError === '' ? 403 : Number(c.statusOnError);
  if (!Number.isInteger(status) || status < 100 || status > 599) return { problem: `invalid statusOnError "${c.statusOnError}"` };
  return { target: target.target, port, status };
}

/** A gRPC provider: Istio builds both the HTTP ext_authz filter and the network one (the only kind it builds for TCP) from it. */
function resolveGrpc(name: string, c: ExtAuthzGrpcProvider, t: MeshTables): ProviderResolution {
  const common = resolveCommon(c, t);
  if ('problem' in common) return common;
  return {
    provider: {
      name, api: 'grpc', target: common.target, address: `${c.service}:${common.port}`,
      timeoutMs: (c.timeout ? parseDuration(c.timeout) : undefined) ?? DEFAULT_AUTHZ_TIMEOUT_MS,
      failOpen: c.failOpen === true,
      statusOnError: common.status,
      pathPrefix: '', includeHeaders: [], additionalHeaders: {}, upstreamOnAllow: [], downstreamOnAllow: [], downstreamOnDeny: undefined,
      ...(c.includeRequestBodyInCheck ? { requestBody: bodyInCheck(c.includeRequestBodyInCheck) } : {}),
    },
  };
}

/**
 * with_request_body. A maxRequestBytes of 0 (or none) never gets here: Envoy
 * rejects such a filter (`gt: 0`) and validate refuses the config; should a
 * snapshot carry one anyway, the limit is 0 bytes (a body is answered 413
 * unless allowPartialMessage), never the whole body.
 */
const bodyInCheck = (b: NonNullable<ExtAuthzGrpcProvider['includeRequestBodyInCheck'] | ExtAuthzHttpProvider['includeRequestBodyInCheck']>): RequestBodyInCheck => ({
  maxBytes: b.maxRequestBytes && b.maxRequestBytes > 0 ? b.maxRequestBytes : 0,
  allowPartial: b.allowPartialMessage === true,
  asBytes: b.packAsBytes === true,
});

function resolveHttp(name: string, c: ExtAuthzHttpProvider, t: MeshTables): ProviderResolution {
  const common = resolveCommon(c, t);
  if ('problem' in common) return common;
  const { port, status } = common;
  const include = c.includeRequestHeadersInCheck?.length ? c.includeRequestHeadersInCheck : c.includeHeadersInCheck ?? [];
  for (const [field, list] of [['includeRequestHeadersInCheck', include], ['headersToUpstreamOnAllow', c.headersToUpstreamOnAllow], ['headersToDownstreamOnAllow', c.headersToDownstreamOnAllow], ['headersToDownstreamOnDeny', c.headersToDownstreamOnDeny]] as const) {
    if ((list ?? []).includes('*')) return { problem: `a single wildcard ("*") is not supported, change it to either prefix or suffix match: ${field}` };
  }
  if (c.pathPrefix && !c.pathPrefix.startsWith('/')) return { problem: `pathPrefix must begin with \`/\`, found: "${c.pathPrefix}"` };
  return {
    provider: {
      name, api: 'http', target: common.target, address: `${c.service}:${port}`,
      timeoutMs: (c.timeout ? parseDuration(c.timeout) : undefined) ?? DEFAULT_AUTHZ_TIMEOUT_MS,
      failOpen: c.failOpen === true,
      statusOnError: status,
      pathPrefix: c.pathPrefix ?? '',
      includeHeaders: include,
      additionalHeaders: Object.fromEntries(Object.entries(c.includeAdditionalHeadersInCheck ?? {}).map(([k, v]) => [k.toLowerCase(), v])),
      upstreamOnAllow: c.headersToUpstreamOnAllow ?? [],
      downstreamOnAllow: c.headersToDownstreamOnAllow ?? [],
      downstreamOnDeny: c.headersToDownstreamOnDeny?.length ? c.headersToDownstreamOnDeny : undefined,
      ...(c.includeRequestBodyInCheck ? { requestBody: bodyInCheck(c.includeRequestBodyInCheck) } : {}),
    },
  };
}

/**
 * `[<namespace>/]<hostname>` as pilot's LookupCluster reads it: the service
 * with exactly that host name (its FQDN) — or, here, a loopback address.
 */
export function resolveService(service: string, port: number, t: MeshTables): { target: AuthzTarget } | { problem: string } {
  if (service === '') return { problem: 'service must not be empty' };
  const slash = service.indexOf('/');
  const namespace = slash >= 0 ? service.slice(0, slash) : undefined;
  const host = (slash >= 0 ? service.slice(slash + 1) : service).toLowerCase();
  if (isLoopbackHost(host)) return { target: { kind: 'local', host: host === 'localhost' ? '127.0.0.1' : host.replace(/^\[|\]$/g, ''), port } };
  const svc = t.snapshot.services.find((s) => s.fqdn.toLowerCase() === host && (namespace === undefined || s.namespace === namespace));
  if (!svc) return { problem: `could not find service ${service} in the mesh (write its full name, e.g. ${t.snapshot.services[0]?.fqdn ?? 'name.namespace.svc.cluster.local'}, or 127.0.0.1 for a local process)` };
  // Any of the service's ports, as pilot's LookupCluster finds the service's port by number.
  if (!portsOf(svc).some((p) => p.port === port)) return { problem: `service ${svc.fqdn} has no port ${port} (it has ${describePorts(svc)})` };
  return { target: { kind: 'mesh', service: svc, port } };
}

/** Istio's header name forms for these lists: exact, `prefix*`, `*suffix`, compared case-insensitively. */
export function headerNameMatches(patterns: readonly string[], name: string): boolean {
  const n = name.toLowerCase();
  return patterns.some((raw) => {
    const p = raw.toLowerCase();
    if (p.startsWith('*')) return n.endsWith(p.slice(1));
    if (p.endsWith('*')) return n.startsWith(p.slice(0, -1));
    return n === p;
  });
}

type Headers = Record<string, string | string[] | number | undefined>;

export interface CheckRequest {
  method: string;
  path: string;
  authority: string;
  headers: Record<string, string>;
  /** includeRequestBodyInCheck: what was buffered of the request's body. */
  body?: Buffer;
}

const ALWAYS_SENT = ['authorization'];

/** Envoy's header on a check with a body: whether it is only the body's start. */
export const PARTIAL_BODY_HEADER = 'x-envoy-auth-partial-body';

/**
 * The HTTP check request for a client request: no body (Content-Length 0),
 * or the buffered body (`head` of it; Content-Length its size). Envoy puts
 * x-envoy-auth-partial-body among the request's headers for the check, and
 * its HTTP client sends only the headers it allows, so that one goes out
 * when includeRequestHeadersInCheck names it.
 */
export function checkRequest(p: ResolvedProvider, req: { method: string; path: string; authority: string; headers: Headers }, body?: { head: Buffer; complete: boolean }): CheckRequest {
  const headers: Record<string, string> = {};
  const offered: Headers = body ? { ...req.headers, [PARTIAL_BODY_HEADER]: String(!body.complete) } : req.headers;
  for (const [name, value] of Object.entries(offered)) {
    if (value === undefined || name.startsWith(':') || name === 'host' || name === 'content-length') continue;
    if (!ALWAYS_SENT.includes(name) && !headerNameMatches(p.includeHeaders, name)) continue;
    headers[name] = Array.isArray(value) ? value.join(',') : String(value);
  }
  Object.assign(headers, p.additionalHeaders);
  const sent = body && body.head.length > 0 ? body.head : undefined;
  headers['content-length'] = String(sent?.length ?? 0);
  return { method: req.method, path: `${p.pathPrefix}${req.path}`, authority: req.authority, headers, ...(sent ? { body: sent } : {}) };
}

export interface CheckResponse {
  status: number;
  headers: Headers;
  body: string;
}

export type CheckVerdict =
  | { kind: 'allow'; upstream: Record<string, string>; downstream: Record<string, string> }
  | { kind: 'deny'; status: number; headers: Record<string, string | string[]>; body: string }
  | { kind: 'error'; why: string };

// Never copied from the authorizer's answer: they describe that answer's own transfer.
const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'host', 'content-length', 'date', 'server']);
// Sent back on a denial whenever headersToDownstreamOnDeny is set (Envoy adds them to the list).
const DENY_ALWAYS = ['path', 'status', 'content-length', 'www-authenticate', 'location'];

/** The authorizer's answer (or its absence) as Envoy's ext_authz reads it. */
export function checkVerdict(p: ResolvedProvider, r: CheckResponse | { error: string }): CheckVerdict {
  if ('error' in r) return { kind: 'error', why: r.error };
  if (r.status >= 500) return { kind: 'error', why: `the authorizer answered ${r.status}` };
  const pick = (patterns: readonly string[] | undefined, all: boolean): Record<string, string> => {
    const out: Record<string, string> = {};
    for (const [name, value] of Object.entries(r.headers)) {
      if (value === undefined || name.startsWith(':') || HOP.has(name)) continue;
      if (all || headerNameMatches(patterns ?? [], name)) out[name] = Array.isArray(value) ? value.join(',') : String(value);
    }
    return out;
  };
  if (r.status === 200) return { kind: 'allow', upstream: pick(p.upstreamOnAllow, false), downstream: pick(p.downstreamOnAllow, false) };
  const deny = p.downstreamOnDeny;
  return { kind: 'deny', status: r.status, headers: deny ? pick([...deny, ...DENY_ALWAYS], false) : pick(undefined, true), body: r.body };
}
