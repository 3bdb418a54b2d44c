/**
 * The compact telemetry batch (spans and access-log entries as positional
 * rows over IPC): what the control plane rebuilds from it must be the record
 * the sidecar used to send whole — same fields, same attribute order, no
 * parentSpanId key on a root span — since the trace store, `/api/traces`,
 * `/api/logs` and OTLP all serve what they get.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Readable } from 'node:stream';
import type { RequestContext } from '../../simulator/sidecar/context';
import { AccessLog } from '../../simulator/sidecar/accessLog';
import { SidecarTelemetry } from '../../simulator/sidecar/telemetry';
import { ACCESS_LOG_FIELDS, expandBatch, expandLog, isoTime, isTelemetryBatch, type TelemetryBatch } from '../../simulator/telemetry-protocol';
import { TelemetryHub } from '../../simulator/control/telemetry/hub';
import { callee, ctxOf, T } from './exchanges';


/** One batch as the control plane receives it: through JSON, then expanded. */
function roundTrip(record: (t: SidecarTelemetry, log: AccessLog) => void): TelemetryBatch {
  let sent: unknown;
  const t = new SidecarTelemetry({ name: 'x', send: (b) => { sent = JSON.parse(JSON.stringify(b)); } });
  record(t, new AccessLog(undefined));
  t.close();
  assert.ok(isTelemetryBatch(sent));
  return expandBatch(sent);
}

