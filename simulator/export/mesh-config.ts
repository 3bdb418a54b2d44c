/**
 * The Mesh's extensionProviders and outboundTrafficPolicy belong to Istio's mesh config, not to a
 * namespace's resources: they are written to mesh-config.yaml as an
 * IstioOperator overlay (`istioctl install -f mesh-config.yaml`, with the
 * cluster's other install options) and left out of the kustomization.
 */
import { Document } from 'yaml';
import { isLoopbackHost, type ExtensionProvider, type OutboundTrafficPolicy, type TracePropagation } from '../policy';
import type { ExportFinding } from './findings';

export const MESH_CONFIG_FILE = 'mesh-config.yaml';

/**
 * The Mesh's tracing provider that speaks its trace format: a `zipkin` one for B3 (and, with traceContextOption
 * USE_B3_WITH_W3C_PROPAGATION, B3 with traceparent), an `opentelemetry` one for W3C (pilot tracing.go); none when
 * no provider of the Mesh speaks it.
 */
export function tracerFor(providers: readonly ExtensionProvider[], propagation: TracePropagation): ExtensionProvider | undefined {
  return providers.find((p) => (p.zipkin && propagation !== 'w3c') || (p.opentelemetry && propagation === 'w3c'));
}

/** A zipkin provider with the traceContextOption of the format (USE_B3, the default, written as no option). */
function withTraceContextOption(p: ExtensionProvider, propagation: TracePropagation): ExtensionProvider {
  if (!p.zipkin) return p;
  const { traceContextOption: _old, ...zipkin } = p.zipkin as Record<string, unknown>;
  return { ...p, zipkin: propagation === 'b3+w3c' ? { ...zipkin, traceContextOption: 'USE_B3_WITH_W3C_PROPAGATION' } : zipkin };
}

export function meshConfigFile(providers: readonly ExtensionProvider[], meshNamespace: string, namespace: string, findings: ExportFinding[], outbound?: OutboundTrafficPolicy, propagation?: TracePropagation): { path: string; text: string } | undefined {
  if (providers.length === 0 && !outbound?.mode) return undefined;
  // The trace format the sidecars spoke: its provider's option, and the provider Istio traces with (1.22+ traces only with one named).
  const tracer = propagation ? tracerFor(providers, propagation) : undefined;
  if (tracer) providers = providers.map((p) => (p === tracer ? withTraceContextOption(p, propagation!) : p));
  for (const p of providers) {
    const body = p.envoyExtAuthzHttp ?? p.envoyExtAuthzGrpc;
    const host = body?.service?.replace(/^[^/]*\//, '') ?? '';
    if (isLoopbackHost(host)) {
      findings.push({ severity: 'warning', code: 'loopback-authorizer', message: `extension provider ${p.name} is a process on this machine (${body!.service}:${body!.port}); on the cluster run the authorizer in the pod beside the app and name it through a ServiceEntry (Istio's samples/extauthz/local-ext-authz.yaml)` });
    } else if (namespace !== meshNamespace && host.includes(`.${meshNamespace}.svc`)) {
      findings.push({ severity: 'warning', code: 'namespace-reference', message: `extension provider ${p.name} names ${host}, in namespace "${meshNamespace}", while the policies move to "${namespace}": edit mesh-config.yaml if the authorizer moves too` });
    }
  }
  const fields = [...(providers.length ? [`spec.extensionProviders (${providers.map((p) => p.name).join(', ')}${tracer ? `; ${tracer.name} as defaultProviders.tracing, for spec.telemetry's trace format ${propagation}` : ''})`] : []), ...(outbound?.mode ? [`spec.outboundTrafficPolicy (${outbound.mode})`] : [])];
  findings.push({ severity: 'info', code: 'extension-providers', message: `${fields.join(' and ')} ${fields.length > 1 ? 'are' : 'is'} Istio mesh config, written to ${MESH_CONFIG_FILE} (not applied by kubectl apply -k): install it with "istioctl install -f ${MESH_CONFIG_FILE}" together with your other install options, or merge its meshConfig into the istio ConfigMap` });
  const doc = new Document({
    apiVersion: 'install.istio.io/v1alpha1',
    kind: 'IstioOperator',
    spec: { meshConfig: { ...(tracer ? { defaultProviders: { tracing: [tracer.name] } } : {}), ...(providers.length ? { extensionProviders: providers } : {}), ...(outbound?.mode ? { outboundTrafficPolicy: { mode: outbound.mode } } : {}) } },
  });
  return { path: MESH_CONFIG_FILE, text: doc.toString({ lineWidth: 0 }) };
}
