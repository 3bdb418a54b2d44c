/**
 * A cluster's mesh config, where it is part of the manifests: an
 * IstioOperator (`spec.meshConfig`, what `devmesh export` writes as
 * mesh-config.yaml) or the `istio` ConfigMap (its `mesh` key). Their
 * extensionProviders become the Mesh's, so CUSTOM policies keep their
 * authorizers, and so does outboundTrafficPolicy; the rest of the mesh config is not devmesh's to map.
 */
import { load } from 'js-yaml';
import type { ExtensionProvider, OutboundTrafficPolicy, TracePropagation } from '../policy';
import type { IstioManifest, KubeManifest } from './manifests';
import type { ImportNote } from './notes';

export function isMeshConfig(o: KubeManifest): boolean {
  return (o.kind === 'IstioOperator' && o.apiVersion.startsWith('install.istio.io/'))
    || (o.kind === 'ConfigMap' && o.apiVersion === 'v1' && /^istio(-[\w.-]+)?$/.test(o.name) && typeof o.value.data?.mesh === 'string');
}

/** The mesh config each IstioOperator or istio ConfigMap holds (an unreadable one is noted and skipped). */
function meshConfigs(objects: readonly KubeManifest[], notes: ImportNote[]): Array<{ o: KubeManifest; meshConfig: Record<string, unknown> | undefined }> {
  return objects.filter(isMeshConfig).flatMap((o) => {
    if (o.kind === 'IstioOperator') return [{ o, meshConfig: o.value.spec?.meshConfig }];
    try {
      return [{ o, meshConfig: load(o.value.data.mesh) as Record<string, unknown> | undefined }];
    } catch (err) {
      notes.push({ severity: 'warning', code: 'unreadable', message: `${o.file}: ConfigMap ${o.name}'s mesh is not valid YAML (${(err as Error).message.split('\n')[0]}); its extensionProviders and outboundTrafficPolicy are not imported` });
      return [];
    }
  });
}

export interface ImportedMeshConfig {
  extensionProviders: ExtensionProvider[];
  outboundTrafficPolicy?: OutboundTrafficPolicy;
  /** meshConfig.defaultProviders.tracing: the providers Istio traces with when no Telemetry says otherwise. */
  defaultTracing?: string[];
  /** The trace format (and sampling) of the tracing provider the cluster runs, for the Mesh's spec.telemetry. */
  telemetry?: { propagation: TracePropagation; sampling?: number };
}

export function meshConfigOf(objects: readonly KubeManifest[], notes: ImportNote[]): ImportedMeshConfig {
  const out: ImportedMeshConfig = { extensionProviders: [] };
  for (const { o, meshConfig } of meshConfigs(objects, notes)) {
    const mode = (meshConfig?.outboundTrafficPolicy as OutboundTrafficPolicy | undefined)?.mode;
    if (mode === 'ALLOW_ANY' || mode === 'REGISTRY_ONLY') {
      out.outboundTrafficPolicy ??= { mode };
      notes.push({ severity: 'info', code: 'mesh-config', message: `${o.file}: outboundTrafficPolicy ${mode} of ${o.kind} ${o.name} imported into the Mesh` });
    }
    const tracing = (meshConfig?.defaultProviders as { tracing?: unknown } | undefined)?.tracing;
    if (Array.isArray(tracing) && !out.defaultTracing) out.defaultTracing = tracing.filter((n): n is string => typeof n === 'string');
    const providers = meshConfig?.extensionProviders;
    if (!Array.isArray(providers)) continue;
    for (const p of providers) {
      if (!p || typeof p !== 'object' || typeof (p as ExtensionProvider).name !== 'string') continue;
      if (out.extensionProviders.some((q) => q.name === (p as ExtensionProvider).name)) continue;
      out.extensionProviders.push(p as ExtensionProvider);
    }
    notes.push({ severity: 'info', code: 'mesh-config', message: `${o.file}: extensionProviders of ${o.kind} ${o.name} imported into the Mesh (${providers.length}); the rest of its mesh config is not mapped` });
  }
  return out;
}

/**
 * The trace format of the tracer Istio runs, as pilot picks it (tracing.go): the provider a mesh-wide Telemetry (the
 * root namespace, no selector or targetRefs) names, else meshConfig.defaultProviders.tracing; with neither, the only
 * tracing provider there is (Istio 1.22+ would not trace until one is named; devmesh always traces). A `zipkin`
 * provider is Envoy's Zipkin tracer — B3, and B3 with traceparent under `traceContextOption:
 * USE_B3_WITH_W3C_PROPAGATION` (istio/api config.proto ZipkinTracingProvider) — an `opentelemetry` one W3C. The
 * Telemetry's randomSamplingPercentage becomes the Mesh's sampling. Other tracers (Datadog, SkyWalking, ...) are noted.
 */
export function tracingOf(config: ImportedMeshConfig, istio: readonly IstioManifest[], notes: ImportNote[], rootNamespace = 'istio-system'): ImportedMeshConfig['telemetry'] {
  const meshWide = istio.filter((i) => i.kind === 'Telemetry').map((i) => i.document.toJS() as { metadata?: { namespace?: string }; spec?: Record<string, any> })
    .find((t) => t.metadata?.namespace === rootNamespace && !t.spec?.selector && !t.spec?.targetRef && !t.spec?.targetRefs && Array.isArray(t.spec?.tracing));
  const fromTelemetry = meshWide?.spec?.tracing?.[0];
  const tracers = config.extensionProviders.filter((p) => p.zipkin || p.opentelemetry);
  const named: string | undefined = fromTelemetry?.providers?.[0]?.name ?? config.defaultTracing?.[0];
  const provider = named !== undefined ? config.extensionProviders.find((p) => p.name === named) : tracers.length === 1 ? tracers[0] : undefined;
  const why = named === undefined ? 'the only tracing provider (Istio traces with it once a Telemetry or defaultProviders.tracing names it)' : fromTelemetry ? `named by Telemetry ${rootNamespace}/${(meshWide as { metadata?: { name?: string } }).metadata?.name ?? ''}` : 'named by meshConfig.defaultProviders.tracing';
  if (!provider) {
    if (named !== undefined) notes.push({ severity: 'warning', code: 'mesh-config', message: `tracing provider ${named} is not among the mesh config's extensionProviders: the Mesh keeps devmesh's default trace format (B3)` });
    return undefined;
  }
  const propagation: TracePropagation | undefined = provider.zipkin
    ? ((provider.zipkin as { traceContextOption?: string }).traceContextOption === 'USE_B3_WITH_W3C_PROPAGATION' ? 'b3+w3c' : 'b3')
    : provider.opentelemetry ? 'w3c' : undefined;
  if (!propagation) {
    notes.push({ severity: 'warning', code: 'mesh-config', message: `tracing provider ${provider.name} (${why}) is a tracer devmesh does not speak: the Mesh keeps its default trace format (B3; spec.telemetry.propagation chooses another)` });
    return undefined;
  }
  const sampling = typeof fromTelemetry?.randomSamplingPercentage === 'number' ? fromTelemetry.randomSamplingPercentage : undefined;
  notes.push({ severity: 'info', code: 'mesh-config', message: `tracing provider ${provider.name} (${why}): spec.telemetry.propagation ${propagation}${sampling !== undefined ? `, sampling ${sampling}` : ''}` });
  return { propagation, ...(sampling !== undefined ? { sampling } : {}) };
}
