/**
 * The gRPC external authorization API as Envoy's ext_authz filters speak it
 * (envoy/service/auth/v3/external_auth.proto, attribute_context.proto;
 * envoy source/extensions/filters/common/ext_authz/check_request_utils.cc
 * createTcpCheck and createHttpCheck, ext_authz_grpc_impl.cc), pure:
 *
 * - the CheckRequest: `attributes.source` (the peer's address and the
 *   principal its certificate proves), `attributes.destination` (the proxy's
 *   own address and principal), `attributes.tls_session.sni` when the client
 *   sent a server name, and for an HTTP request `attributes.request.http`
 *   (id, method, lower-case headers, path, host, scheme, protocol, size, and
 *   the body when the provider includes it);
 * - the CheckResponse: `status.code` 0 (OK) allows, with `ok_response`'s
 *   headers for the upstream request (`append` false or unset overwrites),
 *   `headers_to_remove` and `response_headers_to_add`; any other code denies,
 *   with `denied_response`'s status (default 403), headers and body.
 *
 * Messages are written and read with protobufjs from extAuthzProto.ts.
 */
import type { Type } from 'protobufjs';
import { extAuthzRoot } from './extAuthzProto';

export interface PeerAttributes { address?: string; port?: number; principal?: string }

/** AttributeContext.HttpRequest, as createHttpCheck fills it. */
export interface HttpCheckAttributes {
  id: string;
  method: string;
  /** Lower-case names; repeated values joined with a comma. */
  headers: Record<string, string>;
  path: string;
  host: string;
  scheme: string;
  protocol: string;
  /** The body's length when known (Content-Length), else -1. */
  size: number;
  /** The (possibly partial) body, when the provider includes it: as bytes (`raw_body`) or as a string (`body`). */
  body?: { data: Buffer; asBytes: boolean };
}

export interface CheckAttributes {
  source: PeerAttributes;
  destination: PeerAttributes;
  sni?: string;
  http?: HttpCheckAttributes;
}

/** What createHttpCheck reads of a request (`headers` as received: lower-case, with HTTP/2's pseudo-headers). */
export interface HttpCheckInput {
  requestId: string;
  method: string;
  path: string;
  authority: string;
  scheme: string;
  httpVersion: string;
  headers: Record<string, string | string[] | undefined>;
  source: PeerAttributes;
  destination: PeerAttributes;
  sni?: string;
  body?: { head: Buffer; complete: boolean; asBytes: boolean };
}

/** Envoy's header telling the authorizer whether the body it got is all of it (with_request_body). */
export const PARTIAL_BODY_HEADER = 'x-envoy-auth-partial-body';

/**
 * The CheckRequest attributes of an HTTP request, as createHttpCheck builds
 * them: the header map with the pseudo-headers Envoy's map has (`:authority`
 * for Host), repeated values joined with a comma; the size from
 * Content-Length (-1 when unknown); the body, and the partial-body header,
 * when the provider includes it.
 */
export function httpCheckAttributes(r: HttpCheckInput): CheckAttributes {
  const headers: Record<string, string> = { ':authority': r.authority, ':method': r.method, ':path': r.path, ':scheme': r.scheme };
  for (const [name, value] of Object.entries(r.headers)) {
    if (value === undefined || name === 'host' || name in headers) continue;
    headers[name] = Array.isArray(value) ? value.join(',') : value;
  }
  if (r.body) headers[PARTIAL_BODY_HEADER] = String(!r.body.complete);
  const length = Number(r.headers['content-length']);
  return {
    source: r.source,
    destination: r.destination,
    ...(r.sni ? { sni: r.sni } : {}),
    http: {
      id: r.requestId,
      method: r.method,
      headers,
      path: r.path,
      host: r.authority,
      scheme: r.scheme,
      protocol: r.httpVersion.startsWith('2') ? 'HTTP/2' : `HTTP/${r.httpVersion}`,
      size: Number.isInteger(length) && length >= 0 ? length : -1,
      ...(r.body ? { body: { data: r.body.head, asBytes: r.body.asBytes } } : {}),
    },
  };
}

/** The Check method's path (gRPC over HTTP/2: POST /<package>.<Service>/<Method>). */
export const CHECK_PATH = '/envoy.service.auth.v3.Authorization/Check';

/** The two messages, parsed at the first check. */
let types: { request: Type; response: Type } | undefined;
function messages(): { request: Type; response: Type } {
  if (!types) {
    const root = extAuthzRoot();
    types = { request: root.lookupType('envoy.service.auth.v3.CheckRequest'), response: root.lookupType('envoy.service.auth.v3.CheckResponse') };
  }
  return types;
}

/** config.core.v3.Address with a socket address (TCP), and the principal. */
function peer(p: PeerAttributes): Record<string, unknown> {
  return {
    ...(p.address ? { address: { socket_address: { address: p.address, ...(p.port ? { port_value: p.port } : {}) } } } : {}),
    ...(p.principal ? { principal: p.principal } : {}),
  };
}

