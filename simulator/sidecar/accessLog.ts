/**
 * One access-log line per request per sidecar in Istio's default Envoy
 * format, so people who read Envoy logs (and tools that parse them) know it:
 *
 * [%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE% %RESPONSE_FLAGS%
 * %RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS% "%UPSTREAM_TRANSPORT_FAILURE_REASON%" %BYTES_RECEIVED%
 * %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%"
 * "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%" %UPSTREAM_CLUSTER% %UPSTREAM_LOCAL_ADDRESS%
 * %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME% %ROUTE_NAME%
 *
 * followed, on a gRPC call only, by the call's status as Envoy's
 * %GRPC_STATUS(SNAKE_STRING)% writes it (`OK`, `UNAVAILABLE`; `-` when the
 * call ended without one) — Istio's default format has no gRPC field, and a
 * gRPC failure is an HTTP 200.
 *
 * Or, with `--log-format json`, the same fields under Istio's JSON keys plus
 * a few of devmesh's own (workload, listener, trace_id, grpc_status, ...). A
 * bounded ring keeps the last entries for the admin `/access_log`.
 */
import type { AccessLogEntry } from '../control/api/contract';
import { formatFlags } from './errors';
import { grpcStatusName } from '../policy/grpc-status';
import { recordsOf } from './decisions';
import { expandLog, logRow, type LogRow } from '../telemetry-protocol';
import type { Exchange } from './downstream';
import { isGrpc } from './grpc/status';
import type { Endpoint } from '../protocol';
import { externalTarget } from './routing/externalEndpoints';
import { isPassthrough, PASSTHROUGH_CLUSTER } from './routing/outboundPolicy';
import type { RoutePlan } from './routing/plan';

export type AccessLogSink = (line: string) => void;

const dash = (v: unknown): string => (v === undefined || v === null || v === '' ? '-' : String(v));
const header = (h: Record<string, string | string[] | undefined>, name: string) => {
  const v = h[name];
  return Array.isArray(v) ? v.join(',') : v;
};

/** A string made once per value (a port, an HTTP version) rather than once per exchange. */
function madeOnce<K>(make: (k: K) => string): (k: K) => string {
  const made = new Map<K, string>();
  return (k) => {
    let s = made.get(k);
    if (s === undefined) made.set(k, (s = make(k)));
    return s;
  };
}
const loopback = madeOnce((port: number) => `127.0.0.1:${port}`);
const inboundCluster = madeOnce((port: number) => `inbound|${port}||`);
const protocolOf = madeOnce((httpVersion: string) => `HTTP/${httpVersion}`);

/**
 * The entry as a row, in `ACCESS_LOG_FIELDS` order: what the admin ring keeps
 * and the telemetry batch carries, one array per exchange. Its start time is
 * epoch ms (`expandLog` writes the ISO string): no Date and no entry object
 * per request, and nothing that outlives the ring but the row.
 */
export function rowOf(listener: string, e: Exchange): LogRow {
  const { ctx } = e;
  const plan = ctx.plan;
  const t = ctx.tables;
  const inbound = listener === 'inbound';
  const h = ctx.downstream.headers as Record<string, string | string[] | undefined>;
  const reqLen = Number(h['content-length']);
  const self = t.self;
  const appPort = inbound && self ? (ctx.inbound?.localPort ?? self.appPort) : 0;
  return [
    // Whole ms: the ISO string expandLog writes has no finer digit (Date truncates), and the batch is shorter.
    Math.trunc(Date.now() - e.durationMs),
    ctx.method,
    header(h, 'x-envoy-original-path') ?? ctx.path,
    protocolOf(ctx.downstream.httpVersion),
    e.status,
    formatFlags(ctx.flags),
    e.proxyError ?? (e.aborted ? 'downstream_remote_disconnect' : e.status ? 'via_upstream' : '-'),
    '-',
    '-',
    Number.isFinite(reqLen) ? reqLen : 0,
    ctx.observed?.responseBytes ?? 0,
    Math.round(e.durationMs),
    '-',
    dash(header(h, 'x-forwarded-for')),
    dash(header(h, 'user-agent')),
    ctx.requestId,
    ctx.authority,
    inbound && self ? loopback(appPort) : ctx.endpoint ? upstreamHost(ctx.endpoint, plan) : '-',
    inbound && self ? inboundCluster(appPort) : outboundCluster(plan),
    '-',
    '-',
    dash(ctx.source.address),
    '-',
    inbound ? 'default' : plan && plan.kind !== 'error' ? plan.routeName : plan?.routeName ?? '-',
    t.identity.name,
    listener,
    dash(inbound ? ctx.source.workload : ctx.endpoint?.name),
    ctx.source.spiffeId ?? '-',
    e.proxyError ?? '-',
    ctx.observed?.span?.traceId ?? '-',
    isGrpc(h) ? (e.grpcStatus === undefined ? '-' : grpcStatusName(e.grpcStatus)) : '',
    recordsOf(listener, ctx, e.status),
  ];
}

