/**
 * Istio's standard metrics, with Istio's names, labels and buckets, so the
 * Grafana dashboards and PromQL people already have work unchanged:
 * istio_requests_total, istio_request_duration_milliseconds,
 * istio_request_bytes, istio_response_bytes, istio_tcp_* and, for gRPC,
 * istio_request_messages_total and istio_response_messages_total (with
 * grpc_response_status set on every series of a gRPC call).
 *
 * One prom-client Registry per sidecar (no default registry: several
 * sidecars may share a process). The hot path does not go through
 * prom-client's label hashing (it validates and hashes ~25 labels per call,
 * measured at ~16 us per request for four metrics): each distinct label set
 * is built once and cached under a short key, and a request costs one Map
 * lookup and a few additions. prom-client reads the series at scrape time
 * through its collector interface and renders the exposition format; it is
 * loaded at the first scrape, not at sidecar start (its ~80 modules cost
 * every sidecar process ~1.8 MB of RSS that a mesh nobody scrapes keeps).
 */
import { sendsMtls } from './security/upstreamTls';
import { formatFlags } from './errors';
import type { Registry } from 'prom-client';
import type { WorkloadInfo } from '../protocol';
import type { Exchange } from './downstream';
import { isGrpc } from './grpc/status';
import type { L4Exchange } from './l4/context';
import { serviceForAuthority, type MeshTables } from './tables';
import { stripPort } from '../policy/hosts';
import { BLACKHOLE_CLUSTER, isPassthrough, PASSTHROUGH_CLUSTER } from './routing/outboundPolicy';
import type { RoutePlan } from './routing/plan';
import type { IstioMetricName } from '../policy/model';

/** A short tag per set of disabled metrics, in the series key (the set changes only with the snapshot). */
const offTags = new WeakMap<ReadonlySet<IstioMetricName>, string>();
const offTag = (off: ReadonlySet<IstioMetricName>) => {
  let tag = offTags.get(off);
  if (tag === undefined) offTags.set(off, (tag = [...off].sort().join(',')));
  return tag;
};

/** Istio's default buckets for istio_request_duration_milliseconds. */
export const DURATION_BUCKETS_MS = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000];
/** Exponential buckets for the byte-size histograms (1 B .. 100 MB). */
export const BYTES_BUCKETS = [1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000];

export const LABEL_NAMES = [
  'reporter',
  'source_workload', 'source_workload_namespace', 'source_principal', 'source_app', 'source_version',
  'source_canonical_service', 'source_canonical_revision', 'source_cluster',
  'destination_workload', 'destination_workload_namespace', 'destination_principal', 'destination_app', 'destination_version',
  'destination_service', 'destination_service_name', 'destination_service_namespace',
  'destination_canonical_service', 'destination_canonical_revision', 'destination_cluster',
  'request_protocol', 'response_code', 'grpc_response_status', 'response_flags', 'connection_security_policy',
] as const;
export type LabelName = (typeof LABEL_NAMES)[number];
export type IstioLabels = Record<LabelName, string>;

/** Istio's cluster id when none is configured. */
const CLUSTER = 'Kubernetes';
const UNKNOWN = 'unknown';

interface MetricValue { labels: Record<string, string | number>; value: number; metricName?: string }
interface MetricData { name: string; help: string; type: 'counter' | 'histogram'; values: MetricValue[]; aggregator: 'sum' }

interface CounterSeries { labels: Record<string, string>; value: number }
interface HistogramSeries { labels: Record<string, string>; counts: number[]; sum: number; count: number }

class CounterFamily {
  readonly series = new Map<string, CounterSeries>();
  constructor(readonly name: string, readonly help: string) {}
  add(key: string, labels: () => Record<string, string>, by: number): void {
    this.seriesOf(key, labels).value += by;
  }
  seriesOf(key: string, labels: () => Record<string, string>): CounterSeries {
    let s = this.series.get(key);
    if (!s) this.series.set(key, (s = { labels: labels(), value: 0 }));
    return s;
  }
  /** A series outside the family (no scrape renders it): where a metric a Telemetry disabled is counted. */
  detached(): CounterSeries {
    return { labels: {}, value: 0 };
  }
  get(): MetricData {
    return { name: this.name, help: this.help, type: 'counter', aggregator: 'sum', values: [...this.series.values()].map((s) => ({ labels: s.labels, value: s.value })) };
  }
}

