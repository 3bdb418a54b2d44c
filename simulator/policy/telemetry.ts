/**
 * The Telemetry resources in force for one proxy, merged as pilot merges
 * them (pilot/pkg/model/telemetry.go applicableTelemetries, Tracing,
 * mergeLogs, mergeMetrics):
 *
 * - levels, least specific first: the root namespace's Telemetry without a
 *   selector (mesh-wide), the proxy namespace's without a selector (unless
 *   that is the root namespace), then the first of the proxy's namespace
 *   whose `selector.matchLabels` all match its labels — or, for the
 *   ingress, whose `targetRefs` name a Gateway API Gateway it serves. Of
 *   several at one level, the oldest applies (creationTimestamp, then name;
 *   files without one in the order they are written), the others are ignored;
 * - tracing entries apply in that order, each field it sets over the one
 *   before (customTags replaced as a whole); `match.mode` CLIENT or SERVER
 *   narrows an entry to the proxy's outbound (and gateway) or inbound side;
 * - accessLogging: an entry without providers inherits its parent's, the
 *   most specific level that names providers decides which are in scope,
 *   and `disabled: true` takes them out for its side. devmesh writes its one
 *   access log while any provider stays in scope (`envoy` by default, as a
 *   Mesh that logs to stdout has);
 * - metrics: overrides per (side, metric), later over earlier; ALL_METRICS
 *   disabled drops every metric, a later override brings them back.
 *
 * Resolved once per snapshot per proxy (tables.ts): the request path only
 * reads the result. Pure.
 */
import { byCreation } from './gateway-api/age';
import { selects } from './mesh-inventory';
import type { IstioMetricName, Resource, TelemetrySpec, TracingCustomTag, WorkloadMode } from './model';

export type TelemetrySide = 'client' | 'server';

export interface TracingSettings {
  /** randomSamplingPercentage; undefined: the Mesh's `telemetry.sampling`. */
  sampling?: number;
  /** disableSpanReporting: context is propagated and sampled, no span is reported. */
  disabled: boolean;
  /** customTags whose value is the same on every span (literal, environment), as [tag, value]. */
  tags: readonly (readonly [string, string])[];
  /** customTags read from a request header, as [tag, header (lower case), default]. */
  headerTags: readonly (readonly [string, string, string | undefined])[];
}

export interface ResolvedTelemetry {
  /** `ns/name` of each Telemetry applied, least specific first. */
  sources: string[];
  tracing: Record<TelemetrySide, TracingSettings>;
  /** Whether this proxy writes access-log entries for each side. */
  accessLog: Record<TelemetrySide, boolean>;
  /** Istio metrics (telemetry.proto names: REQUEST_COUNT, ...) this proxy does not record, per side. */
  disabledMetrics: Record<TelemetrySide, ReadonlySet<IstioMetricName>>;
}

export const STANDARD_METRICS: readonly IstioMetricName[] = [
  'REQUEST_COUNT', 'REQUEST_DURATION', 'REQUEST_SIZE', 'RESPONSE_SIZE', 'TCP_OPENED_CONNECTIONS', 'TCP_CLOSED_CONNECTIONS',
  'TCP_SENT_BYTES', 'TCP_RECEIVED_BYTES', 'GRPC_REQUEST_MESSAGES', 'GRPC_RESPONSE_MESSAGES',
];

/** The providers a proxy has without any Telemetry: Envoy's access log and Prometheus (Istio's default meshConfig). */
export const DEFAULT_PROVIDERS = { accessLogging: ['envoy'], metrics: ['prometheus'] } as const;

/** Extension providers every Istio mesh has (its default meshConfig), whatever the Mesh declares. */
export const BUILT_IN_PROVIDERS = ['envoy', 'prometheus', 'stackdriver'] as const;

const NONE: ResolvedTelemetry = {
  sources: [],
  tracing: { client: { disabled: false, tags: [], headerTags: [] }, server: { disabled: false, tags: [], headerTags: [] } },
  accessLog: { client: true, server: true },
  disabledMetrics: { client: new Set(), server: new Set() },
};

