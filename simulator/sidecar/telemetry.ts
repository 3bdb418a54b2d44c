/**
 * What a sidecar reports when an exchange ends: Istio metrics (served on its
 * admin port), the finished span, the caller->callee edge sample for the
 * topology, and the access-log entry. Spans, edges and log entries go to the
 * control plane in one batch every `flushMs` (or sooner when many spans wait),
 * never one IPC message per request.
 */
import { sendsMtls } from './security/upstreamTls';
import { LOG_DECISIONS, LOG_INTERNED, SPAN_DECISIONS, SPAN_FROM_LOG, SPAN_INTERNED, type EdgeSample, type LogRow, type RuleSample, type SpanCommon, type SpanRow, type TelemetryBatch } from '../telemetry-protocol';
import type { L4Exchange } from './l4/context';
import { originKey, ruleKey, ruleKeysOf, type DecisionRecord } from './decisions';
import type { Exchange } from './downstream';
import { isGrpc } from './grpc/status';
import { IstioMetrics } from './istioMetrics';
import { serviceForAuthority, type MeshTables, type RouteOrigin } from './tables';

/** A TCP connection's edge: caller -> the workload it reached (or `unknown`), for the service it went to. */
function tcpEdgeKey(e: L4Exchange): { key: string; destination: string; service: string } {
  const ctx = e.ctx;
  const destination = ctx.endpoint?.name ?? 'unknown';
  const service = ctx.endpoint?.service ?? (ctx.plan ? (serviceForAuthority(ctx.tables, ctx.plan.host)?.name ?? ctx.plan.host) : ctx.destination?.service.name ?? ctx.passthrough ?? 'unknown');
  return { key: `${destination}\0${service}`, destination, service };
}

const routeLabels = new WeakMap<RouteOrigin, string>();

/** `VirtualService ns/name`: the API behind an edge's requests (EdgeSample.routes), made once per origin. */
function routeLabel(origin: RouteOrigin): string {
  let label = routeLabels.get(origin);
  if (label === undefined) routeLabels.set(origin, (label = `${origin.kind} ${origin.namespace}/${origin.name}`));
  return label;
}

/** An edge with TCP connections open says so at least this often, so the topology's window keeps it. */
const OPEN_REFRESH_MS = 5_000;

export interface TelemetryOptions {
  /** Name of this sidecar's workload (or the ingress). */
  name: string;
  send?: (batch: TelemetryBatch) => void;
  flushMs?: number;
  /** Spans buffered before an early flush. */
  flushAtSpans?: number;
  /** Spans kept between flushes at most; more are dropped (and counted). */
  maxSpans?: number;
  /** Access-log entries sent per batch at most (the newest are kept). */
  maxLogs?: number;
  /** Latencies kept per edge per batch (a uniform reservoir; the request count stays exact). */
  latencySamples?: number;
}

export class SidecarTelemetry {
  readonly metrics = new IstioMetrics(() => this.settle());
  droppedSpans = 0;
  private spanRows: SpanRow[] = [];
  /** Where each span row's exchange's access-log row went among this batch's rows, counting those dropped (`encodeRows` links the two). */
  private spanLogs: number[] = [];
  private spanCommons: SpanCommon[] = [];
  private commonIndex = new Map<MeshTables, Map<string, number>>();
  private edges = new Map<string, EdgeSample>();
  private rules = new Map<string, RuleSample>();
  /** The edge and the rule counters the last request of this batch counted on (edge(), countRule()). */
  private lastEdge: EdgeSample | undefined;
  private lastRule: { sample: RuleSample; total: { requests: number; errors: number; lastHit: number } } | undefined;
  /** Hits per rule since this sidecar started (admin `/rules`). */
  private readonly totals = new Map<string, { requests: number; errors: number; lastHit: number }>();
  get ruleTotals(): ReadonlyMap<string, { requests: number; errors: number; lastHit: number }> {
    this.settle();
    return this.totals;
  }
  /** Exchanges ended and not recorded yet (exchange()); every read settles them first. */
  private ended: Array<[listener: string, e: Exchange, log: LogRow, logged: boolean]> = [];
  private logs: LogRow[] = [];
  private droppedLogs = 0;
  /** TCP connections in progress (l4/connection.ts keeps their bytes current). */
  readonly connections = new Set<L4Exchange>();
  /** What was reported of each connection so far. */
  private readonly reported = new WeakMap<L4Exchange, { sent: number; received: number; connected: boolean }>();
  /** Open connections per outbound TCP edge at the last flush, and when that edge last said so. */
  private openByEdge = new Map<string, { open: number; at: number }>();
  private readonly timer: NodeJS.Timeout;
  private early = false;
  private readonly o: Required<Omit<TelemetryOptions, 'send'>> & Pick<TelemetryOptions, 'send'>;

