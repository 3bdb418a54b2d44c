/**
 * gRPC on the wire, as a proxy sees it (the gRPC over HTTP/2 spec,
 * PROTOCOL-HTTP2.md): a request is gRPC when its content-type is
 * `application/grpc` (or `application/grpc+proto`, `+json`, ...); its status
 * travels in `grpc-status` (and `grpc-message`) in the trailers, or in the
 * headers of a trailers-only response. And the two mappings Envoy applies
 * between HTTP and gRPC statuses (envoy source/common/grpc/status.cc, after
 * grpc's doc/http-grpc-status-mapping.md): HTTP -> gRPC for the proxy's own
 * answers to a gRPC caller, gRPC -> HTTP for outlier detection. Pure.
 */
import { GRPC_STATUS } from '../../policy/grpc-status';

type Headers = Record<string, unknown>;

/** Whether a request (or response) is gRPC: `application/grpc` with nothing or `+codec`/`;params` after it. */
export function isGrpc(headers: Headers): boolean {
  const ct = headers['content-type'];
  if (typeof ct !== 'string' || !ct.startsWith('application/grpc')) return false;
  const rest = ct.charCodeAt(16);
  // Not grpc-web (`application/grpc-web`), which a sidecar carries as plain HTTP.
  return ct.length === 16 || rest === 43 /* + */ || rest === 59 /* ; */;
}

/** The `grpc-status` in a header block (trailers, or a trailers-only response's headers), if there is one. */
export function grpcStatusOf(headers: Headers): number | undefined {
  const v = headers['grpc-status'];
  const s = Array.isArray(v) ? v[0] : v;
  return typeof s === 'string' && /^\d+$/.test(s) ? Number(s) : undefined;
}

/** Envoy's httpToGrpcStatus: the status a gRPC caller gets for a proxy-made HTTP answer. */
export function httpToGrpcStatus(http: number): number {
  switch (http) {
    case 400: return GRPC_STATUS.INTERNAL;
    case 401: return GRPC_STATUS.UNAUTHENTICATED;
    case 403: return GRPC_STATUS.PERMISSION_DENIED;
    case 404: return GRPC_STATUS.UNIMPLEMENTED;
    case 429: case 502: case 503: case 504: return GRPC_STATUS.UNAVAILABLE;
    default: return GRPC_STATUS.UNKNOWN;
  }
}

const TO_HTTP: Record<number, number> = {
  0: 200, 1: 499, 2: 500, 3: 400, 4: 504, 5: 404, 6: 409, 7: 403, 8: 429,
  9: 400, 10: 409, 11: 400, 12: 501, 13: 500, 14: 503, 15: 500, 16: 401,
};

/** Envoy's grpcToHttpStatus: what a trailers-only gRPC answer counts as for outlier detection (an unknown code is 500). */
export function grpcToHttpStatus(grpc: number): number {
  return TO_HTTP[grpc] ?? 500;
}