export interface TelemetryProxy {
  namespace: string;
  labels: Readonly<Record<string, string>>;
  /** For the ingress: the Gateway API Gateways it serves, as `ns/name`. */
  gateways?: readonly string[];
}

const sides = (mode: WorkloadMode | undefined): TelemetrySide[] => (mode === 'CLIENT' ? ['client'] : mode === 'SERVER' ? ['server'] : ['client', 'server']);
const hasSelector = (s: TelemetrySpec) => Object.keys(s.selector?.matchLabels ?? {}).length > 0;
const targetRefsOf = (s: TelemetrySpec) => [...(s.targetRef ? [s.targetRef] : []), ...(s.targetRefs ?? [])];

/** The Telemetry resources that apply to a proxy, least specific first (pilot's applicableTelemetries). */
export function applicableTelemetries(all: readonly Resource<'Telemetry'>[], proxy: TelemetryProxy, rootNamespace: string, defaultNamespace: string): Resource<'Telemetry'>[] {
  if (all.length === 0) return [];
  const nsOf = (t: Resource<'Telemetry'>) => t.metadata.namespace ?? defaultNamespace;
  const ordered = byCreation(all, (t) => ({ created: t.metadata.creationTimestamp, name: t.metadata.name, namespace: nsOf(t) }));
  const spec = (t: Resource<'Telemetry'>): TelemetrySpec => t.spec ?? {};
  const wide = (ns: string) => ordered.find((t) => nsOf(t) === ns && !hasSelector(spec(t)) && targetRefsOf(spec(t)).length === 0);
  const out: Resource<'Telemetry'>[] = [];
  const root = wide(rootNamespace);
  if (root) out.push(root);
  if (proxy.namespace !== rootNamespace) {
    const ns = wide(proxy.namespace);
    if (ns) out.push(ns);
  }
  const workload = ordered.find((t) => {
    const s = spec(t);
    if (hasSelector(s)) return nsOf(t) === proxy.namespace && selects(s.selector!.matchLabels!, proxy.labels as Record<string, string>);
    const refs = targetRefsOf(s);
    return refs.length > 0 && !!proxy.gateways && refs.some((r) => r.kind === 'Gateway' && (r.group ?? 'gateway.networking.k8s.io') === 'gateway.networking.k8s.io'
      && (r.namespace ?? nsOf(t)) === nsOf(t) && proxy.gateways!.includes(`${nsOf(t)}/${r.name}`));
  });
  if (workload) out.push(workload);
  return out;
}

/** What the Telemetry resources in force make of one proxy's tracing, access log and metrics. `env`: the proxy's environment (customTags `environment`). */
export function resolveTelemetry(
  all: readonly Resource<'Telemetry'>[] | undefined,
  proxy: TelemetryProxy,
  rootNamespace: string,
  defaultNamespace: string,
  env: Readonly<Record<string, string | undefined>> = {},
): ResolvedTelemetry {
  const applied = applicableTelemetries(all ?? [], proxy, rootNamespace, defaultNamespace);
  if (applied.length === 0) return NONE;
  const specs = applied.map((t) => t.spec ?? {});
  return {
    sources: applied.map((t) => `${t.metadata.namespace ?? defaultNamespace}/${t.metadata.name}`),
    tracing: mergeTracing(specs, env),
    accessLog: { client: logs(specs, 'client'), server: logs(specs, 'server') },
    disabledMetrics: mergeMetrics(specs),
  };
}

