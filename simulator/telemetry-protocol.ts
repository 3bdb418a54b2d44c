/**
 * The telemetry half of the sidecar <-> control contract: what a sidecar
 * sends in its `telemetry` message (protocol.ts), batched every few hundred
 * milliseconds rather than per request. Plain JSON, like the rest of the
 * protocol, so it crosses the IPC channel unchanged.
 */
import type { AccessLogEntry, SpanKind, SpanRecord } from './control/api/contract';
import { ruleKey, type DecisionRecord } from './sidecar/decisions';

/** Requests from one caller workload to one callee workload during one batch (reporter=source). */
export interface EdgeSample {
  source: string;
  /** Callee workload, or `unknown` when no workload was picked (no route, unknown host). */
  destination: string;
  /** Callee service name (short), or the authority when it names no mesh service. */
  service: string;
  requests: number;
  /** 5xx, resets and proxy failures; for gRPC, every call whose status is not OK. */
  errors: number;
  /** Requests sent over mTLS. */
  mtls: number;
  /** Latencies in ms; at most a bounded reservoir of them, `requests` is exact. */
  latenciesMs: number[];
  /** `grpc` for gRPC calls, `tcp` for TCP connections (TCP and TLS ports), else `http` (absent from older sidecars: http). */
  protocol?: 'http' | 'grpc' | 'tcp';
  /** Requests per route source (`HTTPRoute ns/name`, `VirtualService ns/name`); absent or missing a request: the default route. */
  routes?: Record<string, number>;
  /** TCP connections on this edge during the batch (TCP and TLS ports), when there were any. */
  tcp?: TcpEdgeSample;
}

export interface TcpEdgeSample {
  /** Connections that reached the callee (connected) during the batch. */
  connections: number;
  /** Connections that failed (no route, overflow, connect failure, refused). */
  failed: number;
  /** Bytes both ways during the batch. */
  bytes: number;
  /** Connections open at the end of the batch. */
  open: number;
  /** Of `connections`, those that travel to the peer inside mTLS. */
  mtls?: number;
}

/**
 * Requests one rule decided during one batch at one sidecar, per peer: a
 * route rule counts at the caller's sidecar (peer: the workload it sent to),
 * an authorization rule at the callee's (peer: the workload that called).
 */
export interface RuleSample {
  /** `kind/namespace/name/index` (decisions.ts ruleKey). */
  rule: string;
  peer: string;
  /** Whose side counted it: `source` (route) or `destination` (authorization). */
  side: 'source' | 'destination';
  requests: number;
  /** How many of `requests` were TCP connections (a tcp[]/tls[] rule's all are; an AuthorizationPolicy rule's, those network RBAC decided). */
  connections?: number;
  /** 5xx, resets and proxy failures. */
  errors: number;
  latenciesMs: number[];
  /** Trace ids of sampled requests it decided (a few per batch, newest last). */
  traces: string[];
}

export interface TelemetryBatch {
  /** The sidecar that sent it (workload name, or the ingress name). */
  from: string;
  spans: SpanRecord[];
  edges: EdgeSample[];
  /** The most recent access-log entries of this batch (bounded; `droppedLogs` counts the rest). */
  logs: AccessLogEntry[];
  droppedLogs: number;
  /** Hits per rule (per-rule counters); absent from a sidecar that counts none. */
  rules?: RuleSample[];
  /**
   * The compact form a sidecar sends instead of `spans`/`logs` (issue 8: a
   * span as an object with its ~30 attribute names was ~1.5 KB of JSON per
   * hop). `expandBatch` turns it back into exactly the records above.
   */
  spanCommons?: SpanCommon[];
  spanRows?: SpanRow[];
  logRows?: LogRow[];
  /**
   * The decision records of this batch's log rows, each once: a log row's
   * records are sent as their indices here (most requests of a route share
   * theirs: sharedRecords.ts).
   */
  records?: DecisionRecord[];
  /**
   * The strings of this batch's rows that repeat from one exchange to the
   * next (methods, clusters, workloads, principals, routes: `LOG_INTERNED`,
   * `SPAN_INTERNED`), each once: a row holds its index there instead.
   * Index 0 is never named (a span row's 0 is "its log row's").
   */
  strings?: string[];
}

