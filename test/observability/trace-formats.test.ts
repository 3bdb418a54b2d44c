/**
 * Trace headers as the mesh's tracer writes them, on real processes (`devmesh
 * up`, its sidecars, two apps): a Mesh with no telemetry runs Istio's Zipkin
 * tracer (B3 only), a Mesh with an OTLP collector the OpenTelemetry tracer
 * (W3C only). In each, a trace stays whole across ingress -> front -> back
 * when the apps forward the mesh's headers, the apps never see the other
 * format from a sidecar, and an app that forwards only the other format
 * loses the trace, as it would in a cluster's Istio.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as path from 'node:path';
import { REPO, freePorts, removeDir, traceOf, upWithMesh, viaProxy, type UpProcess } from '../control/helpers';

const APP = path.join(REPO, 'test', 'observability', 'fixtures', 'trace-app.js');
const B3 = ['x-b3-traceid', 'x-b3-spanid', 'x-b3-parentspanid', 'x-b3-sampled'];
const W3C = ['traceparent', 'tracestate'];

function meshYaml(p: Record<'control' | 'ingress' | 'front' | 'back', number>, telemetry: string): string {
  return `apiVersion: devmesh.dev/v1alpha1
kind: Mesh
metadata: { name: traces }
spec:
  controlPort: ${p.control}
  ingress: { port: ${p.ingress} }
${telemetry}  services:
    - name: front
      port: 9080
      workloads:
        - { name: front-v1, port: ${p.front}, command: [node, ${JSON.stringify(APP)}] }
    - name: back
      port: 9080
      workloads:
        - { name: back-v1, port: ${p.back}, command: [node, ${JSON.stringify(APP)}] }
`;
}

interface Mode {
  name: string;
  /** The Mesh's telemetry block (indented under spec), given the OTLP receiver's port. */
  telemetry: (otlpPort: number) => string;
  /** The headers an app instrumented for the mesh's format forwards, and those of the other format. */
  own: string[];
  other: string[];
  /** The caller's context in both formats, the mesh's carrying `trace`. */
  caller: (trace: string, span: string) => Record<string, string>;
  /** The trace id and span id the back app received in the mesh's format. */
  seen: (h: Record<string, string>) => { traceId?: string; spanId?: string };
}

const OTHER_TRACE = 'e'.repeat(32);
const MODES: Mode[] = [
  {
    name: 'a Mesh with no telemetry (Istio\'s Zipkin tracer: B3)',
    telemetry: () => '',
    own: B3,
    other: W3C,
    caller: (trace, span) => ({ 'x-b3-traceid': trace, 'x-b3-spanid': span, 'x-b3-sampled': '1', traceparent: `00-${OTHER_TRACE}-${span}-01`, tracestate: 'vendor=x' }),
    seen: (h) => ({ traceId: h['x-b3-traceid'], spanId: h['x-b3-spanid'] }),
  },
  {
    name: 'a Mesh with an OTLP collector (the OpenTelemetry tracer: W3C)',
    telemetry: (otlpPort) => `  telemetry: { otlp: { endpoint: "http://127.0.0.1:${otlpPort}/v1/traces" } }\n`,
    own: W3C,
    other: B3,
    caller: (trace, span) => ({ traceparent: `00-${trace}-${span}-01`, tracestate: 'vendor=x', 'x-b3-traceid': OTHER_TRACE, 'x-b3-spanid': span, 'x-b3-sampled': '1' }),
    seen: (h) => {
      const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(h.traceparent ?? '');
      return { traceId: m?.[1], spanId: m?.[2] };
    },
  },
];