function httpRequest(h: HttpCheckAttributes): Record<string, unknown> {
  const body = h.body ? (h.body.asBytes ? { raw_body: h.body.data } : { body: h.body.data.toString('utf8') }) : {};
  return { id: h.id, method: h.method, headers: h.headers, path: h.path, host: h.host, scheme: h.scheme, protocol: h.protocol, size: h.size, ...body };
}

/** CheckRequest { attributes }, serialized. */
export function encodeCheckRequest(a: CheckAttributes): Buffer {
  const attributes = {
    source: peer(a.source),
    destination: peer(a.destination),
    ...(a.http ? { request: { http: httpRequest(a.http) } } : {}),
    ...(a.sni ? { tls_session: { sni: a.sni } } : {}),
  };
  const { request } = messages();
  return Buffer.from(request.encode(request.fromObject({ attributes })).finish());
}

/** One gRPC message on the wire: uncompressed flag, 4-byte big-endian length, the message. */
export function grpcFrame(message: Buffer): Buffer {
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(message.length, 1);
  return Buffer.concat([prefix, message]);
}

/** A header the authorizer asks for: `append` adds to an existing value, otherwise the value replaces it. */
export interface HeaderOption { name: string; value: string; append: boolean }

export type GrpcCheckVerdict =
  | { kind: 'allow'; upstream: HeaderOption[]; remove: string[]; downstream: HeaderOption[] }
  | { kind: 'deny'; code: number; message: string; status: number; headers: HeaderOption[]; body: string }
  | { kind: 'error'; why: string };

interface WireHeaderOption { header?: { key?: string; value?: string; raw_value?: Buffer }; append?: { value?: boolean } }
interface WireCheckResponse {
  status?: { code?: number; message?: string };
  denied_response?: { status?: { code?: number }; headers?: WireHeaderOption[]; body?: string };
  ok_response?: { headers?: WireHeaderOption[]; headers_to_remove?: string[]; response_headers_to_add?: WireHeaderOption[] };
}

/** HeaderValueOptions as the filter applies them: lower-case names, `append` false when unset (ext_authz's default). */
function options(list: WireHeaderOption[] | undefined): HeaderOption[] {
  return (list ?? []).flatMap((o) => {
    const name = o.header?.key?.toLowerCase();
    if (!name) return [];
    const value = o.header?.value || (o.header?.raw_value ? Buffer.from(o.header.raw_value).toString('utf8') : '');
    return [{ name, value, append: o.append?.value === true }];
  });
}

/** Envoy's denial status: denied_response.status.code when it is an HTTP status, else 403 Forbidden. */
const deniedStatus = (code: number | undefined) => (code !== undefined && code >= 200 && code <= 599 ? code : 403);

/**
 * What the filter makes of the authorizer's answer: a gRPC status other than
 * OK on the call (or no answer) is an error; otherwise the CheckResponse's
 * `status.code` (absent = 0) decides: 0 allows, anything else denies.
 */
export function grpcCheckVerdict(answer: { grpcStatus: number; grpcMessage?: string; message?: Buffer } | { error: string }): GrpcCheckVerdict {
  if ('error' in answer) return { kind: 'error', why: answer.error };
  if (answer.grpcStatus !== 0) return { kind: 'error', why: `the authorizer's Check call failed with gRPC status ${answer.grpcStatus}${answer.grpcMessage ? ` (${answer.grpcMessage})` : ''}` };
  if (!answer.message) return { kind: 'error', why: 'the authorizer answered no CheckResponse' };
  let r: WireCheckResponse;
  try {
    const { response } = messages();
    r = response.toObject(response.decode(answer.message), { longs: Number, defaults: false }) as WireCheckResponse;
  } catch (err) {
    return { kind: 'error', why: `the authorizer's CheckResponse is malformed: ${(err as Error).message}` };
  }
  const code = r.status?.code ?? 0;
  if (code === 0) {
    const ok = r.ok_response ?? {};
    return { kind: 'allow', upstream: options(ok.headers), remove: (ok.headers_to_remove ?? []).map((h) => h.toLowerCase()), downstream: options(ok.response_headers_to_add) };
  }
  const denied = r.denied_response ?? {};
  return { kind: 'deny', code, message: r.status?.message ?? '', status: deniedStatus(denied.status?.code), headers: options(denied.headers), body: denied.body ?? '' };
}

/** The first gRPC message of a response body (the 5-byte prefix stripped), if a whole one is there. */
export function firstGrpcMessage(body: Buffer): Buffer | undefined {
  if (body.length < 5) return undefined;
  const len = body.readUInt32BE(1);
  return body.length >= 5 + len ? body.subarray(5, 5 + len) : undefined;
}