/** What every span of one listener of one sidecar shares under one snapshot: sent once per batch. */
export interface SpanCommon {
  kind: SpanKind;
  role: SpanRecord['role'];
  workload: string;
  service: string;
  namespace: string;
  nodeId: string;
  canonical: string;
  /** `istio.canonical_revision`: the version label, or `latest`. */
  revision: string;
  meshId: string;
  /** `devmesh.version`: the version label, or empty. */
  version: string;
  /** The Telemetry's customTags that are the same on every span (literal, environment), as [tag, value]. */
  tags?: [string, string][];
}

/** One span, by position; see `expandSpan` for what each becomes. */
export type SpanRow = [
  common: number, traceId: string, spanId: string, parentSpanId: string | 0, start: number, durationMs: number,
  method: string, path: string, host: string, status: number, httpVersion: string, userAgent: string,
  requestId: string, authority: string, flags: string, responseSize: number, upstreamCluster: string, peerAddress: string,
  service: string, peerWorkload: string, peerPrincipal: string, mtls: boolean, attempt: number, fault: string,
  /** `grpc` for a gRPC call (content-type application/grpc), else `http`; and its gRPC status, -1 when it ended without one. */
  protocol: 'http' | 'grpc', grpcStatus: number,
  /** The hop's decision records, or (in a batch) the index of the log row of this batch that carries the same records. */
  decisions?: DecisionRecord[] | number,
  /** The Telemetry's customTags read from request headers, as [tag, value]; absent when there are none. */
  headerTags?: [string, string][],
];

/** Where a span row holds its decision records. */
export const SPAN_DECISIONS = 26;

/**
 * One access-log entry: its values in `ACCESS_LOG_FIELDS` order (`start_time`
 * as epoch ms or the ISO string); in a batch with `records`, its decision
 * records as indices into them.
 */
export type LogRow = Array<string | number | DecisionRecord[] | number[]>;

/** The fields of an access-log entry, in the order `rowOf` (sidecar/accessLog.ts) writes them. */
export const ACCESS_LOG_FIELDS: ReadonlyArray<keyof AccessLogEntry> = [
  'start_time', 'method', 'path', 'protocol', 'response_code', 'response_flags', 'response_code_details',
  'connection_termination_details', 'upstream_transport_failure_reason', 'bytes_received', 'bytes_sent', 'duration',
  'upstream_service_time', 'x_forwarded_for', 'user_agent', 'request_id', 'authority', 'upstream_host', 'upstream_cluster',
  'upstream_local_address', 'downstream_local_address', 'downstream_remote_address', 'requested_server_name', 'route_name',
  'workload', 'listener', 'peer_workload', 'downstream_peer', 'proxy_error', 'trace_id', 'grpc_status', 'decisions',
];

/** Where a row holds its decision records (a span of the same exchange carries the same array). */
export const LOG_DECISIONS = ACCESS_LOG_FIELDS.indexOf('decisions');

/**
 * The string fields a span row shares with the log row of its exchange, as
 * [span row position, log row position]. In a batch, a span row whose
 * exchange's log row travels with it (its decisions position names that
 * row) holds 0 where the two strings are equal: the trace id, request id,
 * cluster, principal ... go once per exchange, not twice.
 */
export const SPAN_FROM_LOG: ReadonlyArray<readonly [number, number]> = ([
  [1, 'trace_id'], [6, 'method'], [7, 'path'], [8, 'authority'], [11, 'user_agent'], [12, 'request_id'], [13, 'authority'],
  [14, 'response_flags'], [16, 'upstream_cluster'], [17, 'downstream_remote_address'], [19, 'peer_workload'], [20, 'downstream_peer'],
] as const).map(([span, field]) => [span, ACCESS_LOG_FIELDS.indexOf(field)] as const);

/**
 * The log row positions whose strings a batch sends by index into its
 * `strings`: all but the start time, the request id and the trace id, which
 * are new on every exchange, and the numbers and records.
 */
export const LOG_INTERNED: readonly number[] = ([
  'method', 'path', 'protocol', 'response_flags', 'response_code_details', 'connection_termination_details', 'upstream_transport_failure_reason',
  'upstream_service_time', 'x_forwarded_for', 'user_agent', 'authority', 'upstream_host', 'upstream_cluster', 'upstream_local_address',
  'downstream_local_address', 'downstream_remote_address', 'requested_server_name', 'route_name', 'workload', 'listener', 'peer_workload',
  'downstream_peer', 'proxy_error', 'grpc_status',
] as const).map((f) => ACCESS_LOG_FIELDS.indexOf(f));

