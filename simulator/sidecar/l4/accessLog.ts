/**
 * The access-log entry of one TCP connection, in the same Envoy default
 * format Istio uses for TCP (the HTTP fields are `-` and the code is 0):
 *
 * [2025-01-01T00:00:00.000Z] "- - -" 0 - - - "-" 155 155 1005 - "-" "-" "-" "-" "127.0.0.1:15106" outbound|9000|v1|tcp-echo.default.svc.cluster.local - - 127.0.0.1:50926 - -
 *
 * A connection refused by RBAC says so in %CONNECTION_TERMINATION_DETAILS%
 * (`rbac_access_denied_matched_policy[ns/name]`), one that never connected
 * carries its flag (UF, UO, NR, UH). The JSON entry's trace_id is the
 * connection's id, the same at both ends (l4/context.ts `id`; the text line
 * stays Envoy's), and its decisions are the connection's records (l4/decisions.ts).
 */
import type { AccessLogEntry } from '../../control/api/contract';
import { clusterName } from '../resilience/state';
import { BLACKHOLE_CLUSTER, PASSTHROUGH_CLUSTER } from '../routing/outboundPolicy';
import type { L4Exchange } from './context';
import { l4RecordsOf } from './decisions';

export function l4EntryOf(e: L4Exchange): AccessLogEntry {
  const ctx = e.ctx;
  const inbound = ctx.listener === 'inbound';
  const dash = (v: unknown) => (v === undefined || v === null || v === '' ? '-' : String(v));
  // The egress gateway routes what it receives on (its inbound connection has a plan): the cluster it went to.
  const cluster = inbound && !ctx.plan
    ? `inbound|${ctx.inbound?.localPort ?? ctx.tables.self?.appPort ?? 0}||`
    : ctx.plan ? clusterName(ctx.plan) : ctx.passthrough ? PASSTHROUGH_CLUSTER : ctx.blackhole ? BLACKHOLE_CLUSTER : '-';
  return {
    start_time: new Date(Date.now() - e.durationMs).toISOString(),
    method: '-',
    path: '-',
    protocol: '-',
    response_code: 0,
    response_flags: ctx.flags.length > 0 ? ctx.flags.join(',') : '-',
    response_code_details: '-',
    connection_termination_details: dash(ctx.proxyError?.startsWith('rbac_') ? ctx.proxyError : undefined),
    upstream_transport_failure_reason: '-',
    bytes_received: e.bytesReceived,
    bytes_sent: e.bytesSent,
    duration: Math.round(e.durationMs),
    upstream_service_time: '-',
    x_forwarded_for: '-',
    user_agent: '-',
    request_id: '-',
    authority: '-',
    upstream_host: dash(ctx.upstreamHost),
    upstream_cluster: cluster,
    upstream_local_address: '-',
    downstream_local_address: '-',
    downstream_remote_address: dash(ctx.source.address),
    requested_server_name: dash(ctx.sni),
    route_name: '-',
    workload: ctx.tables.identity.name,
    listener: ctx.listener,
    peer_workload: dash(inbound ? ctx.source.workload : ctx.endpoint?.name),
    downstream_peer: ctx.source.spiffeId ?? '-',
    proxy_error: dash(ctx.proxyError),
    // No span for a connection: its id, the same at both ends, is what `devmesh explain --trace` takes (l4/context.ts `id`).
    trace_id: dash(ctx.id),
    // Not a gRPC call: nothing added to the text line.
    grpc_status: '',
    decisions: l4RecordsOf(ctx, e.connected),
  };
}
