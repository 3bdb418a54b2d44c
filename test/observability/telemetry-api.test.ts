/**
 * Istio's Telemetry API on a real mesh (`devmesh up`, its sidecars, two
 * apps): a mesh-wide Telemetry in the root namespace samples every trace
 * over the Mesh's 0 %, a namespace-wide one adds custom tags to the spans of
 * that namespace's workloads, and one for `back` turns off its spans, its
 * access log and its istio_requests_total. Effects are read as a user
 * reads them: /api/traces, /api/logs, /metrics.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO, freePorts, removeDir, startUp, viaProxy, waitFor, waitReady, withOutput, type UpProcess } from '../control/helpers';
import type { AccessLogEntry, SpanRecord } from '../../simulator/control/api/contract';

const APP = path.join(REPO, 'test', 'observability', 'fixtures', 'trace-app.js');

const meshYaml = (p: Record<'control' | 'ingress' | 'front' | 'back', number>) => `apiVersion: devmesh.dev/v1alpha1
kind: Mesh
metadata: { name: telemetry-api }
spec:
  controlPort: ${p.control}
  ingress: { port: ${p.ingress} }
  telemetry: { sampling: 0 }
  services:
    - name: front
      port: 9080
      workloads:
        - { name: front-v1, port: ${p.front}, command: [node, ${JSON.stringify(APP)}] }
    - name: back
      port: 9080
      workloads:
        - { name: back-v1, port: ${p.back}, command: [node, ${JSON.stringify(APP)}] }
`;

const TELEMETRY = `apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: mesh-default, namespace: istio-system }
spec:
  tracing:
    - randomSamplingPercentage: 100
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: tags, namespace: default }
spec:
  tracing:
    - customTags:
        team: { literal: { value: payments } }
        user: { header: { name: x-user, defaultValue: anonymous } }
        stage: { environment: { name: DEVMESH_TELEMETRY_TEST_UNSET, defaultValue: local } }
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: quiet-back, namespace: default }
spec:
  selector: { matchLabels: { app: back } }
  tracing:
    - disableSpanReporting: true
  accessLogging:
    - disabled: true
  metrics:
    - overrides:
        - match: { metric: REQUEST_COUNT, mode: SERVER }
          disabled: true
`;

describe('the Telemetry API on a running mesh', { timeout: 120_000 }, () => {
  let dir: string;
  let up: UpProcess;
  let ingress: number;
  const spansOf = async (traceId: string): Promise<SpanRecord[]> => {
    const r = await up.api(`/api/traces/${traceId}`);
    return r.status === 200 ? ((await r.json()) as { spans: SpanRecord[] }).spans : [];
  };
  const call = async (headers: Record<string, string> = {}) => {
    const r = await viaProxy(ingress, 'http://front:9080/call/back?forward=x-b3-traceid,x-b3-spanid,x-b3-parentspanid,x-b3-sampled', headers);
    assert.equal(r.status, 200, r.body);
    const seen = (JSON.parse(r.body) as { headers: Record<string, string> }).headers;
    return { traceId: seen['x-b3-traceid'], sampled: seen['x-b3-sampled'] };
  };

  before(async () => {
    const [control, ing, front, back] = await freePorts(4);
    ingress = ing;
    dir = mkdtempSync(path.join(os.tmpdir(), 'devmesh-telemetry-api-'));
    const meshFile = path.join(dir, 'mesh.yaml');
    writeFileSync(meshFile, meshYaml({ control, ingress, front, back }));
    writeFileSync(path.join(dir, 'telemetry.yaml'), TELEMETRY);
    up = startUp(meshFile);
    try {
      await waitReady(up, meshFile);
      await waitFor('the ready banner', () => up.output().includes('how apps reach each service')).catch(withOutput(up));
    } catch (e) {
      await up.stop();
      throw e;
    }
  });
  after(async () => {
    await up?.stop();
    if (dir) removeDir(dir);
  });

  test('the root namespace\'s randomSamplingPercentage samples traces the Mesh\'s sampling 0 would drop', async () => {
    const { traceId, sampled } = await call();
    assert.match(traceId ?? '', /^[0-9a-f]{32}$/);
    assert.equal(sampled, '1');
    const spans = await waitFor(`spans of trace ${traceId}`, async () => {
      const s = await spansOf(traceId);
      return s.length >= 3 ? s : undefined;
    }, 10_000, 100);
    assert.deepEqual(spans.map((s) => `${s.workload} ${s.kind}`).sort(), ['front-v1 client', 'front-v1 server', 'istio-ingressgateway client']);
  });

  test('a namespace\'s customTags tag its workloads\' spans (literal, header with its default, environment default), not the ingress\'s', async () => {
    const { traceId } = await call({ 'x-user': 'alice' });
    const spans = await waitFor(`spans of trace ${traceId}`, async () => {
      const s = await spansOf(traceId);
      return s.length >= 3 ? s : undefined;
    }, 10_000, 100);
    const at = (workload: string, kind: string) => spans.find((s) => s.workload === workload && s.kind === kind)!;
    assert.equal(at('front-v1', 'server').attributes.team, 'payments');
    assert.equal(at('front-v1', 'server').attributes.user, 'alice');
    assert.equal(at('front-v1', 'server').attributes.stage, 'local');
    // front forwards only the trace headers: its own call carries no x-user.
    assert.equal(at('front-v1', 'client').attributes.user, 'anonymous');
    assert.equal(at('istio-ingressgateway', 'client').attributes.team, undefined);
  });

  test('back\'s Telemetry: no span and no access-log entry from its sidecar, and no istio_requests_total where it reports', async () => {
    const first = await call();
    // A later request's entries have come in from front's sidecar: back's sidecar has flushed the first one's too, had it any.
    const second = await call();
    const logs = await waitFor('front-v1\'s entries of both requests', async () => {
      const r = await up.api('/api/logs?limit=1000');
      const entries = ((await r.json()) as { entries: AccessLogEntry[] }).entries;
      const ids = (e: AccessLogEntry) => e.trace_id === first.traceId || e.trace_id === second.traceId;
      return entries.filter(ids).filter((e) => e.workload === 'front-v1').length >= 4 ? entries.filter(ids) : undefined;
    }, 10_000, 100);
    assert.deepEqual(logs.filter((e) => e.workload === 'back-v1'), []);
    assert.deepEqual((await spansOf(first.traceId)).filter((s) => s.workload === 'back-v1'), []);
    const metrics = await (await up.api('/metrics')).text();
    const backReports = (name: string) => metrics.split('\n').filter((l) => l.startsWith(`${name}{`) && l.includes('reporter="destination"') && l.includes('destination_workload="back-v1"'));
    assert.ok(backReports('istio_request_duration_milliseconds_count').length > 0, 'back still records its other metrics');
    assert.deepEqual(backReports('istio_requests_total'), []);
    assert.ok(metrics.split('\n').some((l) => l.startsWith('istio_requests_total{') && l.includes('reporter="source"') && l.includes('destination_workload="back-v1"')), 'front still counts its calls to back');
  });
});