/** The same for span rows (positions of `SpanRow`): host, HTTP version, user agent, flags, cluster, peer address, service, peer workload and principal, fault, protocol. */
export const SPAN_INTERNED: readonly number[] = [8, 10, 11, 14, 16, 17, 18, 19, 20, 23, 24];

export function logRow(e: AccessLogEntry): LogRow {
  const f = ACCESS_LOG_FIELDS;
  const row: LogRow = new Array(f.length);
  for (let i = 0; i < f.length; i++) row[i] = e[f[i]];
  return row;
}

/**
 * A row back into the entry; a start time sent as epoch ms becomes the ISO
 * string the entry has always had. One object literal in `ACCESS_LOG_FIELDS`
 * order (a test holds the two together): every entry gets the same shape at
 * once, not 32 keyed stores each (the control plane makes one per request
 * per sidecar).
 */
export function expandLog(row: LogRow): AccessLogEntry {
  const r = row as never[];
  return {
    start_time: typeof row[0] === 'number' ? isoTime(row[0]) : r[0], method: r[1], path: r[2], protocol: r[3], response_code: r[4],
    response_flags: r[5], response_code_details: r[6], connection_termination_details: r[7], upstream_transport_failure_reason: r[8],
    bytes_received: r[9], bytes_sent: r[10], duration: r[11], upstream_service_time: r[12], x_forwarded_for: r[13], user_agent: r[14],
    request_id: r[15], authority: r[16], upstream_host: r[17], upstream_cluster: r[18], upstream_local_address: r[19],
    downstream_local_address: r[20], downstream_remote_address: r[21], requested_server_name: r[22], route_name: r[23], workload: r[24],
    listener: r[25], peer_workload: r[26], downstream_peer: r[27], proxy_error: r[28], trace_id: r[29], grpc_status: r[30], decisions: r[31],
  };
}

/** The log row of a batch's `logRows` a span row names (its exchange's), if it names one. */
export function logOfSpan(r: SpanRow, logRows: readonly LogRow[] | undefined): LogRow | undefined {
  return typeof r[SPAN_DECISIONS] === 'number' ? logRows?.[r[SPAN_DECISIONS]] : undefined;
}

/** Whether a hop failed: 5xx, a reset or no response; a gRPC call by its status (HTTP 200 carries UNAVAILABLE too; one that ended without a status failed). */
function spanFailed(status: number, protocol: SpanRow[24], grpcStatus: number): boolean {
  return status === 0 || status >= 500 || (protocol === 'grpc' && grpcStatus !== 0);
}

/** The last start time `isoTime` wrote, and the ISO text of its second (`YYYY-MM-DDTHH:MM:SS.`). */
const iso = { ms: NaN, text: '', second: NaN, prefix: '' };

/**
 * `new Date(ms).toISOString()` of a whole epoch ms, remembering the last one
 * and its second: the entries of one batch or one read mostly start within
 * the same second, often the same ms (a Date and its formatting per entry
 * was most of `expandLog`).
 */
export function isoTime(ms: number): string {
  if (ms === iso.ms) return iso.text;
  if (!Number.isInteger(ms) || ms < 0) return new Date(ms).toISOString();
  const second = Math.floor(ms / 1000);
  if (second !== iso.second) {
    iso.second = second;
    iso.prefix = new Date(second * 1000).toISOString().slice(0, 20);
  }
  const frac = ms - second * 1000;
  iso.ms = ms;
  iso.text = `${iso.prefix}${frac < 10 ? '00' : frac < 100 ? '0' : ''}${frac}Z`;
  return iso.text;
}