  constructor(opts: TelemetryOptions) {
    // Early flush at 64 spans: a batch is ~2 KB per exchange of JSON over IPC, and one
    // 500-span batch stalls the event loop ~1.5 ms — at 1,000 req/s that alone
    // is the p99 (issue 8). Small batches cost the same in total, in short slices.
    this.o = { flushMs: 250, flushAtSpans: 64, maxSpans: 5000, maxLogs: 200, latencySamples: 200, ...opts };
    this.timer = setInterval(() => this.flush(), this.o.flushMs);
    this.timer.unref();
  }

  /**
   * One finished exchange on `listener` (outbound, ingress or inbound) and its access-log row (accessLog.ts `rowOf`),
   * recorded after the I/O the event loop has next. An inbound HTTP/2 exchange ends where Node sends its last
   * frame (the check phase of the turn that wrote the response); recorded there, its metrics, span, edge and
   * rule counters would run before the loop's next poll — in a process that also holds the caller's sidecar,
   * before that sidecar reads the response and writes it to the calling app: ~60-100 µs of every request's latency at
   * a low rate (BENCHMARKS.md, lat16 branch). Two setImmediate hops land after that poll from either phase.
   * Every read of what they record (flush, the metrics, ruleTotals) settles the queue first.
   */
  exchange(listener: string, e: Exchange, log: LogRow, logged = true): void {
    if (this.ended.length === 0) setImmediate(this.afterNextPoll);
    this.ended.push([listener, e, log, logged]);
  }

  private readonly afterNextPoll = () => setImmediate(this.settle);

  /** Records the ended exchanges now, in the order they ended. */
  readonly settle = (): void => {
    const list = this.ended;
    if (list.length === 0) return;
    this.ended = [];
    for (const [listener, e, log, logged] of list) this.record(listener, e, log, logged);
  };

  /** `logged` false: a Telemetry turned this side's access log off (no entry; the span keeps all it has). */
  private record(listener: string, e: Exchange, log: LogRow, logged: boolean): void {
    const ctx = e.ctx;
    const ep = ctx.endpoint;
    // Whether the call went out as mTLS, decided once for the metrics, the span and the edge.
    const mtls = listener !== 'inbound' && !!ep && sendsMtls(ctx.tables, ep, ctx.policy, ctx.plan);
    this.metrics.record(listener, e, mtls);
    if (ctx.observed?.span) this.finishSpan(listener, e, mtls, log, logged);
    if (listener !== 'inbound') this.edge(e, mtls);
    const rules = ruleKeysOf(ctx, listener);
    if (rules) for (const rule of rules) this.ruleHit(rule, listener, e);
    if (logged) this.pushLog(log);
  }

