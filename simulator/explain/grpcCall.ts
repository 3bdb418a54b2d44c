/**
 * A gRPC call as `devmesh explain` takes it — `host:port/package.Service/Method`
 * (or `grpc://…`) — turned into the request it is on the wire: an HTTP/2 POST
 * to the method's path with the headers every grpc-js call sends, which the
 * sidecars decide on as on any header. Shared by the CLI and the editor's
 * Explain Request. Pure.
 */
import { grpcStatusCode } from '../policy/grpc-status';

export function grpcCall(target: string): { url: string } | { error: string } {
  const m = /^(?:grpc:\/\/)?([^/\s]+)(\/[A-Za-z_][\w.]*\/[A-Za-z_]\w*)$/.exec(target);
  if (!m) return { error: `grpc ${target}: write the call as host:port/package.Service/Method, e.g. details:9080/bookinfo.details.v1.Details/GetDetails` };
  if (!/:\d+$/.test(m[1])) return { error: `grpc ${target}: name the port (${m[1]}:PORT): gRPC has no default port` };
  return { url: `http://${m[1]}${m[2]}` };
}

/** The headers of a gRPC call: the caller's, with grpc-js's content-type and te unless given. */
export function grpcHeaders(headers: Record<string, string>): Record<string, string> {
  return { ...headers, 'content-type': headers['content-type'] ?? 'application/grpc', te: headers.te ?? 'trailers' };
}

/** The app's gRPC status an explain assumes (`--app-grpc-status`): a number 0 to 16 or its name (UNAVAILABLE, unavailable), else undefined. */
export function assumedGrpcStatus(s: string): number | undefined {
  const code = /^\d+$/.test(s) ? Number(s) : grpcStatusCode(s.toUpperCase());
  return code !== undefined && code >= 0 && code <= 16 ? code : undefined;
}
