/**
 * The proxy's own answer to a gRPC caller, as Envoy sends a local reply to a
 * gRPC request (envoy source/common/http/utility.cc sendLocalReply): HTTP
 * 200, `content-type: application/grpc`, the status in `grpc-status` (from
 * the HTTP status by httpToGrpcStatus, unless the reply names its gRPC
 * status), the text in `grpc-message`, percent-encoded as the gRPC spec
 * asks, and no body — a trailers-only response. grpc-js, grpc-go and the
 * rest read it as the call's status, where a 503 with a text body would be
 * "Received HTTP status code 503".
 *
 * A route or per-try timeout (504) is UNAVAILABLE here, as in the Envoy that
 * Istio ships today; envoyproxy/envoy#44479 (2026) turns it into
 * DEADLINE_EXCEEDED behind a runtime flag in later Envoys.
 */
import type { OutgoingHttpHeaders } from 'node:http';
import type { ProxyError } from '../errors';
import { httpToGrpcStatus } from './status';

/** `grpc-message`: printable ASCII except `%` as is, everything else percent-encoded (UTF-8). */
export function encodeGrpcMessage(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Headers of the trailers-only response that stands for `err` (extra headers, like the proxy-error one, are the caller's to add). */
export function grpcLocalReply(err: ProxyError, grpcStatus?: number): OutgoingHttpHeaders {
  return {
    'content-type': 'application/grpc',
    'grpc-status': String(grpcStatus ?? httpToGrpcStatus(err.status)),
    'grpc-message': encodeGrpcMessage(err.message.trim()),
  };
}