  private finishSpan(listener: string, e: Exchange, sentMtls: boolean, log: LogRow, logged: boolean): void {
    if (this.spanRows.length >= this.o.maxSpans) {
      this.droppedSpans++;
      return;
    }
    const ctx = e.ctx;
    const open = ctx.observed!.span!;
    const t = ctx.tables;
    const inbound = listener === 'inbound';
    const plan = ctx.plan;
    const ep = ctx.endpoint;
    const forward = plan?.kind === 'forward' ? plan : undefined;
    const svc = inbound ? t.self?.service : forward ? serviceForAuthority(t, forward.host)?.name : serviceForAuthority(t, ctx.authority)?.name;
    const host = forward ? `${forward.host}:${forward.port}` : ctx.authority;
    const mtls = inbound ? ctx.source.spiffeId !== undefined : sentMtls;
    const attempt = Number(ctx.headers['x-envoy-attempt-count'] ?? ctx.downstream.headers['x-envoy-attempt-count'] ?? 1) || 1;
    const flags = ctx.flags;
    const fault = flags.length === 0 ? 'none' : flags.includes('FI') ? 'abort' : flags.includes('DI') ? 'delay' : 'none';
    const cluster = inbound ? `inbound|${ctx.inbound?.localPort ?? t.self?.appPort ?? 0}||` : forward ? `outbound|${forward.port}|${forward.subset ?? ''}|${forward.host}` : '-';
    // Positions as SpanRow (telemetry-protocol.ts); the control plane expands it into the span record.
    this.spanRows.push([
      this.commonFor(t, listener), open.traceId, open.spanId, open.parentSpanId ?? 0, open.start, e.durationMs,
      ctx.method, ctx.path, host, e.status, ctx.downstream.httpVersion, String(ctx.downstream.headers['user-agent'] ?? ''),
      ctx.requestId, ctx.authority, flags.length > 0 ? flags.join(',') : '-', ctx.observed?.responseBytes ?? 0, cluster, ctx.source.address ?? '',
      svc ?? 'unknown', (inbound ? ctx.source.workload : ep?.name) ?? 'unknown', (inbound ? ctx.source.spiffeId : mtls ? ep?.spiffeId : undefined) ?? '',
      mtls, attempt, fault, isGrpc(ctx.downstream.headers) ? 'grpc' : 'http', e.grpcStatus ?? -1, log[LOG_DECISIONS] as DecisionRecord[],
    ]);
    // Telemetry customTags from request headers (most proxies have none: no work then).
    const headerTags = t.telemetry.tracing[inbound ? 'server' : 'client'].headerTags;
    if (headerTags.length > 0) this.spanRows[this.spanRows.length - 1][27] = headerTagValues(headerTags, ctx.downstream.headers);
    // The row is pushed right after (exchange()): its place counts every row of this batch, the dropped ones too.
    // Not logged (a Telemetry turned this side's access log off): no row to name, the span keeps all it has.
    this.spanLogs.push(logged ? this.logs.length + this.droppedLogs : Number.NEGATIVE_INFINITY);
    if (this.spanRows.length >= this.o.flushAtSpans && !this.early) {
      this.early = true;
      setImmediate(() => this.flush());
    }
  }

  /** Index in this batch's `spanCommons` of what every span of `listener` shares under snapshot `t`. */
  private commonFor(t: MeshTables, listener: string): number {
    let byListener = this.commonIndex.get(t);
    if (!byListener) this.commonIndex.set(t, (byListener = new Map()));
    let i = byListener.get(listener);
    if (i !== undefined) return i;
    const id = t.identity;
    const inbound = listener === 'inbound';
    const namespace = t.self ? t.self.namespace : 'istio-system';
    const canonical = id.labels.app ?? t.self?.service ?? id.name;
    i = this.spanCommons.length;
    this.spanCommons.push({
      kind: inbound ? 'server' : 'client',
      role: inbound ? 'inbound' : listener === 'ingress' ? 'ingress' : 'outbound',
      workload: id.name,
      service: inbound ? (t.self?.service ?? canonical) : canonical,
      namespace,
      nodeId: `sidecar~127.0.0.1~${id.name}.${namespace}~${namespace}.svc.cluster.local`,
      canonical,
      revision: id.labels.version ?? 'latest',
      meshId: t.snapshot.meshName,
      version: id.labels.version ?? '',
      ...tagsOf(t, inbound),
    });
    byListener.set(listener, i);
    return i;
  }

  /** One request a rule decided: counted for the control plane's window and in this sidecar's totals. */
  private ruleHit(rule: string, listener: string, e: Exchange): void {
    const ctx = e.ctx;
    const authz = rule.startsWith('AuthorizationPolicy/');
    const side = authz && listener === 'inbound' ? 'destination' : 'source';
    const peer = (side === 'destination' ? ctx.source.workload : ctx.endpoint?.name) ?? 'unknown';
    this.countRule(rule, peer, side, e.status === 0 || e.status >= 500, e.durationMs, ctx.observed?.span?.traceId);
  }

