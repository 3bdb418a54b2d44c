/**
 * The gRPC external authorization API as Envoy's network ext_authz filter
 * speaks it (envoy/service/auth/v3/external_auth.proto, attribute_context.proto;
 * envoy source/extensions/filters/common/ext_authz/check_request_utils.cc
 * createTcpCheck), pure:
 *
 * - the CheckRequest of a TCP connection: `attributes.source` (the peer's
 *   address and the principal its certificate proves), `attributes.destination`
 *   (the proxy's own address and principal), `attributes.tls_session.sni`
 *   when the client sent a server name, and no `request` (no HTTP);
 * - the CheckResponse: `status.code` 0 (OK) allows, any other code denies.
 *
 * The few messages are written and read here by hand (protobuf wire format:
 * varints and length-delimited fields) rather than through a generated
 * client: the sidecar needs four fields out, one field back.
 */

export interface TcpCheckAttributes {
  source: { address?: string; port?: number; principal?: string };
  destination: { address?: string; port?: number; principal?: string };
  sni?: string;
}

/** The Check method's path (gRPC over HTTP/2: POST /<package>.<Service>/<Method>). */
export const CHECK_PATH = '/envoy.service.auth.v3.Authorization/Check';

function varint(n: number): number[] {
  const out: number[] = [];
  let v = n >>> 0;
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return out;
}

const LEN = 2;
const VARINT = 0;
const key = (field: number, wire: number) => varint((field << 3) | wire);

function bytesField(field: number, body: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(key(field, LEN)), Buffer.from(varint(body.length)), body]);
}

const stringField = (field: number, s: string | undefined) => (s ? bytesField(field, Buffer.from(s, 'utf8')) : Buffer.alloc(0));

/** config.core.v3.Address { socket_address = 1: SocketAddress { protocol = 1 (TCP = 0), address = 2, port_value = 3 } }. */
function address(ip: string | undefined, port: number | undefined): Buffer {
  if (!ip) return Buffer.alloc(0);
  const socket = Buffer.concat([stringField(2, ip), port ? Buffer.from([...key(3, VARINT), ...varint(port)]) : Buffer.alloc(0)]);
  return bytesField(1, socket);
}

/** AttributeContext.Peer { address = 1, principal = 4 }. */
function peer(p: TcpCheckAttributes['source']): Buffer {
  return Buffer.concat([p.address ? bytesField(1, address(p.address, p.port)) : Buffer.alloc(0), stringField(4, p.principal)]);
}

/** CheckRequest { attributes = 1: AttributeContext { source = 1, destination = 2, tls_session = 12: { sni = 1 } } }, serialized. */
export function encodeTcpCheckRequest(a: TcpCheckAttributes): Buffer {
  const attributes = Buffer.concat([
    bytesField(1, peer(a.source)),
    bytesField(2, peer(a.destination)),
    ...(a.sni ? [bytesField(12, stringField(1, a.sni))] : []),
  ]);
  return bytesField(1, attributes);
}

/** One gRPC message on the wire: uncompressed flag, 4-byte big-endian length, the message. */
export function grpcFrame(message: Buffer): Buffer {
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(message.length, 1);
  return Buffer.concat([prefix, message]);
}

interface Field { field: number; wire: number; value: number | Buffer }

function readVarint(b: Buffer, at: number): [number, number] {
  let n = 0;
  let shift = 0;
  for (let i = at; i < b.length; i++) {
    n += (b[i] & 0x7f) * 2 ** shift;
    shift += 7;
    if (b[i] < 0x80) return [n, i + 1];
    if (shift > 63) break;
  }
  throw new Error('malformed varint');
}

/** The top-level fields of a message (nested ones stay bytes). Throws on malformed input. */
function fields(b: Buffer): Field[] {
  const out: Field[] = [];
  let at = 0;
  while (at < b.length) {
    const [k, next] = readVarint(b, at);
    at = next;
    const field = Math.floor(k / 8);
    const wire = k & 7;
    if (wire === VARINT) {
      const [v, n] = readVarint(b, at);
      out.push({ field, wire, value: v });
      at = n;
    } else if (wire === LEN) {
      const [len, n] = readVarint(b, at);
      if (n + len > b.length) throw new Error('truncated field');
      out.push({ field, wire, value: b.subarray(n, n + len) });
      at = n + len;
    } else if (wire === 1) at += 8;
    else if (wire === 5) at += 4;
    else throw new Error(`unsupported wire type ${wire}`);
  }
  return out;
}

export type GrpcCheckVerdict = { kind: 'allow' } | { kind: 'deny'; code: number; message: string } | { kind: 'error'; why: string };

/**
 * What the network filter makes of the authorizer's answer: a gRPC status
 * other than OK on the call (or no answer) is an error; otherwise the
 * CheckResponse's `status.code` (google.rpc.Status, field 1; absent = 0)
 * decides: 0 allows, anything else denies.
 */
export function grpcCheckVerdict(answer: { grpcStatus: number; grpcMessage?: string; message?: Buffer } | { error: string }): GrpcCheckVerdict {
  if ('error' in answer) return { kind: 'error', why: answer.error };
  if (answer.grpcStatus !== 0) return { kind: 'error', why: `the authorizer's Check call failed with gRPC status ${answer.grpcStatus}${answer.grpcMessage ? ` (${answer.grpcMessage})` : ''}` };
  if (!answer.message) return { kind: 'error', why: 'the authorizer answered no CheckResponse' };
  try {
    const status = fields(answer.message).find((f) => f.field === 1 && f.wire === LEN);
    if (!status) return { kind: 'allow' };
    const inner = fields(status.value as Buffer);
    const code = inner.find((f) => f.field === 1 && f.wire === VARINT)?.value as number | undefined ?? 0;
    const text = inner.find((f) => f.field === 2 && f.wire === LEN)?.value as Buffer | undefined;
    return code === 0 ? { kind: 'allow' } : { kind: 'deny', code, message: text?.toString('utf8') ?? '' };
  } catch (err) {
    return { kind: 'error', why: `the authorizer's CheckResponse is malformed: ${(err as Error).message}` };
  }
}

/** The first gRPC message of a response body (the 5-byte prefix stripped), if a whole one is there. */
export function firstGrpcMessage(body: Buffer): Buffer | undefined {
  if (body.length < 5) return undefined;
  const len = body.readUInt32BE(1);
  return body.length >= 5 + len ? body.subarray(5, 5 + len) : undefined;
}
