/**
 * How long any HTTP listener devmesh opens (outbound, ingress, inbound,
 * sidecar admin, control API) waits for a client to finish sending request
 * headers. Node's default is 60 s, checked every 30 s, so a slowloris client
 * dribbling one header a second held a connection (and its buffers) for up to
 * 90 s, and the inbound listener, which receives connections from its own
 * TLS/plaintext sniffer instead of listen(), never checked at all. Envoy's
 * `request_headers_timeout` is the model. Bodies have no overall deadline:
 * streaming uploads and gRPC streams are legitimate.
 *
 * DEVMESH_HEADERS_TIMEOUT_MS shortens it for tests.
 */
export const DEFAULT_HEADERS_TIMEOUT_MS = 10_000;

export function headersLimits(): { headersTimeout: number; connectionsCheckingInterval: number } {
  const headersTimeout = Number(process.env.DEVMESH_HEADERS_TIMEOUT_MS) || DEFAULT_HEADERS_TIMEOUT_MS;
  // Node only checks at this interval, so a connection lives at most timeout + interval.
  return { headersTimeout, connectionsCheckingInterval: Math.max(100, Math.min(1_000, Math.floor(headersTimeout / 4))) };
}
