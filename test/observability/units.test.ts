/**
 * The pure pieces of observability: trace-context propagation, the sampling
 * decision, the trace store, the edge window and the waterfall.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { newSpanId, newTraceId, readTraceContext, writeTraceContext } from '../../simulator/sidecar/tracing/propagation';
import { sampleNew } from '../../simulator/sidecar/filters/trace';
import { TraceStore } from '../../simulator/control/telemetry/traceStore';
import { EdgeWindow } from '../../simulator/control/telemetry/edges';
import { LogStore } from '../../simulator/control/telemetry/logStore';
import { treeOrder, waterfall } from '../../simulator/commands/waterfall';
import { tracesUrl } from '../../simulator/control/telemetry/otlp';
import type { SpanRecord } from '../../simulator/control/api/contract';

const T = '4bf92f3577b34da6a3ce929d0e0e4736';
const S = '00f067aa0ba902b7';

describe('trace context propagation', () => {
  const P = 'b'.repeat(16);
  test('a W3C traceparent is read with its sampling flag', () => {
    assert.deepEqual(readTraceContext({ traceparent: `00-${T}-${S}-01` }, 'w3c'), { traceId: T, spanId: S, sampled: true });
    assert.deepEqual(readTraceContext({ traceparent: `00-${T}-${S}-00` }, 'w3c'), { traceId: T, spanId: S, sampled: false });
  });
  test('malformed or all-zero traceparents are ignored', () => {
    assert.equal(readTraceContext({ traceparent: `00-${'0'.repeat(32)}-${S}-01` }, 'w3c'), undefined);
    assert.equal(readTraceContext({ traceparent: `ff-${T}-${S}-01` }, 'w3c'), undefined);
    assert.equal(readTraceContext({ traceparent: 'garbage' }, 'w3c'), undefined);
    assert.deepEqual(readTraceContext({ traceparent: 'garbage', 'x-b3-traceid': T, 'x-b3-spanid': S, 'x-b3-sampled': '1' }, 'b3+w3c'), { traceId: T, spanId: S, sampled: true });
  });
  test('single b3 header (read before x-b3-*, as Envoy\'s Zipkin tracer does), 64-bit ids padded to 128 bits, and debug flag', () => {
    assert.deepEqual(readTraceContext({ b3: `${T}-${S}-1-${'1'.repeat(16)}`, 'x-b3-traceid': 'c'.repeat(32), 'x-b3-spanid': P }, 'b3'), { traceId: T, spanId: S, sampled: true });
    assert.deepEqual(readTraceContext({ b3: `${'a'.repeat(16)}-${S}` }, 'b3'), { traceId: '0'.repeat(16) + 'a'.repeat(16), spanId: S, sampled: undefined });
    assert.deepEqual(readTraceContext({ b3: '0' }, 'b3'), { sampled: false });
    // Envoy's Zipkin tracer never reads x-b3-flags; x-b3-sampled decides when present ("1" or "true"; any other value is not sampled).
    assert.deepEqual(readTraceContext({ 'x-b3-traceid': T, 'x-b3-spanid': S, 'x-b3-flags': '1' }, 'b3'), { traceId: T, spanId: S, sampled: undefined });
    assert.deepEqual(readTraceContext({ 'x-b3-traceid': T, 'x-b3-spanid': S, 'x-b3-flags': '1', 'x-b3-sampled': '0' }, 'b3'), { traceId: T, spanId: S, sampled: false });
    assert.deepEqual(readTraceContext({ 'x-b3-traceid': T, 'x-b3-spanid': S, 'x-b3-sampled': 'd' }, 'b3'), { traceId: T, spanId: S, sampled: false });
    assert.deepEqual(readTraceContext({ 'x-b3-traceid': T, 'x-b3-spanid': S, 'x-b3-sampled': 'true' }, 'b3'), { traceId: T, spanId: S, sampled: true });
    assert.deepEqual(readTraceContext({ 'x-b3-sampled': 'false' }, 'b3'), { sampled: false });
  });
  test('each tracer reads only its own format: a B3 mesh ignores traceparent, a W3C mesh ignores B3', () => {
    assert.equal(readTraceContext({ traceparent: `00-${T}-${S}-01` }, 'b3'), undefined);
    assert.equal(readTraceContext({ 'x-b3-traceid': T, 'x-b3-spanid': S, 'x-b3-sampled': '1' }, 'w3c'), undefined);
    assert.equal(readTraceContext({ b3: `${T}-${S}-1` }, 'w3c'), undefined);
  });
  test('b3+w3c (USE_B3_WITH_W3C_PROPAGATION) prefers B3 and falls back to traceparent', () => {
    const other = 'c'.repeat(32);
    assert.deepEqual(readTraceContext({ traceparent: `00-${other}-${P}-01`, 'x-b3-traceid': T, 'x-b3-spanid': S, 'x-b3-sampled': '0' }, 'b3+w3c'), { traceId: T, spanId: S, sampled: false });
    assert.deepEqual(readTraceContext({ traceparent: `00-${T}-${S}-01` }, 'b3+w3c'), { traceId: T, spanId: S, sampled: true });
    assert.deepEqual(readTraceContext({ traceparent: `00-${T}-${S}-01`, 'x-b3-sampled': '0' }, 'b3+w3c'), { traceId: T, spanId: S, sampled: true });
  });
  test('a B3 mesh writes the four x-b3 headers Envoy\'s Zipkin tracer injects, and no traceparent', () => {
    const h: Record<string, string | string[] | number | undefined> = { tracestate: 'a=b', 'x-b3-parentspanid': 'stale' };
    writeTraceContext(h, { traceId: T, spanId: P, parentSpanId: S, sampled: true }, 'b3');
    assert.deepEqual(h, { tracestate: 'a=b', 'x-b3-traceid': T, 'x-b3-spanid': P, 'x-b3-parentspanid': S, 'x-b3-sampled': '1' });
    // A root span writes no parent and removes none (ZipkinSpan::injectContext only sets).
    writeTraceContext(h, { traceId: T, spanId: S, sampled: false }, 'b3');
    assert.equal(h['x-b3-parentspanid'], S);
    assert.equal(h['x-b3-sampled'], '0');
    assert.ok(!Object.keys(h).includes('traceparent'));
  });
  test('a B3 mesh rewrites a single b3 header the request carried, so the next hop does not read a stale parent (envoy#47515)', () => {
    const h: Record<string, string | string[] | number | undefined> = { b3: `${T}-${S}-1` };
    writeTraceContext(h, { traceId: T, spanId: P, parentSpanId: S, sampled: true }, 'b3');
    assert.equal(h.b3, `${T}-${P}-1-${S}`);
    assert.deepEqual(readTraceContext(h, 'b3'), { traceId: T, spanId: P, sampled: true });
  });
  test('a W3C mesh writes traceparent only, leaving tracestate and any B3 headers as they came', () => {
    const h: Record<string, string | string[] | number | undefined> = { tracestate: 'a=b', 'x-b3-spanid': S };
    writeTraceContext(h, { traceId: T, spanId: P, parentSpanId: S, sampled: true }, 'w3c');
    assert.deepEqual(h, { tracestate: 'a=b', 'x-b3-spanid': S, traceparent: `00-${T}-${P}-01` });
    writeTraceContext(h, { traceId: T, spanId: S, sampled: false }, 'w3c');
    assert.equal(h.traceparent, `00-${T}-${S}-00`);
  });
  test('b3+w3c writes both', () => {
    const h: Record<string, string | string[] | number | undefined> = {};
    writeTraceContext(h, { traceId: T, spanId: P, parentSpanId: S, sampled: true }, 'b3+w3c');
    assert.deepEqual(h, { 'x-b3-traceid': T, 'x-b3-spanid': P, 'x-b3-parentspanid': S, 'x-b3-sampled': '1', traceparent: `00-${T}-${P}-01` });
  });
  test('new ids are lowercase hex of the right length and differ', () => {
    const ids = new Set(Array.from({ length: 2000 }, newTraceId));
    assert.equal(ids.size, 2000);
    for (const id of ids) assert.match(id, /^[0-9a-f]{32}$/);
    assert.match(newSpanId(), /^[0-9a-f]{16}$/);
  });
  test('sampling: 100 always, 0 never, otherwise the random source decides', () => {
    assert.equal(sampleNew(100, () => 0.999), true);
    assert.equal(sampleNew(0, () => 0), false);
    assert.equal(sampleNew(10, () => 0.05), true);
    assert.equal(sampleNew(10, () => 0.5), false);
  });
});

const span = (id: string, parent: string | undefined, start: number, dur: number, extra: Partial<SpanRecord> = {}): SpanRecord => ({
  traceId: T, spanId: id, parentSpanId: parent, name: `op-${id}`, kind: 'server', role: 'inbound', start, durationMs: dur, error: false,
  workload: `w-${id}`, service: `svc-${id}`, namespace: 'default', attributes: { 'http.request.method': 'GET', 'http.response.status_code': 200 }, ...extra,
});

describe('trace store', () => {
  test('keeps at most maxTraces, forgetting the oldest, and filters by service, duration and errors', () => {
    const store = new TraceStore(2);
    store.add({ ...span('a', undefined, 0, 5), traceId: '1'.repeat(32) });
    store.add({ ...span('b', undefined, 10, 50), traceId: '2'.repeat(32), error: true });
    store.add({ ...span('c', undefined, 20, 1), traceId: '3'.repeat(32), service: 'reviews' });
    assert.equal(store.size, 2);
    assert.equal(store.get('1'.repeat(32)), undefined);
    assert.deepEqual(store.list().map((t) => t.traceId), ['3'.repeat(32), '2'.repeat(32)]);
    assert.deepEqual(store.list({ errors: true }).map((t) => t.traceId), ['2'.repeat(32)]);
    assert.deepEqual(store.list({ minDurationMs: 10 }).map((t) => t.traceId), ['2'.repeat(32)]);
    assert.deepEqual(store.list({ service: 'reviews' }).map((t) => t.traceId), ['3'.repeat(32)]);
  });
  test('a trace summary spans from the earliest start to the latest end', () => {
    const store = new TraceStore();
    store.add(span('c', 'b', 12, 3));
    store.add(span('a', 'caller', 10, 10));
    store.add(span('b', 'a', 11, 8));
    const t = store.get(T)!;
    assert.equal(t.summary.durationMs, 10);
    assert.equal(t.summary.root.workload, 'w-a');
    assert.deepEqual(treeOrder(t.spans).map((x) => [x.span.spanId, x.depth]), [['a', 0], ['b', 1], ['c', 2]]);
    const text = waterfall(t.summary, t.spans, { width: 10 });
    assert.match(text, /^trace 4bf92f/);
    assert.match(text.split('\n')[1], /\|##########\|/);
    assert.match(text.split('\n')[3], /    w-c  server/);
  });
});

describe('edge window', () => {
  test('rates, error rate, percentiles and mTLS share over the window; old buckets fall out', () => {
    const w = new EdgeWindow(10_000);
    const t0 = 1_000_000;
    w.add({ source: 'productpage-v1', destination: 'reviews-v2', service: 'reviews', requests: 10, errors: 1, mtls: 10, latenciesMs: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] }, t0);
    w.add({ source: 'productpage-v1', destination: 'reviews-v1', service: 'reviews', requests: 10, errors: 0, mtls: 5, latenciesMs: [20] }, t0 + 1000);
    const v = w.view((x) => x.replace(/-v\d+$/, ''), t0 + 9000);
    const e = v.edges.find((x) => x.destination === 'reviews-v2')!;
    assert.equal(e.requests, 10);
    assert.equal(e.errorRate, 0.1);
    assert.equal(e.mtlsShare, 1);
    assert.deepEqual(e.latencyMs, { p50: 5, p95: 10, p99: 10 });
    assert.equal(e.requestsPerSecond, 1, '10 requests over the 10 s window');
    const s = v.serviceEdges.find((x) => x.source === 'productpage' && x.destination === 'reviews')!;
    assert.equal(s.requests, 20);
    assert.equal(s.mtlsShare, 0.75);
    assert.equal(s.workloadEdges.length, 2);
    const later = w.view((x) => x, t0 + 10_500);
    assert.deepEqual(later.edges.map((x) => x.destination), ['reviews-v1']);
    assert.equal(w.view((x) => x, t0 + 30_000).edges.length, 0);
  });

  test('a TCP edge counts connections and bytes per second, its open connections, failed connections as errors and mTLS connections in the share', () => {
    const w = new EdgeWindow(10_000);
    const t0 = 3_000_000;
    const sample = { source: 'ratings-v1', destination: 'redis-v1', service: 'redis', requests: 0, errors: 0, mtls: 0, latenciesMs: [], protocol: 'tcp' as const };
    w.add({ ...sample, tcp: { connections: 2, failed: 0, bytes: 4_000, open: 2, mtls: 2 } }, t0);
    w.add({ ...sample, tcp: { connections: 0, failed: 1, bytes: 6_000, open: 1, mtls: 0 } }, t0 + 4_000);
    const e = w.view((x) => x.replace(/-v\d+$/, ''), t0 + 9_000).edges[0];
    assert.deepEqual(e.protocols, ['tcp']);
    assert.deepEqual(e.tcp, { connections: 2, failed: 1, open: 1, bytes: 10_000, connectionsPerSecond: 0.2, bytesPerSecond: 1_000 });
    assert.equal(e.requests, 0);
    assert.equal(e.errorRate, 0.333, 'one of three connections failed');
    assert.equal(e.mtlsShare, 1, 'both connections that connected went over mTLS');
    const s = w.view((x) => x.replace(/-v\d+$/, ''), t0 + 9_000).serviceEdges[0];
    assert.equal(s.tcp?.bytes, 10_000);
    const http = new EdgeWindow(10_000);
    http.add({ ...sample, protocol: 'http', requests: 1 }, t0);
    assert.equal(http.view((x) => x, t0).edges[0].tcp, undefined, 'an edge without connections has no tcp figures');
  });

  test('an edge says which routes its caller applied, the most used first; none is the default route', () => {
    const w = new EdgeWindow(10_000);
    const t0 = 2_000_000;
    const sample = { source: 'productpage-v1', destination: 'reviews-v1', service: 'reviews', errors: 0, mtls: 0, latenciesMs: [] };
    w.add({ ...sample, requests: 3, routes: { 'VirtualService default/reviews': 1, 'HTTPRoute default/reviews': 2 } }, t0);
    w.add({ ...sample, requests: 1, routes: { 'HTTPRoute default/reviews': 1 } }, t0 + 1000);
    w.add({ ...sample, destination: 'ratings-v1', service: 'ratings', requests: 1 }, t0 + 1000);
    const v = w.view((x) => x.replace(/-v\d+$/, ''), t0 + 2000);
    assert.deepEqual(v.edges.find((x) => x.destination === 'reviews-v1')!.routedBy, ['HTTPRoute default/reviews', 'VirtualService default/reviews']);
    assert.deepEqual(v.edges.find((x) => x.destination === 'ratings-v1')!.routedBy, []);
    assert.deepEqual(v.serviceEdges.find((x) => x.destination === 'reviews')!.routedBy, ['HTTPRoute default/reviews', 'VirtualService default/reviews']);
  });
});

describe('log store and OTLP URL', () => {
  test('the log store keeps the newest entries and follows by sequence number', () => {
    const logs = new LogStore(3);
    const e = (workload: string) => ({ workload } as never);
    logs.add([e('a'), e('b'), e('a'), e('c')]);
    assert.deepEqual(logs.query().map((x) => x.workload), ['b', 'a', 'c']);
    assert.deepEqual(logs.query({ workload: 'a' }).map((x) => x.seq), [3]);
    assert.deepEqual(logs.query({ after: 3 }).map((x) => x.seq), [4]);
  });
  test('a collector base URL gets /v1/traces; a full traces URL is kept', () => {
    assert.equal(tracesUrl('http://127.0.0.1:4318'), 'http://127.0.0.1:4318/v1/traces');
    assert.equal(tracesUrl('http://127.0.0.1:4318/custom/traces'), 'http://127.0.0.1:4318/custom/traces');
  });
});