/** A span row back into the record (and attribute order) the trace store, the API and OTLP have always seen; `log`: the row its exchange's log row (`logOfSpan`). */
export function expandSpan(c: SpanCommon, r: SpanRow, log?: LogRow): SpanRecord {
  if (log) {
    r = r.slice() as SpanRow;
    for (const [s, l] of SPAN_FROM_LOG) if (r[s] === 0) r[s] = log[l] as never;
  }
  const [, traceId, spanId, parentSpanId, start, durationMs, method, path, host, status, httpVersion, userAgent,
    requestId, authority, flags, responseSize, upstreamCluster, peerAddress, service, peerWorkload, peerPrincipal, mtls, attempt, fault, protocol, grpcStatus, sent, headerTags] = r;
  // A span of a hop whose entry is in the same batch names that entry's row for its records.
  const decisions = typeof sent === 'number' ? (log?.[LOG_DECISIONS] as DecisionRecord[] | undefined) : sent;
  const q = path.indexOf('?');
  const pathOnly = q < 0 ? path : path.slice(0, q);
  const grpc = protocol === 'grpc';
  const error = spanFailed(status, protocol, grpcStatus);
  const attributes: Record<string, string | number | boolean> = {
    'http.request.method': method,
    'url.path': pathOnly,
    'server.address': host,
    'http.response.status_code': status,
    'network.protocol.version': httpVersion,
    'user_agent.original': userAgent,
    'component': 'proxy',
    'node_id': c.nodeId,
    'guid:x-request-id': requestId,
    'http.method': method,
    'http.url': `http://${authority}${path}`,
    'http.status_code': status,
    'http.protocol': `HTTP/${httpVersion}`,
    'response_flags': flags,
    'response_size': responseSize,
    'upstream_cluster': upstreamCluster,
    'upstream_cluster.name': upstreamCluster,
    'istio.canonical_service': c.canonical,
    'istio.canonical_revision': c.revision,
    'istio.namespace': c.namespace,
    'istio.mesh_id': c.meshId,
    'peer.address': peerAddress,
    'devmesh.workload': c.workload,
    'devmesh.service': service,
    'devmesh.version': c.version,
    'devmesh.peer.workload': peerWorkload,
    'devmesh.peer.principal': peerPrincipal,
    'devmesh.mtls': mtls,
    'devmesh.retry.attempt': attempt,
    'devmesh.fault.injected': fault,
  };
  if (grpc) Object.assign(attributes, rpcAttributes(pathOnly, grpcStatus));
  // Telemetry customTags, as Envoy adds them to the span: literal and environment values, then request headers.
  if (c.tags) for (const [tag, value] of c.tags) attributes[tag] = value;
  if (headerTags) for (const [tag, value] of headerTags) attributes[tag] = value;
  // The rules behind the hop, as attributes a collector can filter on (the records themselves stay beside them).
  if (decisions && decisions.length > 0) {
    for (const d of decisions) {
      if (d.step === 'route' && d.rule) attributes['devmesh.route.rule'] = ruleKey(d.rule);
      if (d.step === 'authz') attributes['devmesh.authz'] = `${d.allowed ? 'allow' : 'deny'}${d.rule ? ` ${ruleKey(d.rule)}` : ''}`;
    }
  }
  if (error) attributes.error = true;
  const name = `${host}${pathOnly}`;
  // parentSpanId is absent, not undefined, on a root span: what JSON over IPC always delivered.
  const span: SpanRecord = parentSpanId !== 0
    ? { traceId, spanId, parentSpanId, name, kind: c.kind, role: c.role, start, durationMs, error, workload: c.workload, service: c.service, namespace: c.namespace, attributes }
    : { traceId, spanId, name, kind: c.kind, role: c.role, start, durationMs, error, workload: c.workload, service: c.service, namespace: c.namespace, attributes };
  if (decisions && decisions.length > 0) span.decisions = decisions;
  return span;
}

/**
 * A gRPC span's attributes: OpenTelemetry's rpc.* (rpc.system, rpc.service,
 * rpc.method from `/package.Service/Method`, rpc.grpc.status_code) and the
 * tags Envoy's tracer sets on gRPC calls (grpc.path, grpc.status_code).
 */
export function rpcAttributes(path: string, grpcStatus: number): Record<string, string | number> {
  const m = /^\/([^/]+)\/([^/]+)$/.exec(path);
  const out: Record<string, string | number> = { 'rpc.system': 'grpc', 'grpc.path': path };
  if (m) {
    out['rpc.service'] = m[1];
    out['rpc.method'] = m[2];
  }
  if (grpcStatus >= 0) {
    out['rpc.grpc.status_code'] = grpcStatus;
    out['grpc.status_code'] = grpcStatus;
  }
  return out;
}

/** The batch with its compact parts turned back into `spans` and `logs` (a batch without them is returned as it is). */
export function expandBatch(b: TelemetryBatch): TelemetryBatch {
  if (!b.spanRows && !b.logRows) return b;
  const commons = b.spanCommons ?? [];
  resolveStrings(b);
  resolveRecords(b);
  const spans = b.spans.slice();
  for (const r of b.spanRows ?? []) {
    const c = commons[r[0]];
    if (c) spans.push(expandSpan(c, r, logOfSpan(r, b.logRows)));
  }
  const logs = b.logs.slice();
  for (const r of b.logRows ?? []) logs.push(expandLog(r));
  return { from: b.from, spans, edges: b.edges, logs, droppedLogs: b.droppedLogs, ...(b.rules ? { rules: b.rules } : {}) };
}