class HistogramFamily {
  readonly series = new Map<string, HistogramSeries>();
  constructor(readonly name: string, readonly help: string, readonly buckets: readonly number[]) {}
  seriesOf(key: string, labels: () => Record<string, string>): HistogramSeries {
    let s = this.series.get(key);
    if (!s) this.series.set(key, (s = { labels: labels(), counts: new Array<number>(this.buckets.length).fill(0), sum: 0, count: 0 }));
    return s;
  }
  /** A series outside the family (no scrape renders it): where a metric a Telemetry disabled is counted. */
  detached(): HistogramSeries {
    return { labels: {}, counts: new Array<number>(this.buckets.length).fill(0), sum: 0, count: 0 };
  }
  observe(s: HistogramSeries, v: number): void {
    const b = this.buckets;
    for (let i = 0; i < b.length; i++) {
      if (v <= b[i]) {
        s.counts[i]++;
        break;
      }
    }
    s.sum += v;
    s.count++;
  }
  get(): MetricData {
    const values: MetricValue[] = [];
    for (const s of this.series.values()) {
      let cumulative = 0;
      this.buckets.forEach((le, i) => {
        cumulative += s.counts[i];
        values.push({ labels: { ...s.labels, le }, value: cumulative, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { ...s.labels, le: '+Inf' }, value: s.count, metricName: `${this.name}_bucket` });
      values.push({ labels: s.labels, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: s.labels, value: s.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: 'histogram', aggregator: 'sum', values };
  }
}

/**
 * The series of one request label set in each request family, found together
 * (one Map lookup per request, none when it has the label values of the last
 * one: `LastRequest`) and incremented in place, without a label object.
 */
interface RequestSeries {
  requests: CounterSeries;
  duration: HistogramSeries;
  requestBytes: HistogramSeries;
  responseBytes: HistogramSeries;
  requestMessages?: CounterSeries;
  responseMessages?: CounterSeries;
}

/** What a request's key is made of (reporter side, peer, host or principal, code, flags, mTLS, protocol, gRPC status), and its series. */
interface LastRequest { peer: string; other: string; code: number; flags: string; mtls: boolean; protocol: string; grpcStatus: string; off: ReadonlySet<IstioMetricName>; key: string; series: RequestSeries }

type Side = Pick<IstioLabels, 'source_workload' | 'source_workload_namespace' | 'source_principal' | 'source_app' | 'source_version' | 'source_canonical_service' | 'source_canonical_revision'>;

function workloadSide(name: string, namespace: string, labels: Record<string, string>, principal: string | undefined, service?: string) {
  const app = labels.app ?? service ?? name;
  const version = labels.version ?? UNKNOWN;
  return {
    workload: name, namespace, principal: principal ?? UNKNOWN, app,
    version, canonical: labels['service.istio.io/canonical-name'] ?? app, revision: labels['service.istio.io/canonical-revision'] ?? (labels.version ?? 'latest'),
  };
}
type WorkloadSide = ReturnType<typeof workloadSide>;
const unknownSide = (principal?: string): WorkloadSide => ({ workload: UNKNOWN, namespace: UNKNOWN, principal: principal ?? UNKNOWN, app: UNKNOWN, version: UNKNOWN, canonical: UNKNOWN, revision: UNKNOWN });

function labelsOf(reporter: 'source' | 'destination', src: WorkloadSide, dst: WorkloadSide, svc: { host: string; name: string; namespace: string }, protocol: string, code: number, flags: string, security: string, grpcStatus = ''): IstioLabels {
  const s: Side = {
    source_workload: src.workload, source_workload_namespace: src.namespace, source_principal: src.principal, source_app: src.app,
    source_version: src.version, source_canonical_service: src.canonical, source_canonical_revision: src.revision,
  };
  return {
    reporter, ...s, source_cluster: CLUSTER,
    destination_workload: dst.workload, destination_workload_namespace: dst.namespace, destination_principal: dst.principal,
    destination_app: dst.app, destination_version: dst.version,
    destination_service: svc.host, destination_service_name: svc.name, destination_service_namespace: svc.namespace,
    destination_canonical_service: dst.canonical, destination_canonical_revision: dst.revision, destination_cluster: CLUSTER,
    request_protocol: protocol, response_code: String(code), grpc_response_status: grpcStatus, response_flags: flags, connection_security_policy: security,
  };
}

/** Istio's TCP metrics carry every label but the response code and gRPC status. */
function tcpLabels(l: IstioLabels): Record<string, string> {
  const { response_code: _c, grpc_response_status: _g, ...rest } = l;
  return rest;
}

export class IstioMetrics {
  /** `settle`: records what is still queued (SidecarTelemetry's ended exchanges) before any read. */
  constructor(private readonly settle: () => void = () => undefined) {}
  private promRegistry: Registry | undefined;
  private readonly requests = new CounterFamily('istio_requests_total', 'Requests processed by the sidecar (Istio standard metric).');
  private readonly duration = new HistogramFamily('istio_request_duration_milliseconds', 'Request duration in milliseconds (Istio standard metric).', DURATION_BUCKETS_MS);
  private readonly requestBytes = new HistogramFamily('istio_request_bytes', 'Request body sizes in bytes (Istio standard metric).', BYTES_BUCKETS);
  private readonly responseBytes = new HistogramFamily('istio_response_bytes', 'Response body sizes in bytes (Istio standard metric).', BYTES_BUCKETS);
  private readonly requestMessages = new CounterFamily('istio_request_messages_total', 'gRPC messages sent by clients (Istio standard metric, gRPC only).');
  private readonly responseMessages = new CounterFamily('istio_response_messages_total', 'gRPC messages sent by servers (Istio standard metric, gRPC only).');
  private readonly tcpSent = new CounterFamily('istio_tcp_sent_bytes_total', 'Bytes sent downstream on TCP connections (TCP ports and upgraded HTTP connections).');
  private readonly tcpReceived = new CounterFamily('istio_tcp_received_bytes_total', 'Bytes received from downstream on TCP connections (TCP ports and upgraded HTTP connections).');
  private readonly tcpOpened = new CounterFamily('istio_tcp_connections_opened_total', 'TCP connections opened (TCP ports and upgraded HTTP connections).');
  private readonly tcpClosed = new CounterFamily('istio_tcp_connections_closed_total', 'TCP connections closed (TCP ports and upgraded HTTP connections).');
  private readonly requestSeries = new Map<string, RequestSeries>();
  /** The last request's key parts and series, per reporter (inbound: destination, else source). */
  private lastDestination: LastRequest | undefined;
  private lastSource: LastRequest | undefined;
  /** Label sets of this sidecar's own side, rebuilt when the config version changes. */
  private selfCache: { version: number; side: WorkloadSide; svc?: { host: string; name: string; namespace: string } } | undefined;

  /** This sidecar's prom-client Registry (no default registry: several sidecars may share a process), made at the first scrape. */
  get registry(): Registry {
    this.settle();
    if (!this.promRegistry) {
      const { Registry: PromRegistry } = require('prom-client') as typeof import('prom-client');
      const registry = new PromRegistry();
      for (const m of [this.requests, this.duration, this.requestBytes, this.responseBytes, this.requestMessages, this.responseMessages, this.tcpSent, this.tcpReceived, this.tcpOpened, this.tcpClosed]) {
        // prom-client's collector interface: anything with name + get() is rendered at scrape time.
        registry.registerMetric(m as unknown as Parameters<Registry['registerMetric']>[0]);
      }
      this.promRegistry = registry;
    }
    return this.promRegistry;
  }

  private self(t: MeshTables) {
    if (this.selfCache?.version !== t.version) {
      const self = t.self;
      const id = t.identity;
      const side = self
        ? workloadSide(self.name, self.namespace, self.labels, self.spiffeId, self.service)
        : workloadSide(id.name, 'istio-system', id.labels, id.spiffeId);
      const s = self ? serviceForAuthority(t, self.service) : undefined;
      this.selfCache = { version: t.version, side, svc: s && { host: s.fqdn, name: s.name, namespace: s.namespace } };
    }
    return this.selfCache;
  }

  /**
   * One finished HTTP exchange. `listener` is outbound/ingress (reporter=source) or inbound (reporter=destination);
   * `sentMtls`: whether an outbound call went out as mTLS (security/upstreamTls.ts), as the caller decided it.
   */
  record(listener: string, e: Exchange, sentMtls = !!e.ctx.endpoint && sendsMtls(e.ctx.tables, e.ctx.endpoint, e.ctx.policy, e.ctx.plan)): void {
    const ctx = e.ctx;
    const t = ctx.tables;
    const me = this.self(t);
    const code = e.status;
    const flags = formatFlags(ctx.flags);
    const grpc = isGrpc(ctx.downstream.headers);
    const protocol = grpc ? 'grpc' : 'http';
    // Istio's label: the call's gRPC status code as a number; empty for HTTP (and for a gRPC call that ended without one).
    const grpcStatus = grpc && e.grpcStatus !== undefined ? String(e.grpcStatus) : '';
    const inbound = listener === 'inbound';
    // The metrics a Telemetry disabled for this side (an empty set, the same one, unless one does).
    const off = t.telemetry.disabledMetrics[inbound ? 'server' : 'client'];
    const src = ctx.source;
    const ep = ctx.endpoint;
    const plan = ctx.plan;
    // Inbound: the caller and its principal; outbound: the endpoint and the host (passthrough calls are told apart by the host they named).
    const peer = inbound ? src.workload ?? '' : ep?.name ?? '';
    const other = inbound ? src.spiffeId ?? '' : plan?.kind === 'forward' && !isPassthrough(plan.service) ? plan.host : ctx.authority;
    const mtls = inbound ? src.spiffeId !== undefined : !!ep && sentMtls;
    const last = inbound ? this.lastDestination : this.lastSource;
    let series: RequestSeries;
    let key: string;
    if (last && last.peer === peer && last.other === other && last.code === code && last.flags === flags && last.mtls === mtls && last.protocol === protocol && last.grpcStatus === grpcStatus && last.off === off) {
      series = last.series;
      key = last.key;
    } else {
      key = `${inbound ? 'd' : 's'}\0${peer}\0${other}\0${code}\0${flags}\0${mtls}\0${protocol}\0${grpcStatus}${off.size > 0 ? `\0${offTag(off)}` : ''}`;
      let found = this.requestSeries.get(key);
      if (!found) {
        const labels: () => IstioLabels = inbound
          ? () => {
            const w = src.workload ? t.workloadByName.get(src.workload) : undefined;
            const srcSide = src.workload
              ? workloadSide(src.workload, src.namespace ?? UNKNOWN, src.labels, src.spiffeId, w?.service)
              : unknownSide(src.spiffeId);
            const svc = me.svc ?? { host: UNKNOWN, name: UNKNOWN, namespace: UNKNOWN };
            return labelsOf('destination', srcSide, me.side, svc, protocol, code, flags, mtls ? 'mutual_tls' : 'none', grpcStatus);
          }
          : () => {
            // An address outside the mesh is no workload: Istio reports its destination workload unknown.
            const dst = ep && !ep.external ? workloadSide(ep.name, ep.namespace, ep.labels, mtls ? ep.spiffeId : undefined, ep.service) : unknownSide();
            const svc = destinationServiceLabels(t, plan, other, ctx.authority);
            // As Istio: the source side cannot vouch for the connection's security policy.
            return labelsOf('source', me.side, dst, svc, protocol, code, flags, UNKNOWN, grpcStatus);
          };
        let made: IstioLabels | undefined;
        const once = () => (made ??= labels());
        // A metric a Telemetry disabled for this side is counted in a series of its own, which no family holds.
        const of = <S>(family: { seriesOf(k: string, l: () => IstioLabels): S; detached(): S }, metric: IstioMetricName): S => (off.has(metric) ? family.detached() : family.seriesOf(key, once));
        found = {
          requests: of(this.requests, 'REQUEST_COUNT'), duration: of(this.duration, 'REQUEST_DURATION'),
          requestBytes: of(this.requestBytes, 'REQUEST_SIZE'), responseBytes: of(this.responseBytes, 'RESPONSE_SIZE'),
        };
        if (grpc) {
          found.requestMessages = of(this.requestMessages, 'GRPC_REQUEST_MESSAGES');
          found.responseMessages = of(this.responseMessages, 'GRPC_RESPONSE_MESSAGES');
        }
        this.requestSeries.set(key, found);
      }
      series = found;
      const next: LastRequest = { peer, other, code, flags, mtls, protocol, grpcStatus, off, key, series };
      if (inbound) this.lastDestination = next;
      else this.lastSource = next;
    }
    series.requests.value++;
    this.duration.observe(series.duration, e.durationMs);
    const reqLen = Number(ctx.downstream.headers['content-length']);
    this.requestBytes.observe(series.requestBytes, Number.isFinite(reqLen) ? reqLen : 0);
    this.responseBytes.observe(series.responseBytes, ctx.observed?.responseBytes ?? 0);
    if (series.requestMessages && series.responseMessages) {
      series.requestMessages.value += ctx.observed?.requestMessages?.messages ?? 0;
      series.responseMessages.value += ctx.observed?.responseMessages?.messages ?? 0;
    }
  }

  /** One upgraded (WebSocket/TCP) connection closed after moving `sent`/`received` bytes downstream. */
  recordTcp(t: MeshTables, reporter: 'source' | 'destination', peer: { workload?: string; principal?: string; service?: string }, sent: number, received: number, phase: 'open' | 'close'): void {
    const me = this.self(t);
    const key = `${reporter}\0${peer.workload ?? ''}\0${peer.principal ?? ''}\0${peer.service ?? ''}`;
    const labels = () => {
      const w = peer.workload ? t.workloadByName.get(peer.workload) : undefined;
      const other = w ? workloadSide(w.name, w.namespace, w.labels, peer.principal, w.service) : unknownSide(peer.principal);
      const s = peer.service ? serviceForAuthority(t, peer.service) : undefined;
      const svc = s ? { host: s.fqdn, name: s.name, namespace: s.namespace } : me.svc && reporter === 'destination' ? me.svc : { host: peer.service ?? UNKNOWN, name: peer.service ?? UNKNOWN, namespace: UNKNOWN };
      const l = reporter === 'source'
        ? labelsOf('source', me.side, other, svc, 'tcp', 0, '-', UNKNOWN)
        : labelsOf('destination', other, me.side, svc, 'tcp', 0, '-', peer.principal ? 'mutual_tls' : 'none');
      return tcpLabels(l);
    };
    const off = t.telemetry.disabledMetrics[reporter === 'destination' ? 'server' : 'client'];
    if (phase === 'open') {
      if (!off.has('TCP_OPENED_CONNECTIONS')) this.tcpOpened.add(key, labels, 1);
      return;
    }
    if (!off.has('TCP_CLOSED_CONNECTIONS')) this.tcpClosed.add(key, labels, 1);
    if (!off.has('TCP_SENT_BYTES')) this.tcpSent.add(key, labels, sent);
    if (!off.has('TCP_RECEIVED_BYTES')) this.tcpReceived.add(key, labels, received);
  }

  /**
   * One TCP connection of the L4 path: opened (counted when accepted), bytes
   * as they flow (reported while it lasts, so long connections show up
   * before they end), closed. `received` is from the downstream, `sent` to it,
   * as Istio's istio_tcp_received_bytes_total / istio_tcp_sent_bytes_total.
   */
  recordConnection(e: L4Exchange, phase: 'open' | 'bytes' | 'close', sent: number, received: number): void {
    const ctx = e.ctx;
    const t = ctx.tables;
    const me = this.self(t);
    const flags = ctx.flags.length > 0 ? ctx.flags.join(',') : '-';
    let key: string;
    let labels: () => Record<string, string>;
    if (ctx.listener === 'inbound') {
      const src = ctx.source;
      const mtls = src.spiffeId !== undefined;
      const svc = ctx.inbound?.service;
      key = `d\0${src.workload ?? ''}\0${src.spiffeId ?? ''}\0${svc?.fqdn ?? ''}\0${flags}\0${mtls}`;
      labels = () => {
        const w = src.workload ? t.workloadByName.get(src.workload) : undefined;
        const srcSide = src.workload ? workloadSide(src.workload, src.namespace ?? UNKNOWN, src.labels, src.spiffeId, w?.service) : unknownSide(src.spiffeId);
        const service = svc ? { host: svc.fqdn, name: svc.name, namespace: svc.namespace } : me.svc ?? { host: UNKNOWN, name: UNKNOWN, namespace: UNKNOWN };
        return tcpLabels(labelsOf('destination', srcSide, me.side, service, 'tcp', 0, flags, mtls ? 'mutual_tls' : 'none'));
      };
    } else {
      const ep = ctx.endpoint;
      const host = ctx.plan?.host ?? ctx.destination?.service.fqdn ?? ctx.passthrough ?? ctx.blackhole ?? UNKNOWN;
      key = `s\0${ep?.name ?? ''}\0${host}\0${flags}\0${ctx.mtls}`;
      labels = () => {
        const dst = ep ? workloadSide(ep.name, ep.namespace, ep.labels, ctx.mtls ? ep.spiffeId : undefined, ep.service) : unknownSide();
        const s = t.serviceByHost.get(host);
        // As on the HTTP path: a passthrough connection is the host it named in the PassthroughCluster, a REGISTRY_ONLY refusal the BlackHoleCluster.
        const service = s ? { host: s.fqdn, name: s.name, namespace: s.namespace }
          : ctx.passthrough ? { host: stripPort(ctx.passthrough), name: PASSTHROUGH_CLUSTER, namespace: UNKNOWN }
            : ctx.blackhole ? { host: BLACKHOLE_CLUSTER, name: BLACKHOLE_CLUSTER, namespace: UNKNOWN }
              : { host, name: host, namespace: UNKNOWN };
        return tcpLabels(labelsOf('source', me.side, dst, service, 'tcp', 0, flags, UNKNOWN));
      };
    }
    const off = t.telemetry.disabledMetrics[ctx.listener === 'inbound' ? 'server' : 'client'];
    if (phase === 'open') return off.has('TCP_OPENED_CONNECTIONS') ? undefined : this.tcpOpened.add(key, labels, 1);
    if (sent > 0 && !off.has('TCP_SENT_BYTES')) this.tcpSent.add(key, labels, sent);
    if (received > 0 && !off.has('TCP_RECEIVED_BYTES')) this.tcpReceived.add(key, labels, received);
    if (phase === 'close' && !off.has('TCP_CLOSED_CONNECTIONS')) this.tcpClosed.add(key, labels, 1);
  }

  /** Prometheus text exposition. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  /** prom-client's JSON form, which the control plane merges with AggregatorRegistry. */
  json(): Promise<unknown> {
    return this.registry.getMetricsAsJSON();
  }
}

/**
 * destination_service(_name, _namespace) of an outbound call: the mesh
 * service or ServiceEntry host; a passthrough call is the host it named in
 * the PassthroughCluster, a REGISTRY_ONLY refusal the BlackHoleCluster.
 */
function destinationServiceLabels(t: MeshTables, plan: RoutePlan | undefined, host: string, authority: string): { host: string; name: string; namespace: string } {
  if (plan?.kind === 'forward' && isPassthrough(plan.service)) return { host: stripPort(authority), name: PASSTHROUGH_CLUSTER, namespace: UNKNOWN };
  if (plan?.kind === 'error' && plan.cluster) return { host: plan.cluster, name: plan.cluster, namespace: UNKNOWN };
  const s = serviceForAuthority(t, host);
  return s ? { host: s.fqdn, name: s.name, namespace: s.namespace } : { host: stripPort(host), name: stripPort(host), namespace: UNKNOWN };
}