describe('compact telemetry rows', () => {
  test('an outbound span comes back with every attribute, in order, and error on a 5xx', () => {
    const plan = { kind: 'forward', host: 'reviews.default.svc.cluster.local', port: 9080, subset: 'v2', routeName: 'reviews', path: '/reviews/1?x=2', authority: 'reviews:9080', requestHeaderOps: [], responseHeaderOps: [] } as unknown as RequestContext['plan'];
    const ctx = ctxOf({ plan, endpoint: callee.self ?? undefined, policy: {}, flags: ['URX'], headers: { 'x-envoy-attempt-count': '3' }, observed: { span: { traceId: T, spanId: 'aaaaaaaaaaaaaaaa', start: 1000.5 }, responseBytes: 19 } });
    const b = roundTrip((t, log) => { const e = { ctx, status: 503, durationMs: 2.5, aborted: false }; t.exchange('outbound', e, log.record('outbound', e)); });
    assert.equal(b.spans.length, 1);
    assert.equal(JSON.stringify(b.spans[0]), JSON.stringify({
      traceId: T, spanId: 'aaaaaaaaaaaaaaaa', name: 'reviews.default.svc.cluster.local:9080/reviews/1', kind: 'client', role: 'outbound', start: 1000.5, durationMs: 2.5, error: true,
      workload: 'productpage-v1', service: 'productpage', namespace: 'default',
      attributes: {
        'http.request.method': 'GET', 'url.path': '/reviews/1', 'server.address': 'reviews.default.svc.cluster.local:9080', 'http.response.status_code': 503,
        'network.protocol.version': '1.1', 'user_agent.original': 'curl/8', 'component': 'proxy', 'node_id': 'sidecar~127.0.0.1~productpage-v1.default~default.svc.cluster.local',
        'guid:x-request-id': 'rid-1', 'http.method': 'GET', 'http.url': 'http://reviews:9080/reviews/1?x=2', 'http.status_code': 503, 'http.protocol': 'HTTP/1.1',
        'response_flags': 'URX', 'response_size': 19, 'upstream_cluster': 'outbound|9080|v2|reviews.default.svc.cluster.local', 'upstream_cluster.name': 'outbound|9080|v2|reviews.default.svc.cluster.local',
        'istio.canonical_service': 'productpage', 'istio.canonical_revision': 'v1', 'istio.namespace': 'default', 'istio.mesh_id': 'test', 'peer.address': '127.0.0.1',
        'devmesh.workload': 'productpage-v1', 'devmesh.service': 'reviews', 'devmesh.version': 'v1', 'devmesh.peer.workload': 'reviews-v2',
        'devmesh.peer.principal': 'spiffe://cluster.local/ns/default/sa/reviews', 'devmesh.mtls': true, 'devmesh.retry.attempt': 3, 'devmesh.fault.injected': 'none', 'error': true,
      },
    }));
    assert.equal(b.logs.length, 1);
    const own = new AccessLog(undefined);
    own.record('outbound', { ctx, status: 503, durationMs: 2.5, aborted: false });
    assert.deepEqual(Object.keys(b.logs[0]), Object.keys(own.tail()[0]));
    assert.equal(b.logs[0].upstream_cluster, 'outbound|9080|v2|reviews.default.svc.cluster.local');
    assert.equal(b.logs[0].trace_id, T);
  });

  test('an inbound span keeps its parent; a root span has no parentSpanId key', () => {
    const inbound = ctxOf({ tables: callee, source: { workload: 'productpage-v1', labels: {}, spiffeId: 'spiffe://cluster.local/ns/default/sa/productpage', address: '127.0.0.1' },
      downstream: { headers: {}, body: null as unknown as Readable, httpVersion: '2.0' }, observed: { span: { traceId: T, spanId: 'bbbbbbbbbbbbbbbb', parentSpanId: 'aaaaaaaaaaaaaaaa', start: 1001 } } });
    const root = ctxOf({ observed: { span: { traceId: T, spanId: 'cccccccccccccccc', start: 1002 } } });
    const b = roundTrip((t, log) => {
      const e1 = { ctx: inbound, status: 200, durationMs: 1, aborted: false };
      t.exchange('inbound', e1, log.record('inbound', e1));
      const e2 = { ctx: root, status: 404, durationMs: 1, aborted: false };
      t.exchange('outbound', e2, log.record('outbound', e2));
    });
    const [s1, s2] = b.spans;
    assert.equal(s1.parentSpanId, 'aaaaaaaaaaaaaaaa');
    assert.equal(s1.kind, 'server');
    assert.equal(s1.service, 'reviews');
    assert.equal(s1.attributes['upstream_cluster'], 'inbound|9081||');
    assert.equal(s1.attributes['devmesh.peer.principal'], 'spiffe://cluster.local/ns/default/sa/productpage');
    assert.equal(s1.attributes['http.protocol'], 'HTTP/2.0');
    assert.equal('error' in s1.attributes, false);
    assert.equal('parentSpanId' in s2, false);
    assert.equal(s2.attributes['upstream_cluster'], '-');
    assert.equal(s2.error, false);
    assert.equal(b.logs.length, 2);
  });

  test('exchanges that decided alike send their decision records once, and every entry and span gets them back', () => {
    const plan = { kind: 'forward', host: 'reviews.default.svc.cluster.local', port: 9080, subset: 'v2', routeName: 'reviews', origin: { kind: 'VirtualService', namespace: 'default', name: 'reviews', rule: 0 }, path: '/reviews/1', authority: 'reviews:9080', requestHeaderOps: [], responseHeaderOps: [] } as unknown as RequestContext['plan'];
    const exchange = (i: number, status: number) => ({
      ctx: ctxOf({ plan, endpoint: callee.self ?? undefined, policy: {}, notes: {}, requestId: `rid-${i}`, observed: { span: { traceId: T, spanId: `${i}`.padStart(16, 'a'), start: 1000 + i }, responseBytes: 19 } }),
      status, durationMs: 2.5, aborted: false,
    });
    let raw: TelemetryBatch | undefined;
    const log = new AccessLog(undefined);
    const t = new SidecarTelemetry({ name: 'x', send: (b) => { raw = JSON.parse(JSON.stringify(b)); } });
    for (let i = 0; i < 3; i++) { const e = exchange(i, 200); t.exchange('outbound', e, log.record('outbound', e)); }
    const failed = exchange(3, 503);
    t.exchange('outbound', failed, log.record('outbound', failed));
    t.close();
    assert.ok(raw && isTelemetryBatch(raw));
    // request, route, attempt 200 and attempt 503: four distinct records for four exchanges' twelve.
    assert.equal(raw.records?.length, 4);
    assert.deepEqual(raw.logRows?.map((r) => r[r.length - 1]), [[0, 1, 2], [0, 1, 2], [0, 1, 2], [0, 1, 3]]);
    // The strings a span shares with its exchange's entry travel once, in the entry.
    assert.equal(raw.spanRows?.[0][1], 0);
    // The strings that repeat from one exchange to the next travel once per batch; the rows name them.
    const cluster = ACCESS_LOG_FIELDS.indexOf('upstream_cluster');
    assert.deepEqual(raw.logRows?.map((r) => raw!.strings?.[r[cluster] as number]), new Array(4).fill('outbound|9080|v2|reviews.default.svc.cluster.local'));
    assert.equal(raw.strings?.filter((x) => x === 'outbound|9080|v2|reviews.default.svc.cluster.local').length, 1);
    assert.deepEqual(raw.logRows?.map((r) => r[ACCESS_LOG_FIELDS.indexOf('request_id')]), ['rid-0', 'rid-1', 'rid-2', 'rid-3']);
    const b = expandBatch(raw);
    const ring = log.tail();
    assert.deepEqual(b.logs, ring);
    assert.deepEqual(b.spans.map((s) => s.decisions), ring.map((e) => e.decisions));
    assert.deepEqual(b.spans.map((s) => [s.traceId, s.attributes['guid:x-request-id'], s.attributes['upstream_cluster'], s.attributes['http.url']]),
      [0, 1, 2, 3].map((i) => [T, `rid-${i}`, 'outbound|9080|v2|reviews.default.svc.cluster.local', 'http://reviews:9080/reviews/1?x=2']));
    assert.equal(b.logs[3].decisions.at(-1)?.step, 'attempt');
    assert.equal((b.logs[3].decisions.at(-1) as { result: string }).result, '503');
  });

  test('a span whose entry was dropped from the batch still carries everything', () => {
    let raw: TelemetryBatch | undefined;
    const t = new SidecarTelemetry({ name: 'x', maxLogs: 1, send: (b) => { raw = JSON.parse(JSON.stringify(b)); } });
    const log = new AccessLog(undefined);
    for (let i = 0; i < 2; i++) {
      const e = { ctx: ctxOf({ requestId: `rid-${i}`, observed: { span: { traceId: T, spanId: `${i}`.padStart(16, 'b'), start: 1000 } } }), status: 200, durationMs: 1, aborted: false };
      t.exchange('outbound', e, log.record('outbound', e));
    }
    t.close();
    const b = expandBatch(raw!);
    assert.equal(b.logs.length, 1);
    assert.deepEqual(b.spans.map((s) => [s.traceId, s.attributes['guid:x-request-id'], s.attributes['http.request.method']]), [[T, 'rid-0', 'GET'], [T, 'rid-1', 'GET']]);
  });

  test('an entry comes back with its fields in ACCESS_LOG_FIELDS order, the start time as ISO', () => {
    const row = ACCESS_LOG_FIELDS.map((_, i) => i === 0 ? Date.UTC(2026, 11, 5, 14, 0, 0, 7) : `v${i}`);
    const e = expandLog(row);
    assert.deepEqual(Object.keys(e), ACCESS_LOG_FIELDS);
    assert.equal(e.start_time, '2026-12-05T14:00:00.007Z');
    assert.deepEqual(ACCESS_LOG_FIELDS.slice(1).map((f) => e[f]), ACCESS_LOG_FIELDS.slice(1).map((_, i) => `v${i + 1}`));
  });

  test('the control plane keeps the rows and serves the spans and entries expandBatch makes of them', async () => {
    const plan = { kind: 'forward', host: 'reviews.default.svc.cluster.local', port: 9080, subset: 'v2', routeName: 'reviews', origin: { kind: 'VirtualService', namespace: 'default', name: 'reviews', rule: 0 }, path: '/reviews/1', authority: 'reviews:9080', requestHeaderOps: [], responseHeaderOps: [] } as unknown as RequestContext['plan'];
    let raw = '';
    // Two entries kept of three: the first exchange's span travels whole, the others name their entry.
    const t = new SidecarTelemetry({ name: 'x', maxLogs: 2, send: (b) => { raw = JSON.stringify(b); } });
    const log = new AccessLog(undefined);
    for (let i = 0; i < 3; i++) {
      const ctx = ctxOf({ plan, endpoint: callee.self ?? undefined, policy: {}, notes: {}, requestId: `rid-${i}`, observed: { span: { traceId: T, spanId: `${i}`.padStart(16, 'c'), start: 1000 + i }, responseBytes: 19 } });
      const e = { ctx, status: i === 2 ? 503 : 200, durationMs: 2.5, aborted: false };
      t.exchange('outbound', e, log.record('outbound', e));
    }
    t.close();
    const expected = expandBatch(JSON.parse(raw));
    const hub = new TelemetryHub({ events: { broadcast: () => undefined } as never, edgesView: () => ({ generatedAt: 0, windowSeconds: 30, edges: [], serviceEdges: [] }) });
    await hub.close();
    hub.ingest(JSON.parse(raw));
    const [summary] = hub.traces.list();
    assert.deepEqual(summary, { traceId: T, root: { name: 'reviews.default.svc.cluster.local:9080/reviews/1', service: 'productpage', workload: 'productpage-v1' }, start: 1000, durationMs: 4.5, spans: 3, errors: 1, services: ['productpage'] });
    assert.deepEqual(hub.traces.list({ rule: 'VirtualService/default/reviews/0' }).map((s) => s.traceId), [T]);
    assert.deepEqual(hub.traces.list({ errors: true }).map((s) => s.traceId), [T]);
    // The same records, key order included (JSON: what /api/traces serves), on every read.
    assert.equal(JSON.stringify(hub.traces.get(T)!.spans), JSON.stringify(expected.spans));
    assert.equal(JSON.stringify(hub.traces.get(T)!.spans), JSON.stringify(expected.spans));
    const entries = hub.logs.query();
    assert.deepEqual(entries.map((e) => e.seq), [1, 2]);
    assert.equal(JSON.stringify(entries.map(({ seq: _, ...e }) => e)), JSON.stringify(expected.logs));
    assert.deepEqual(hub.logs.query({ workload: 'productpage-v1', after: 1 }).map((e) => e.request_id), ['rid-2']);
  });

  test('requests that alternate between edges and rules each count on their own, batch after batch', () => {
    const planOf = (rule: number) => ({ kind: 'forward', host: 'reviews.default.svc.cluster.local', port: 9080, routeName: 'reviews', origin: { kind: 'VirtualService', namespace: 'default', name: 'reviews', rule }, path: '/', authority: 'reviews:9080', requestHeaderOps: [], responseHeaderOps: [] }) as unknown as RequestContext['plan'];
    const toReviews = ctxOf({ plan: planOf(0), endpoint: callee.self ?? undefined, policy: {} });
    const nowhere = ctxOf({ plan: planOf(1), policy: {} });
    const sent: TelemetryBatch[] = [];
    const t = new SidecarTelemetry({ name: 'x', send: (b) => { sent.push(JSON.parse(JSON.stringify(b))); } });
    const log = new AccessLog(undefined);
    const batch = () => {
      // It ends on the edge and rule it starts with: the next batch's first request counts afresh.
      for (const [ctx, status] of [[toReviews, 200], [nowhere, 503], [toReviews, 500], [nowhere, 503], [toReviews, 200]] as const) {
        const e = { ctx, status, durationMs: 1, aborted: false };
        t.exchange('outbound', e, log.record('outbound', e));
      }
      t.flush();
    };
    batch();
    batch();
    t.close();
    assert.equal(sent.length, 2);
    for (const b of sent) {
      assert.deepEqual(b.edges.map((e) => [e.destination, e.requests, e.errors, e.routes]), [
        ['reviews-v2', 3, 1, { 'VirtualService default/reviews': 3 }], ['unknown', 2, 2, { 'VirtualService default/reviews': 2 }],
      ]);
      assert.deepEqual(b.rules?.map((r) => [r.rule, r.peer, r.requests, r.errors]), [
        ['VirtualService/default/reviews/0', 'reviews-v2', 3, 1], ['VirtualService/default/reviews/1', 'unknown', 2, 2],
      ]);
    }
    assert.deepEqual([...t.ruleTotals].map(([rule, n]) => [rule, n.requests, n.errors]), [['VirtualService/default/reviews/0', 6, 2], ['VirtualService/default/reviews/1', 4, 4]]);
  });

  test('a start time is the ISO string Date writes, in the same ms, the same second or another', () => {
    const t0 = Date.UTC(2026, 11, 5, 23, 59, 59, 990);
    const times = [t0, t0, t0 + 1, t0 + 5, t0 + 10, t0 + 9, t0 + 100, t0 + 1_000, t0 + 1_001, t0 + 1_099, t0 - 990, 0, 7, 1_000 * 3600 * 24 * 365 * 30 + 42];
    assert.deepEqual(times.map(isoTime), times.map((ms) => new Date(ms).toISOString()));
    assert.equal(isoTime(t0 + 0.5), new Date(t0 + 0.5).toISOString());
  });

  test('a batch in the old whole-record form is taken as it is', () => {
    const old: TelemetryBatch = { from: 'x', spans: [], edges: [], logs: [], droppedLogs: 0 };
    assert.equal(expandBatch(old), old);
  });
});