  /** `trace` undefined and `connection` true: a TCP connection (it has no trace). */
  private countRule(rule: string, peer: string, side: RuleSample['side'], failed: boolean, durationMs: number, trace: string | undefined, connection = false): void {
    // A sidecar's requests mostly count against the rule and peer of the one before: no key string then.
    const last = this.lastRule;
    let s: RuleSample | undefined;
    let total: { requests: number; errors: number; lastHit: number } | undefined;
    if (last && last.sample.rule === rule && last.sample.peer === peer && last.sample.side === side) ({ sample: s, total } = last);
    else {
      const key = `${rule}\0${peer}\0${side}`;
      s = this.rules.get(key);
      if (!s) this.rules.set(key, (s = { rule, peer, side, requests: 0, errors: 0, latenciesMs: [], traces: [] }));
      total = this.totals.get(rule);
      if (!total) this.totals.set(rule, (total = { requests: 0, errors: 0, lastHit: 0 }));
      this.lastRule = { sample: s, total };
    }
    s.requests++;
    if (connection) s.connections = (s.connections ?? 0) + 1;
    if (failed) s.errors++;
    reservoir(s.latenciesMs, s.requests, durationMs, this.o.latencySamples);
    if (trace && s.traces[s.traces.length - 1] !== trace) {
      if (s.traces.length >= 5) s.traces.shift();
      s.traces.push(trace);
    }
    total.requests++;
    if (failed) total.errors++;
    total.lastHit = Date.now();
  }

  private edge(e: Exchange, mtls: boolean): void {
    const ctx = e.ctx;
    const ep = ctx.endpoint;
    const plan = ctx.plan;
    // A host outside the mesh is one node (its ServiceEntry host, the PassthroughCluster), whichever address answered; a refusal is the BlackHoleCluster's.
    const destination = ep ? (ep.external ? ep.service : ep.name) : plan?.kind === 'error' && plan.cluster ? plan.cluster : 'unknown';
    const service = ep?.service ?? (plan?.kind === 'forward' ? (serviceForAuthority(ctx.tables, plan.host)?.name ?? plan.host) : (serviceForAuthority(ctx.tables, ctx.authority)?.name ?? ctx.authority));
    const protocol = isGrpc(ctx.downstream.headers) ? 'grpc' : 'http';
    // Mostly the edge of the request before: no key string then.
    let s = this.lastEdge;
    if (!s || s.destination !== destination || s.service !== service || s.protocol !== protocol) {
      const key = `${destination}\0${service}\0${protocol}`;
      s = this.edges.get(key);
      if (!s) this.edges.set(key, (s = { source: ctx.tables.identity.name, destination, service, requests: 0, errors: 0, mtls: 0, latenciesMs: [], protocol }));
      this.lastEdge = s;
    }
    s.requests++;
    // Which API routed it (the rule's origin): the topology says so per edge.
    const origin = plan && plan.kind !== 'error' ? plan.origin : undefined;
    if (origin) {
      const route = routeLabel(origin);
      (s.routes ??= {})[route] = (s.routes[route] ?? 0) + 1;
    }
    // A gRPC call that failed is an HTTP 200 with a status that is not OK (or none at all).
    if (e.status === 0 || e.status >= 500 || (protocol === 'grpc' && e.grpcStatus !== 0)) s.errors++;
    if (mtls) s.mtls++;
    reservoir(s.latenciesMs, s.requests, e.durationMs, this.o.latencySamples);
  }

  /** A TCP connection was accepted (istio_tcp_connections_opened_total). */
  connectionOpened(e: L4Exchange): void {
    this.metrics.recordConnection(e, 'open', 0, 0);
  }

  /** A TCP connection is over: its last bytes and its close in the metrics, its edge, its access-log entry. */
  connectionDone(e: L4Exchange, entry: LogRow | undefined): void {
    const { sent, received } = this.progress(e);
    this.metrics.recordConnection(e, 'close', sent, received);
    if (e.ctx.listener !== 'inbound') {
      const edge = this.tcpEdge(e);
      edge.bytes += sent + received;
      if (!e.connected) edge.failed++;
      // A connection a tcp[]/tls[] rule routed counts against that rule, as a request does against an http[] rule.
      const origin = e.ctx.plan?.origin;
      if (origin) this.countRule(originKey(origin), e.ctx.endpoint?.name ?? 'unknown', 'source', !e.connected, e.durationMs, undefined, true);
    }
    // A connection the network RBAC decided by a rule counts against that rule, at the callee (its lens: connections per minute).
    const by = e.ctx.listener === 'inbound' ? e.ctx.authz?.by : undefined;
    if (by) this.countRule(ruleKey({ kind: 'AuthorizationPolicy', namespace: by.namespace, name: by.name, rule: by.rule }), e.ctx.source.workload ?? 'unknown', 'destination', !e.connected, e.durationMs, undefined, true);
    if (entry) this.pushLog(entry);
  }

