/**
 * The trace format on the way in from a cluster and back out to one: Istio
 * picks its tracer from the provider a mesh-wide Telemetry (root namespace,
 * no selector) names, else meshConfig.defaultProviders.tracing — a `zipkin`
 * provider is Envoy's Zipkin tracer, B3, and with `traceContextOption:
 * USE_B3_WITH_W3C_PROPAGATION` B3 and traceparent (istio/api
 * mesh/v1alpha1/config.proto ZipkinTracingProvider, pilot tracing.go
 * convertTraceContextOption); an `opentelemetry` provider speaks W3C.
 * `devmesh import` reads that into spec.telemetry.propagation (and the
 * Telemetry's randomSamplingPercentage into sampling); `devmesh export`
 * writes the format back as the provider's traceContextOption and names it
 * in defaultProviders.tracing.
 */
import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { exportMesh } from '../../simulator/export';
import { importManifests } from '../../simulator/import';
import { resolvePolicies, Workspace } from '../../simulator/policy';

const DEPLOYMENT = `apiVersion: v1
kind: Service
metadata: { name: web, namespace: shop }
spec:
  selector: { app: web }
  ports: [{ name: http, port: 8080 }]
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: web-v1, namespace: shop }
spec:
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec: { containers: [{ name: web, image: web:1, ports: [{ containerPort: 8080 }] }] }
`;

const operator = (providers: string, defaults = '') => `apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
metadata: { name: tracing, namespace: istio-system }
spec:
  meshConfig:
${defaults}    extensionProviders:
${providers}`;

const ZIPKIN_B3_W3C = `      - name: zipkin
        zipkin: { service: zipkin.istio-system.svc.cluster.local, port: 9411, traceContextOption: USE_B3_WITH_W3C_PROPAGATION }
`;
const OTEL = `      - name: otel
        opentelemetry: { service: otel-collector.observability.svc.cluster.local, port: 4317 }
`;
const telemetry = (provider: string, sampling?: number) => `apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: mesh-default, namespace: istio-system }
spec:
  tracing:
    - providers: [{ name: ${provider} }]
${sampling !== undefined ? `      randomSamplingPercentage: ${sampling}\n` : ''}`;

function imported(files: Record<string, string>) {
  return importManifests(Object.entries(files).map(([p, text]) => ({ path: p, text })), { name: 'shop', source: 'k8s' });
}

/** The Mesh and policies an import wrote, resolved as `devmesh up` reads them. */
function resolvedOf(r: ReturnType<typeof imported>) {
  const ws = new Workspace();
  ws.setFile('/m/mesh.yaml', r.meshText);
  for (const p of r.policies) ws.setFile(path.posix.join('/m/policies', p.path), p.text);
  assert.deepEqual(ws.diagnostics().filter((d) => d.severity === 'error'), []);
  return { resolved: resolvePolicies(ws)!, sources: r.policies.map((p) => ({ path: `policies/${p.path}`, text: p.text })) };
}

describe('the trace format through devmesh import and export', () => {
  it('imports the zipkin provider a mesh-wide Telemetry names, with USE_B3_WITH_W3C_PROPAGATION, as propagation b3+w3c (its sampling too)', () => {
    const r = imported({ 'app.yaml': DEPLOYMENT, 'istio.yaml': operator(ZIPKIN_B3_W3C + OTEL), 'telemetry.yaml': telemetry('zipkin', 10) });
    const mesh = parse(r.meshText);
    assert.deepEqual(mesh.spec.telemetry, { propagation: 'b3+w3c', sampling: 10 });
    assert.ok(r.notes.some((n) => n.code === 'mesh-config' && /tracing provider zipkin/.test(n.message)), JSON.stringify(r.notes));
  });

  it('imports an opentelemetry provider meshConfig.defaultProviders.tracing names as propagation w3c', () => {
    const r = imported({ 'app.yaml': DEPLOYMENT, 'istio.yaml': operator(ZIPKIN_B3_W3C + OTEL, '    defaultProviders: { tracing: [otel] }\n') });
    assert.deepEqual(parse(r.meshText).spec.telemetry, { propagation: 'w3c' });
  });

  it('a Telemetry in the root namespace wins over defaultProviders; one with a selector is not mesh-wide', () => {
    const selected = `${telemetry('otel')}  selector: { matchLabels: { app: web } }\n`;
    const r = imported({ 'app.yaml': DEPLOYMENT, 'istio.yaml': operator(ZIPKIN_B3_W3C + OTEL, '    defaultProviders: { tracing: [zipkin] }\n'), 'telemetry.yaml': selected });
    assert.deepEqual(parse(r.meshText).spec.telemetry, { propagation: 'b3+w3c' });
    const r2 = imported({ 'app.yaml': DEPLOYMENT, 'istio.yaml': operator(ZIPKIN_B3_W3C + OTEL, '    defaultProviders: { tracing: [zipkin] }\n'), 'telemetry.yaml': telemetry('otel') });
    assert.deepEqual(parse(r2.meshText).spec.telemetry, { propagation: 'w3c' });
  });

  it('exports propagation b3+w3c as the zipkin provider\'s traceContextOption and defaultProviders.tracing, and imports it back', () => {
    const first = imported({ 'app.yaml': DEPLOYMENT, 'istio.yaml': operator(ZIPKIN_B3_W3C, '    defaultProviders: { tracing: [zipkin] }\n') });
    const { resolved, sources } = resolvedOf(first);
    // The user switches the format in the Mesh: the export follows it.
    resolved.mesh.telemetry = { propagation: 'b3' };
    const b3 = parse(exportMesh(resolved, sources).files.find((f) => f.path === 'mesh-config.yaml')!.text);
    assert.deepEqual(b3.spec.meshConfig.defaultProviders, { tracing: ['zipkin'] });
    assert.equal(b3.spec.meshConfig.extensionProviders[0].zipkin.traceContextOption, undefined, 'USE_B3 is the default: no option written');
    resolved.mesh.telemetry = { propagation: 'b3+w3c' };
    const out = exportMesh(resolved, sources);
    const overlay = parse(out.files.find((f) => f.path === 'mesh-config.yaml')!.text);
    assert.equal(overlay.spec.meshConfig.extensionProviders[0].zipkin.traceContextOption, 'USE_B3_WITH_W3C_PROPAGATION');
    assert.deepEqual(overlay.spec.meshConfig.defaultProviders, { tracing: ['zipkin'] });
    assert.ok(!out.findings.some((f) => f.code === 'telemetry'), 'the trace format carries over: no finding says it does not');
    const back = importManifests(out.files, { name: 'shop', source: 'k8s' });
    assert.deepEqual(parse(back.meshText).spec.telemetry, { propagation: 'b3+w3c' });
  });

  it('a trace format no provider of the Mesh speaks is not written into one: the finding says which provider it takes', () => {
    const { resolved, sources } = resolvedOf(imported({ 'app.yaml': DEPLOYMENT, 'istio.yaml': operator(OTEL) }));
    resolved.mesh.telemetry = { propagation: 'b3+w3c' };
    const out = exportMesh(resolved, sources);
    const overlay = parse(out.files.find((f) => f.path === 'mesh-config.yaml')!.text);
    assert.equal(overlay.spec.meshConfig.defaultProviders, undefined);
    assert.deepEqual(overlay.spec.meshConfig.extensionProviders[0].opentelemetry, { service: 'otel-collector.observability.svc.cluster.local', port: 4317 });
    assert.match(out.findings.find((f) => f.code === 'telemetry')!.message, /USE_B3_WITH_W3C_PROPAGATION/);
  });
});