for (const mode of MODES) {
  describe(`trace headers in ${mode.name}`, { timeout: 120_000 }, () => {
    let dir: string;
    let up: UpProcess;
    let ingress: number;
    let receiver: http.Server;
    const call = async (forward: string[], headers: Record<string, string>) => {
      const r = await viaProxy(ingress, `http://front:9080/call/back?forward=${forward.join(',')}`, headers);
      assert.equal(r.status, 200, r.body);
      return (JSON.parse(r.body) as { headers: Record<string, string> }).headers;
    };

    before(async () => {
      // The collector: accepts whatever the mesh exports (this suite reads spans from the control API).
      receiver = http.createServer((req, res) => { req.resume(); req.on('end', () => res.end()); });
      await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
      const [control, ing, front, back] = await freePorts(4);
      ingress = ing;
      ({ dir, up } = await upWithMesh(meshYaml({ control, ingress, front, back }, mode.telemetry((receiver.address() as import('node:net').AddressInfo).port)), 'devmesh-trace-formats-'));
    });
    after(async () => {
      await up?.stop();
      if (dir) removeDir(dir);
      receiver?.closeAllConnections();
      receiver?.close();
    });

    test('a trace stays whole across two hops, and the apps get only the mesh\'s format from the sidecars', async () => {
      const trace = '4bf92f3577b34da6a3ce929d0e0e4736';
      const callerSpan = '00f067aa0ba902b7';
      const seen = await call(mode.own, mode.caller(trace, callerSpan));
      const spans = await traceOf(up, trace, 4);
      assert.equal(spans.length, 4, spans.map((s) => `${s.workload} ${s.kind}`).join('\n'));
      const one = (workload: string, kind: string) => {
        const found = spans.filter((s) => s.workload === workload && s.kind === kind);
        assert.equal(found.length, 1, `one ${kind} span at ${workload}`);
        return found[0];
      };
      const edge = one('istio-ingressgateway', 'client');
      const frontServer = one('front-v1', 'server');
      const frontClient = one('front-v1', 'client');
      const backServer = one('back-v1', 'server');
      assert.equal(edge.parentSpanId, callerSpan);
      assert.equal(frontServer.parentSpanId, edge.spanId);
      assert.equal(frontClient.parentSpanId, frontServer.spanId);
      assert.equal(backServer.parentSpanId, frontClient.spanId);
      // The back app sees its sidecar's server span as the parent, in the mesh's format only.
      assert.deepEqual(mode.seen(seen), { traceId: trace, spanId: backServer.spanId });
      for (const h of mode.other) assert.equal(seen[h], undefined, `${h} reached the back app, though front forwarded only ${mode.own.join(', ')}`);
      if (mode.own === B3) assert.equal(seen['x-b3-parentspanid'], frontClient.spanId);
      else assert.equal(seen.tracestate, 'vendor=x', 'tracestate passes through');
    });

    test('an app that forwards only the other format loses the trace: its outbound sidecar starts a new one', async () => {
      const trace = 'c'.repeat(32);
      const caller = mode.caller(trace, 'd'.repeat(16));
      const seen = await call(mode.other, caller);
      const got = mode.seen(seen);
      assert.match(got.traceId ?? '', /^[0-9a-f]{32}$/, 'the sidecars wrote a context of their own');
      assert.notEqual(got.traceId, trace);
      // The other format crossed every sidecar as the caller wrote it: no sidecar reads or rewrites it.
      for (const h of mode.other) assert.equal(seen[h], caller[h], h);
      // The edge and front's server span are in the caller's trace; front's call to back starts another.
      const spans = await traceOf(up, trace, 2);
      assert.deepEqual(spans.map((s) => `${s.workload} ${s.kind}`).sort(), ['front-v1 server', 'istio-ingressgateway client']);
      const split = await traceOf(up, got.traceId!, 2);
      const frontClient = split.find((s) => s.workload === 'front-v1' && s.kind === 'client');
      const backServer = split.find((s) => s.workload === 'back-v1' && s.kind === 'server');
      assert.ok(frontClient && backServer, split.map((s) => `${s.workload} ${s.kind}`).join(', '));
      assert.equal(frontClient.parentSpanId, undefined);
      assert.equal(backServer.parentSpanId, frontClient.spanId);
    });
  });
}