  /** Bytes since the last report; a newly connected connection is counted once on its edge. */
  private progress(e: L4Exchange): { sent: number; received: number } {
    let r = this.reported.get(e);
    if (!r) this.reported.set(e, (r = { sent: 0, received: 0, connected: false }));
    const sent = e.bytesSent - r.sent;
    const received = e.bytesReceived - r.received;
    r.sent = e.bytesSent;
    r.received = e.bytesReceived;
    if (e.connected && !r.connected) {
      r.connected = true;
      if (e.ctx.listener !== 'inbound') {
        const edge = this.tcpEdge(e);
        edge.connections++;
        if (e.ctx.mtls) edge.mtls = (edge.mtls ?? 0) + 1;
      }
    }
    return { sent, received };
  }

  /** The edge sample a TCP connection counts on (reporter=source), created for this batch if needed. */
  private tcpEdge(e: L4Exchange): NonNullable<EdgeSample['tcp']> {
    const ctx = e.ctx;
    const { key, destination, service } = tcpEdgeKey(e);
    let s = this.edges.get(key);
    if (!s) this.edges.set(key, (s = { source: ctx.tables.identity.name, destination, service, requests: 0, errors: 0, mtls: 0, latenciesMs: [], protocol: 'tcp' }));
    s.tcp ??= { connections: 0, failed: 0, bytes: 0, open: 0, mtls: 0 };
    return s.tcp;
  }

  /**
   * Bytes of the connections still open (metrics and edges), and how many
   * each outbound TCP edge holds: said when it changed, and every few
   * seconds while it holds any, so an idle pooled connection stays drawn.
   */
  private liveConnections(now: number): void {
    const open = new Map<string, { count: number; e: L4Exchange }>();
    for (const e of this.connections) {
      const { sent, received } = this.progress(e);
      const outbound = e.ctx.listener !== 'inbound';
      if (sent + received > 0) {
        this.metrics.recordConnection(e, 'bytes', sent, received);
        if (outbound) this.tcpEdge(e).bytes += sent + received;
      }
      if (e.connected && outbound) {
        const { key } = tcpEdgeKey(e);
        open.set(key, { count: (open.get(key)?.count ?? 0) + 1, e });
      }
    }
    const next = new Map<string, { open: number; at: number }>();
    for (const [key, { count, e }] of open) {
      const last = this.openByEdge.get(key);
      if (!last || last.open !== count || now - last.at >= OPEN_REFRESH_MS || this.edges.get(key)?.tcp) {
        this.tcpEdge(e).open = count;
        next.set(key, { open: count, at: now });
      } else next.set(key, last);
    }
    this.openByEdge = next;
  }

  private pushLog(row: LogRow): void {
    if (this.logs.length >= this.o.maxLogs) {
      this.logs.shift();
      this.droppedLogs++;
    }
    this.logs.push(row);
  }

  /** Sends what accumulated since the last flush, if anything did. */
  flush(): void {
    this.settle();
    this.early = false;
    if (this.connections.size > 0 || this.openByEdge.size > 0) this.liveConnections(Date.now());
    if (this.spanRows.length === 0 && this.edges.size === 0 && this.logs.length === 0 && this.rules.size === 0) return;
    // Spans and log entries go compact (positional rows); the control plane's hub expands them (expandBatch).
    const { logRows, records, strings } = encodeRows(this.spanRows, this.spanLogs.map((n) => n - this.droppedLogs), this.logs);
    const batch: TelemetryBatch = { from: this.o.name, spans: [], edges: [...this.edges.values()], logs: [], droppedLogs: this.droppedLogs, spanCommons: this.spanCommons, spanRows: this.spanRows, logRows };
    if (records.length > 0) batch.records = records;
    if (strings.length > 1) batch.strings = strings;
    if (this.rules.size > 0) batch.rules = [...this.rules.values()];
    this.rules = new Map();
    this.lastEdge = undefined;
    this.lastRule = undefined;
    this.spanRows = [];
    this.spanLogs = [];
    this.spanCommons = [];
    this.commonIndex = new Map();
    this.edges = new Map();
    this.logs = [];
    this.droppedLogs = 0;
    this.o.send?.(batch);
  }

  close(): void {
    clearInterval(this.timer);
    this.flush();
  }
}