/** Puts a batch's strings (`strings`) back into its rows, in place; before anything reads the rows. */
export function resolveStrings(b: TelemetryBatch): void {
  const strings = b.strings;
  if (!strings) return;
  for (const row of b.logRows ?? []) {
    for (let k = 0; k < LOG_INTERNED.length; k++) {
      const v = row[LOG_INTERNED[k]];
      if (typeof v === 'number') row[LOG_INTERNED[k]] = strings[v];
    }
  }
  for (const row of b.spanRows ?? []) {
    const r = row as unknown[];
    for (let k = 0; k < SPAN_INTERNED.length; k++) {
      const v = r[SPAN_INTERNED[k]];
      if (typeof v === 'number' && v > 0) r[SPAN_INTERNED[k]] = strings[v];
    }
  }
}

/**
 * Log rows name their decision records by index into the batch's `records`:
 * puts the records themselves back, in place (spans read them from the rows).
 */
export function resolveRecords(b: TelemetryBatch): void {
  if (!b.records || !b.logRows) return;
  for (const row of b.logRows) {
    const d = row[LOG_DECISIONS];
    if (Array.isArray(d) && typeof d[0] === 'number') row[LOG_DECISIONS] = (d as number[]).map((i) => b.records![i]);
  }
}

/**
 * A span of a batch as the control plane keeps it until someone reads it
 * (issue 19: the span record, its ~30 attributes and its name made per hop
 * at intake were most of what the trace store promoted, and most spans are
 * never read): what the trace store filters and summarizes on, taken from
 * the row without copying, and the record made from the row on `record()`,
 * the same `expandBatch` makes.
 */
export class RowSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string | undefined;
  readonly kind: SpanKind;
  readonly start: number;
  readonly durationMs: number;
  readonly error: boolean;
  readonly workload: string;
  readonly service: string;
  readonly decisions: DecisionRecord[] | undefined;

  constructor(private readonly common: SpanCommon, private readonly row: SpanRow, private readonly log: LogRow | undefined) {
    this.traceId = ((row[1] as unknown) === 0 && log ? log[TRACE_ID] : row[1]) as string;
    this.spanId = row[2];
    this.parentSpanId = row[3] === 0 ? undefined : row[3];
    this.kind = common.kind;
    this.start = row[4];
    this.durationMs = row[5];
    this.error = spanFailed(row[9], row[24], row[25]);
    this.workload = common.workload;
    this.service = common.service;
    const d = row[SPAN_DECISIONS];
    const decisions = typeof d === 'number' ? (log?.[LOG_DECISIONS] as DecisionRecord[] | undefined) : d;
    this.decisions = decisions && decisions.length > 0 ? decisions : undefined;
  }

  /** Envoy's operation name, `host:port/path` (the record's `name`). */
  get name(): string {
    const r = this.row as unknown[];
    const host = (r[8] === 0 && this.log ? this.log[AUTHORITY] : r[8]) as string;
    const path = (r[7] === 0 && this.log ? this.log[PATH] : r[7]) as string;
    const q = path.indexOf('?');
    return `${host}${q < 0 ? path : path.slice(0, q)}`;
  }

  record(): SpanRecord {
    return expandSpan(this.common, this.row, this.log);
  }
}

const TRACE_ID = ACCESS_LOG_FIELDS.indexOf('trace_id');
const AUTHORITY = ACCESS_LOG_FIELDS.indexOf('authority');
const PATH = ACCESS_LOG_FIELDS.indexOf('path');

export function isTelemetryBatch(v: unknown): v is TelemetryBatch {
  const b = v as TelemetryBatch;
  return !!b && typeof b.from === 'string' && Array.isArray(b.spans) && Array.isArray(b.edges) && Array.isArray(b.logs)
    && (b.spanRows === undefined || (Array.isArray(b.spanRows) && Array.isArray(b.spanCommons)))
    && (b.logRows === undefined || Array.isArray(b.logRows))
    && (b.records === undefined || Array.isArray(b.records))
    && (b.strings === undefined || Array.isArray(b.strings));
}