function mergeTracing(specs: TelemetrySpec[], env: Readonly<Record<string, string | undefined>>): ResolvedTelemetry['tracing'] {
  const merged: Record<TelemetrySide, { sampling?: number; disabled: boolean; customTags?: Record<string, TracingCustomTag> }> = {
    client: { disabled: false }, server: { disabled: false },
  };
  for (const t of specs.flatMap((s) => s.tracing ?? [])) {
    for (const side of sides(t.match?.mode)) {
      const m = merged[side];
      if (t.disableSpanReporting !== undefined) m.disabled = t.disableSpanReporting;
      if (t.customTags !== undefined) m.customTags = t.customTags;
      if (t.randomSamplingPercentage !== undefined) m.sampling = t.randomSamplingPercentage;
    }
  }
  const settle = (m: (typeof merged)[TelemetrySide]): TracingSettings => {
    const tags: [string, string][] = [];
    const headerTags: [string, string, string | undefined][] = [];
    for (const [name, tag] of Object.entries(m.customTags ?? {})) {
      if (tag.literal) tags.push([name, String(tag.literal.value ?? '')]);
      else if (tag.environment) {
        const v = env[tag.environment.name] ?? tag.environment.defaultValue;
        if (v !== undefined) tags.push([name, v]);
      } else if (tag.header) headerTags.push([name, tag.header.name.toLowerCase(), tag.header.defaultValue]);
    }
    return { ...(m.sampling !== undefined ? { sampling: m.sampling } : {}), disabled: m.disabled, tags, headerTags };
  };
  return { client: settle(merged.client), server: settle(merged.server) };
}

/** mergeLogs: whether any provider stays in scope and enabled for `side`. */
function logs(specs: TelemetrySpec[], side: TelemetrySide): boolean {
  const levels = specs.map((s) => s.accessLogging ?? []).filter((l) => l.length > 0);
  if (levels.length === 0) return true;
  const lower = (names: readonly string[]) => names.map((n) => n.toLowerCase());
  let inScope: string[] = lower(DEFAULT_PROVIDERS.accessLogging);
  for (const level of levels) {
    const named = lower(level.flatMap((l) => (l.providers ?? []).map((p) => p.name)));
    if (named.length > 0) inScope = named;
  }
  const enabled = new Set<string>();
  let parent: string[] = lower(DEFAULT_PROVIDERS.accessLogging);
  for (const entry of levels.flat()) {
    const named = lower((entry.providers ?? []).map((p) => p.name));
    const providers = named.length > 0 ? named : parent;
    parent = providers;
    if (!sides(entry.match?.mode).includes(side)) continue;
    for (const p of providers) {
      if (!inScope.includes(p)) continue;
      if (entry.disabled) enabled.delete(p);
      else enabled.add(p);
    }
  }
  return enabled.size > 0;
}

/** mergeMetrics for the Prometheus provider (the /metrics devmesh serves): the metrics each side does not record. */
function mergeMetrics(specs: TelemetrySpec[]): ResolvedTelemetry['disabledMetrics'] {
  const metrics = specs.flatMap((s) => s.metrics ?? []);
  const none = { client: new Set<IstioMetricName>(), server: new Set<IstioMetricName>() };
  if (metrics.length === 0) return none;
  let inScope: string[] = [...DEFAULT_PROVIDERS.metrics];
  for (const m of metrics) {
    const named = (m.providers ?? []).map((p) => p.name.toLowerCase());
    if (named.length > 0) inScope = named;
  }
  const all = { client: new Set<IstioMetricName>(STANDARD_METRICS), server: new Set<IstioMetricName>(STANDARD_METRICS) };
  // Prometheus taken out of scope by a more specific level: no Istio metric at all.
  if (!inScope.includes('prometheus')) return all;
  let parent: string[] = [...DEFAULT_PROVIDERS.metrics];
  let allDisabled = false;
  const disabled: Record<TelemetrySide, Map<IstioMetricName, boolean>> = { client: new Map(), server: new Map() };
  for (const m of metrics) {
    const named = (m.providers ?? []).map((p) => p.name.toLowerCase());
    const providers = named.length > 0 ? named : parent;
    parent = providers;
    if (!providers.includes('prometheus')) continue;
    for (const o of m.overrides ?? []) {
      const metric = o.match?.metric;
      if (o.match?.customMetric !== undefined) continue;
      if ((metric === undefined || metric === 'ALL_METRICS') && o.disabled === true) {
        allDisabled = true;
        continue;
      }
      allDisabled = false;
      const names = metric === undefined || metric === 'ALL_METRICS' ? STANDARD_METRICS : [metric];
      if (o.disabled === undefined) continue;
      for (const side of sides(o.match?.mode)) for (const n of names) disabled[side].set(n, o.disabled);
    }
  }
  if (allDisabled) return all;
  for (const side of ['client', 'server'] as const) for (const [n, off] of disabled[side]) if (off) none[side].add(n);
  return none;
}