/** The entry of one finished exchange, as the admin tail, a printed line and the control plane show it. */
export function entryOf(listener: string, e: Exchange): AccessLogEntry {
  return expandLog(rowOf(listener, e));
}

/** Istio's default text format (see the top of this file). */
export function formatText(e: AccessLogEntry): string {
  return `[${e.start_time}] "${e.method} ${e.path} ${e.protocol}" ${e.response_code} ${e.response_flags} ${e.response_code_details} ${e.connection_termination_details} "${e.upstream_transport_failure_reason}" ${e.bytes_received} ${e.bytes_sent} ${e.duration} ${e.upstream_service_time} "${e.x_forwarded_for}" "${e.user_agent}" "${e.request_id}" "${e.authority}" "${e.upstream_host}" ${e.upstream_cluster} ${e.upstream_local_address} ${e.downstream_local_address} ${e.downstream_remote_address} ${e.requested_server_name} ${e.route_name}${e.grpc_status ? ` ${e.grpc_status}` : ''}`;
}

export function formatEntry(e: AccessLogEntry, format: 'text' | 'json'): string {
  return format === 'json' ? JSON.stringify(e) : formatText(e);
}

/** Reads a text line back into its fields (tests, `devmesh logs`); undefined if it is not one. */
export function parseText(line: string): Partial<AccessLogEntry> | undefined {
  const m = /^\[(\S+)\] "(\S+) (\S+) (\S+)" (\d+) (\S+) (\S+) (\S+) "([^"]*)" (\d+) (\d+) (\d+) (\S+) "([^"]*)" "([^"]*)" "([^"]*)" "([^"]*)" "([^"]*)" (\S+) (\S+) (\S+) (\S+) (\S+) (\S+)(?: (\S+))?$/.exec(line);
  if (!m) return undefined;
  return {
    start_time: m[1], method: m[2], path: m[3], protocol: m[4], response_code: Number(m[5]), response_flags: m[6],
    response_code_details: m[7], connection_termination_details: m[8], upstream_transport_failure_reason: m[9],
    bytes_received: Number(m[10]), bytes_sent: Number(m[11]), duration: Number(m[12]), upstream_service_time: m[13],
    x_forwarded_for: m[14], user_agent: m[15], request_id: m[16], authority: m[17], upstream_host: m[18], upstream_cluster: m[19],
    upstream_local_address: m[20], downstream_local_address: m[21], downstream_remote_address: m[22], requested_server_name: m[23], route_name: m[24],
    grpc_status: m[25] ?? '',
  };
}

export class AccessLog {
  /** The newest `keep` rows, a ring: `next` is where the following one goes. */
  private readonly ring: LogRow[] = [];
  private next = 0;

  constructor(private readonly sink: AccessLogSink | undefined, private readonly format: 'text' | 'json' = 'text', private readonly keep = 200) {}

  /** Records one finished exchange; the row is what the telemetry batch sends (it is never changed after). */
  record(listener: string, e: Exchange): LogRow {
    return this.keepRow(rowOf(listener, e));
  }

  /** An entry made elsewhere (a TCP connection's, l4/accessLog.ts), kept as its row. */
  push(entry: AccessLogEntry): LogRow {
    return this.keepRow(logRow(entry));
  }

  private keepRow(row: LogRow): LogRow {
    if (this.ring.length < this.keep) this.ring.push(row);
    else this.ring[this.next] = row;
    this.next = (this.next + 1) % this.keep;
    if (this.sink) this.sink(formatEntry(expandLog(row), this.format));
    return row;
  }

  /** The kept entries, oldest first. */
  tail(): AccessLogEntry[] {
    const full = this.ring.length === this.keep;
    const rows = full ? [...this.ring.slice(this.next), ...this.ring.slice(0, this.next)] : this.ring;
    return rows.map(expandLog);
  }
}

/** Envoy's upstream cluster of an outbound call: `outbound|port|subset|host`, PassthroughCluster, BlackHoleCluster, or `-`. */
export function outboundCluster(plan: RoutePlan | undefined): string {
  if (plan?.kind === 'forward') return isPassthrough(plan.service) ? PASSTHROUGH_CLUSTER : `outbound|${plan.port}|${plan.subset ?? ''}|${plan.host}`;
  return plan?.kind === 'error' ? plan.cluster ?? '-' : '-';
}

/** The address an outbound call went to: the endpoint's sidecar, or its address outside the mesh. */
function upstreamHost(ep: Endpoint, plan: RoutePlan | undefined): string {
  if (ep.external && plan?.kind === 'forward') {
    const to = externalTarget(ep, plan);
    return `${to.host}:${to.port}`;
  }
  return loopback(ep.sidecar.inboundPort);
}
