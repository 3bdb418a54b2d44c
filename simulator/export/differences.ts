/**
 * What does not carry over from the laptop to the cluster, found from the
 * Mesh and its Istio resources. Pure; the runtime-faults check needs to know
 * whether a mesh is running, which the caller passes in.
 */
import { MESH_DEFAULTS, type GatewaySpec, type MeshSpec, type Resource } from '../policy';
import { resolveDefaults, type TracePropagation } from '../policy/defaults';
import type { ExportFinding } from './findings';
import { tracerFor } from './mesh-config';

/** The Istio tracing provider whose Envoy tracer speaks each trace format, for the export hint. */
const TRACER: Record<TracePropagation, string> = {
  b3: ' (apps here forward B3 headers: use a `zipkin` extension provider)',
  w3c: ' (apps here forward traceparent: use an `opentelemetry` extension provider)',
  'b3+w3c': ' (B3 and traceparent: a `zipkin` extension provider with `traceContextOption: USE_B3_WITH_W3C_PROPAGATION`, Istio 1.28+)',
};

const LOOPBACK = /(^|[/@:=\s])(127\.\d+\.\d+\.\d+|localhost|\[::1\])(?=[:/\s]|$)/i;

export function meshDifferences(mesh: MeshSpec, trustDomain: string): ExportFinding[] {
  const out: ExportFinding[] = [];
  const workloads = [...mesh.services.flatMap((s) => s.workloads ?? []), ...(mesh.workloads ?? [])];
  const withCommand = workloads.filter((w) => w.command || w.cwd).map((w) => w.name);
  if (withCommand.length) {
    out.push({ severity: 'info', code: 'local-command', message: `local command/cwd of ${withCommand.join(', ')} not exported: on the cluster each container runs its image's entrypoint, which must listen on the workload port (PORT is set to it)` });
  }
  const pinned = workloads.filter((w) => w.sidecar && Object.keys(w.sidecar).length > 0).map((w) => w.name);
  if (pinned.length) {
    out.push({ severity: 'warning', code: 'pinned-sidecar', message: `pinned sidecar ports of ${pinned.join(', ')} have no cluster equivalent: Istio's sidecar uses its own fixed ports (15001 outbound, 15006 inbound) and needs no HTTP_PROXY` });
  }
  for (const w of workloads) {
    const loop = Object.entries(w.env ?? {}).filter(([, v]) => LOOPBACK.test(String(v))).map(([k]) => k);
    if (loop.length) {
      out.push({ severity: 'warning', code: 'loopback-env', message: `env ${loop.join(', ')} of ${w.name} points at the loopback address; in a pod that is the pod itself — call other services by name (e.g. http://reviews:9080)` });
    }
  }
  // A provider of the Mesh that speaks its trace format carries it (mesh-config.yaml: its traceContextOption, defaultProviders.tracing).
  const format = resolveDefaults(mesh).tracePropagation;
  const carried = tracerFor(mesh.extensionProviders ?? [], format);
  if (mesh.telemetry?.otlp || mesh.telemetry?.sampling !== undefined || (mesh.telemetry?.propagation && !carried)) {
    const what = carried ? 'OTLP endpoint, sampling' : 'OTLP endpoint, sampling, trace format';
    out.push({ severity: 'warning', code: 'telemetry', message: `spec.telemetry (${what}) is devmesh's own; on the cluster configure tracing with Istio's Telemetry resource or meshConfig${carried ? ` (the trace format ${format} is written to mesh-config.yaml as extension provider ${carried.name})` : TRACER[format]}` });
  }
  if (mesh.compatibilityVersion !== undefined) {
    out.push({ severity: 'warning', code: 'compatibility-version', message: `spec.compatibilityVersion "${mesh.compatibilityVersion}" is an install setting on the cluster: install Istio with it (istioctl install --set compatibilityVersion=${mesh.compatibilityVersion}, or the Helm value), or the cluster runs its own release's defaults` });
  }
  if (mesh.meshConfig !== undefined) {
    out.push({ severity: 'warning', code: 'mesh-config', message: `spec.meshConfig (${Object.keys(mesh.meshConfig).join(', ')}) is the cluster's MeshConfig: set the same fields in the Istio install (istioctl --set meshConfig.… or the istio ConfigMap), or the cluster keeps its defaults` });
  }
  if (mesh.tcpTunnel === 'h2') {
    out.push({ severity: 'info', code: 'tcp-tunnel', message: 'spec.tcpTunnel h2 is devmesh\'s own: on the cluster Istio\'s sidecars carry each TCP connection in an mTLS connection of its own (what `tcpTunnel: tls` does locally); only ambient mode tunnels it in HTTP/2 CONNECT (HBONE)' });
  }
  if (trustDomain !== MESH_DEFAULTS.trustDomain) {
    out.push({ severity: 'warning', code: 'trust-domain', message: `trust domain "${trustDomain}": the cluster's Istio must use the same (meshConfig.trustDomain) or principals in AuthorizationPolicies will not match` });
  }
  return out;
}

export function ingressDifferences(gateways: readonly Resource<'Gateway'>[], ingressPort: number): ExportFinding[] {
  if (gateways.length === 0) {
    return [{
      severity: 'warning',
      code: 'no-gateway',
      message: `no Gateway: locally the ingress on port ${ingressPort} routes by Host = service name, but a cluster's istio-ingressgateway exposes nothing without a Gateway (selector istio: ingressgateway) and a VirtualService that names it in gateways:`,
    }];
  }
  const out: ExportFinding[] = [];
  for (const gw of gateways) {
    const spec: GatewaySpec = gw.spec ?? {};
    const selector = spec.selector ?? {};
    if (selector.istio !== 'ingressgateway') {
      out.push({ severity: 'warning', code: 'gateway-selector', message: `Gateway ${gw.metadata.name} selects ${JSON.stringify(selector)}; the default istio-ingressgateway pods are labelled istio: ingressgateway — locally any Gateway binds the devmesh ingress, on the cluster only pods its selector matches serve it` });
    }
    for (const server of spec.servers ?? []) {
      const port = server.port?.number;
      if (port !== undefined && port !== ingressPort) {
        out.push({ severity: 'info', code: 'gateway-port', message: `Gateway ${gw.metadata.name} listens on port ${port}: locally that traffic arrives on the devmesh ingress port ${ingressPort}; on the cluster clients come in through the istio-ingressgateway Service, whose ports decide the URL (the default install maps 80 -> 8080 and 443 -> 8443)` });
      }
    }
  }
  return out;
}

export function runtimeFaultsFinding(): ExportFinding {
  return {
    severity: 'warning',
    code: 'runtime-faults',
    message: 'a devmesh is running for this Mesh: faults injected with `devmesh fault` live only in it and are not exported — write a VirtualService fault to deploy one',
  };
}