/**
 * The batch's rows as they travel (the rows themselves stay as they are: the
 * admin ring holds the same log rows). A log row's decision records become
 * indices into the batch's `records`, each distinct record once (most
 * exchanges share theirs: sharedRecords.ts). A span row whose exchange's log
 * row is in the batch names that row by index where its records were, and
 * holds 0 for each string the row already carries (SPAN_FROM_LOG). The
 * strings that repeat from one exchange to the next (LOG_INTERNED,
 * SPAN_INTERNED) go once per batch in `strings`, the rows naming them by
 * index. expandBatch (and the control plane's hub) puts all of it back.
 */
function encodeRows(spans: SpanRow[], spanLogs: readonly number[], logs: readonly LogRow[]): { logRows: LogRow[]; records: DecisionRecord[]; strings: string[] } {
  const records: DecisionRecord[] = [];
  const recordAt = new Map<DecisionRecord, number>();
  const strings = new StringTable();
  const logRows = new Array<LogRow>(logs.length);
  for (let i = 0; i < logs.length; i++) {
    const row = logs[i];
    const sent = row.slice();
    for (let k = 0; k < LOG_INTERNED.length; k++) {
      const p = LOG_INTERNED[k];
      const v = sent[p];
      if (typeof v === 'string') sent[p] = strings.at(k, v);
    }
    logRows[i] = sent;
    const d = row[LOG_DECISIONS] as DecisionRecord[] | undefined;
    if (!Array.isArray(d) || d.length === 0) continue;
    const at = new Array<number>(d.length);
    for (let k = 0; k < d.length; k++) {
      let j = recordAt.get(d[k]);
      if (j === undefined) recordAt.set(d[k], (j = records.push(d[k]) - 1));
      at[k] = j;
    }
    sent[LOG_DECISIONS] = at;
  }
  for (let k = 0; k < spans.length; k++) {
    const i = spanLogs[k];
    const span = spans[k] as unknown[];
    // Its row was dropped (more entries than a batch keeps): the span keeps all it has.
    if (i >= 0) {
      const log = logs[i];
      span[SPAN_DECISIONS] = i;
      for (let f = 0; f < SPAN_FROM_LOG.length; f++) {
        const [s, l] = SPAN_FROM_LOG[f];
        if (span[s] === log[l]) span[s] = 0;
      }
    }
    for (let f = 0; f < SPAN_INTERNED.length; f++) {
      const p = SPAN_INTERNED[f];
      const v = span[p];
      if (typeof v === 'string') span[p] = strings.at(LOG_INTERNED.length + f, v);
    }
  }
  return { logRows, records, strings: strings.list };
}

/**
 * A batch's strings, each once (index 0 left unnamed: a span row's 0 means
 * its log row's). A column mostly repeats the string of the row before (often
 * the very same string: madeOnce, the tables' names), so each column
 * remembers its last one and its index before asking the Map.
 */
class StringTable {
  readonly list: string[] = [''];
  private readonly index = new Map<string, number>();
  private readonly last: string[] = [];
  private readonly lastAt: number[] = [];

  at(column: number, s: string): number {
    if (this.last[column] === s) return this.lastAt[column];
    let i = this.index.get(s);
    if (i === undefined) this.index.set(s, (i = this.list.push(s) - 1));
    this.last[column] = s;
    this.lastAt[column] = i;
    return i;
  }
}

/** The Telemetry's customTags every span of a side shares (literal, environment), when it has any. */
function tagsOf(t: MeshTables, inbound: boolean): Pick<SpanCommon, 'tags'> {
  const tags = t.telemetry.tracing[inbound ? 'server' : 'client'].tags;
  return tags.length > 0 ? { tags: tags.map(([k, v]) => [k, v]) } : {};
}

/** customTags `header`: the request header's value as the proxy received it, else the tag's defaultValue; neither: no tag. */
function headerTagValues(tags: readonly (readonly [string, string, string | undefined])[], headers: Record<string, string | string[] | undefined>): [string, string][] {
  const out: [string, string][] = [];
  for (const [tag, name, fallback] of tags) {
    const v = headers[name];
    const value = Array.isArray(v) ? v.join(',') : v ?? fallback;
    if (value !== undefined) out.push([tag, value]);
  }
  return out;
}

/** Keeps a uniform sample of at most `cap` latencies out of the `seen` so far (the count stays exact elsewhere). */
function reservoir(samples: number[], seen: number, durationMs: number, cap: number): void {
  const ms = Math.round(durationMs * 100) / 100;
  if (samples.length < cap) samples.push(ms);
  else {
    const j = Math.floor(Math.random() * seen);
    if (j < cap) samples[j] = ms;
  }
}
