/**
 * What a sidecar reports when an exchange ends: Istio metrics (served on its
 * admin port), the finished span, the caller->callee edge sample for the
 * topology, and the access-log entry. Spans, edges and log entries go to the
 * control plane in one batch every `flushMs` (or sooner when many spans wait),
 * never one IPC message per request.
 */
import type { EdgeSample, SpanRecord, TelemetryBatch } from '../telemetry-protocol';
import type { AccessLogEntry } from './accessLog';
import type { Exchange } from './downstream';
import { IstioMetrics } from './istioMetrics';
import { serviceForAuthority } from './tables';

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
  readonly metrics = new IstioMetrics();
  droppedSpans = 0;
  private spans: SpanRecord[] = [];
  private edges = new Map<string, EdgeSample>();
  private logs: AccessLogEntry[] = [];
  private droppedLogs = 0;
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

  /** One finished exchange on `listener` (outbound, ingress or inbound). */
  exchange(listener: string, e: Exchange, log: AccessLogEntry): void {
    this.metrics.record(listener, e);
    if (e.ctx.observed?.span) this.finishSpan(listener, e);
    if (listener !== 'inbound') this.edge(e);
    if (this.logs.length >= this.o.maxLogs) {
      this.logs.shift();
      this.droppedLogs++;
    }
    this.logs.push(log);
  }

  private finishSpan(listener: string, e: Exchange): void {
    if (this.spans.length >= this.o.maxSpans) {
      this.droppedSpans++;
      return;
    }
    const ctx = e.ctx;
    const open = ctx.observed!.span!;
    const t = ctx.tables;
    const id = t.identity;
    const inbound = listener === 'inbound';
    const plan = ctx.plan;
    const ep = ctx.endpoint;
    const svc = inbound ? t.self?.service : plan?.kind === 'forward' ? serviceForAuthority(t, plan.host)?.name : serviceForAuthority(t, ctx.authority)?.name;
    const host = plan?.kind === 'forward' ? `${plan.host}:${plan.port}` : ctx.authority;
    const pathOnly = ctx.path.split('?')[0];
    const mtls = inbound ? ctx.source.spiffeId !== undefined : !!ep && ctx.policy?.tls?.mode !== 'DISABLE';
    const attempt = Number(ctx.headers['x-envoy-attempt-count'] ?? ctx.downstream.headers['x-envoy-attempt-count'] ?? 1) || 1;
    const fault = ctx.flags.includes('FI') ? 'abort' : ctx.flags.includes('DI') ? 'delay' : 'none';
    const namespace = t.self ? t.self.namespace : 'istio-system';
    const canonical = id.labels.app ?? t.self?.service ?? id.name;
    const attrs: Record<string, string | number | boolean> = {
      // OpenTelemetry HTTP semantic conventions
      'http.request.method': ctx.method,
      'url.path': pathOnly,
      'server.address': host,
      'http.response.status_code': e.status,
      'network.protocol.version': ctx.downstream.httpVersion,
      'user_agent.original': String(ctx.downstream.headers['user-agent'] ?? ''),
      // The tags Envoy/Istio put on their spans
      'component': 'proxy',
      'node_id': `sidecar~127.0.0.1~${id.name}.${namespace}~${namespace}.svc.cluster.local`,
      'guid:x-request-id': ctx.requestId,
      'http.method': ctx.method,
      'http.url': `http://${ctx.authority}${ctx.path}`,
      'http.status_code': e.status,
      'http.protocol': `HTTP/${ctx.downstream.httpVersion}`,
      'response_flags': ctx.flags.length > 0 ? ctx.flags.join(',') : '-',
      'response_size': ctx.observed?.responseBytes ?? 0,
      'upstream_cluster': inbound ? `inbound|${t.self?.appPort ?? 0}||` : plan?.kind === 'forward' ? `outbound|${plan.port}|${plan.subset ?? ''}|${plan.host}` : '-',
      'upstream_cluster.name': inbound ? `inbound|${t.self?.appPort ?? 0}||` : plan?.kind === 'forward' ? `outbound|${plan.port}|${plan.subset ?? ''}|${plan.host}` : '-',
      'istio.canonical_service': canonical,
      'istio.canonical_revision': id.labels.version ?? 'latest',
      'istio.namespace': namespace,
      'istio.mesh_id': t.snapshot.meshName,
      'peer.address': ctx.source.address ?? '',
      // devmesh's own, for search in `devmesh traces` and the topology
      'devmesh.workload': id.name,
      'devmesh.service': svc ?? 'unknown',
      'devmesh.version': id.labels.version ?? '',
      'devmesh.peer.workload': (inbound ? ctx.source.workload : ep?.name) ?? 'unknown',
      'devmesh.peer.principal': (inbound ? ctx.source.spiffeId : mtls ? ep?.spiffeId : undefined) ?? '',
      'devmesh.mtls': mtls,
      'devmesh.retry.attempt': attempt,
      'devmesh.fault.injected': fault,
    };
    if (e.status === 0 || e.status >= 500) attrs.error = true;
    this.spans.push({
      traceId: open.traceId,
      spanId: open.spanId,
      parentSpanId: open.parentSpanId,
      name: `${host}${pathOnly}`,
      kind: inbound ? 'server' : 'client',
      role: inbound ? 'inbound' : listener === 'ingress' ? 'ingress' : 'outbound',
      start: open.start,
      durationMs: e.durationMs,
      error: e.status === 0 || e.status >= 500,
      workload: id.name,
      service: inbound ? (t.self?.service ?? canonical) : canonical,
      namespace,
      attributes: attrs,
    });
    if (this.spans.length >= this.o.flushAtSpans && !this.early) {
      this.early = true;
      setImmediate(() => this.flush());
    }
  }

  private edge(e: Exchange): void {
    const ctx = e.ctx;
    const ep = ctx.endpoint;
    const plan = ctx.plan;
    const destination = ep?.name ?? 'unknown';
    const service = ep?.service ?? (plan?.kind === 'forward' ? (serviceForAuthority(ctx.tables, plan.host)?.name ?? plan.host) : (serviceForAuthority(ctx.tables, ctx.authority)?.name ?? ctx.authority));
    const key = `${destination}\0${service}`;
    let s = this.edges.get(key);
    if (!s) this.edges.set(key, (s = { source: ctx.tables.identity.name, destination, service, requests: 0, errors: 0, mtls: 0, latenciesMs: [] }));
    s.requests++;
    if (e.status === 0 || e.status >= 500) s.errors++;
    if (ep && ctx.policy?.tls?.mode !== 'DISABLE') s.mtls++;
    const ms = Math.round(e.durationMs * 100) / 100;
    if (s.latenciesMs.length < this.o.latencySamples) s.latenciesMs.push(ms);
    else {
      const j = Math.floor(Math.random() * s.requests);
      if (j < this.o.latencySamples) s.latenciesMs[j] = ms;
    }
  }

  /** Sends what accumulated since the last flush, if anything did. */
  flush(): void {
    this.early = false;
    if (this.spans.length === 0 && this.edges.size === 0 && this.logs.length === 0) return;
    const batch: TelemetryBatch = { from: this.o.name, spans: this.spans, edges: [...this.edges.values()], logs: this.logs, droppedLogs: this.droppedLogs };
    this.spans = [];
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
