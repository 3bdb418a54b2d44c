/**
 * Every field of an access-log entry, pinned: what the admin `/access_log`
 * tail, the printed line and the control plane's `/api/logs` (through the
 * telemetry batch) show for an outbound and an inbound exchange. The entry
 * is built on the hot path in a compact form; these are the records a user
 * reads (the decision records behind each hop included), and they must not move.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Readable } from 'node:stream';
import type { AccessLogEntry } from '../../simulator/control/api/contract';
import type { RequestContext } from '../../simulator/sidecar/context';
import type { Exchange } from '../../simulator/sidecar/downstream';
import { AccessLog, formatText, parseText } from '../../simulator/sidecar/accessLog';
import { Stats } from '../../simulator/sidecar/stats';
import { SidecarTelemetry } from '../../simulator/sidecar/telemetry';
import { expandBatch, isTelemetryBatch, type TelemetryBatch } from '../../simulator/telemetry-protocol';
import { callee, ctxOf, T } from './exchanges';


const plan = { kind: 'forward', host: 'reviews.default.svc.cluster.local', port: 9080, subset: 'v2', routeName: 'reviews.default.svc.cluster.local:9080', path: '/reviews/1?x=2', authority: 'reviews:9080', requestHeaderOps: [], responseHeaderOps: [] } as unknown as RequestContext['plan'];

const outbound: Exchange = {
  ctx: ctxOf({
    plan, endpoint: callee.self ?? undefined, policy: {}, flags: ['URX', 'UF'],
    downstream: { headers: { 'user-agent': 'curl/8', 'content-length': '12', 'x-forwarded-for': '10.0.0.1' }, body: null as unknown as Readable, httpVersion: '1.1' },
    observed: { span: { traceId: T, spanId: 'aaaaaaaaaaaaaaaa', start: 1000.5 }, responseBytes: 19 },
    notes: { attempts: [{ endpoint: 'reviews-v2', result: 'UF', retried: true }, { endpoint: 'reviews-v2', result: 'UF', retried: false }] },
  }),
  status: 503, durationMs: 2.5, proxyError: 'upstream-connect-failure', aborted: false,
};

const inbound: Exchange = {
  ctx: ctxOf({
    tables: callee, method: 'POST', path: '/ratings', authority: 'reviews.default.svc.cluster.local:9080', requestId: 'rid-2', flags: ['DC'],
    source: { workload: 'productpage-v1', labels: {}, spiffeId: 'spiffe://cluster.local/ns/default/sa/productpage', address: '127.0.0.1' },
    downstream: { headers: { 'x-envoy-original-path': '/before-rewrite' }, body: null as unknown as Readable, httpVersion: '2.0' },
    inbound: callee.inbound!.primary,
    notes: { authz: { allowed: true, policy: 'default/allow-productpage', by: { namespace: 'default', name: 'allow-productpage', action: 'ALLOW', rule: 0 } } },
  }),
  status: 0, durationMs: 7.49, aborted: true,
};

const expectedOutbound = {
  method: 'GET', path: '/reviews/1?x=2', protocol: 'HTTP/1.1', response_code: 503, response_flags: 'UF,URX',
  response_code_details: 'upstream-connect-failure', connection_termination_details: '-', upstream_transport_failure_reason: '-',
  bytes_received: 12, bytes_sent: 19, duration: 3, upstream_service_time: '-', x_forwarded_for: '10.0.0.1', user_agent: 'curl/8',
  request_id: 'rid-1', authority: 'reviews:9080', upstream_host: '127.0.0.1:15006', upstream_cluster: 'outbound|9080|v2|reviews.default.svc.cluster.local',
  upstream_local_address: '-', downstream_local_address: '-', downstream_remote_address: '127.0.0.1', requested_server_name: '-',
  route_name: 'reviews.default.svc.cluster.local:9080', workload: 'productpage-v1', listener: 'outbound', peer_workload: 'reviews-v2', downstream_peer: '-',
  proxy_error: 'upstream-connect-failure', trace_id: T, grpc_status: '',
  decisions: [
    { step: 'request', config: 1 },
    { step: 'route', proxy: 'productpage-v1', route: 'reviews.default.svc.cluster.local:9080', action: 'forward', host: 'reviews.default.svc.cluster.local', port: 9080, subset: 'v2' },
    { step: 'attempt', n: 1, endpoint: 'reviews-v2', result: 'UF', retried: true },
    { step: 'attempt', n: 2, endpoint: 'reviews-v2', result: 'UF', retried: false },
  ],
};

const expectedInbound = {
  method: 'POST', path: '/before-rewrite', protocol: 'HTTP/2.0', response_code: 0, response_flags: 'DC',
  response_code_details: 'downstream_remote_disconnect', connection_termination_details: '-', upstream_transport_failure_reason: '-',
  bytes_received: 0, bytes_sent: 0, duration: 7, upstream_service_time: '-', x_forwarded_for: '-', user_agent: '-',
  request_id: 'rid-2', authority: 'reviews.default.svc.cluster.local:9080', upstream_host: '127.0.0.1:9081', upstream_cluster: 'inbound|9081||',
  upstream_local_address: '-', downstream_local_address: '-', downstream_remote_address: '127.0.0.1', requested_server_name: '-',
  route_name: 'default', workload: 'reviews-v2', listener: 'inbound', peer_workload: 'productpage-v1', downstream_peer: 'spiffe://cluster.local/ns/default/sa/productpage',
  proxy_error: '-', trace_id: '-', grpc_status: '',
  decisions: [
    { step: 'mtls', proxy: 'reviews-v2', port: 9080, mode: 'PERMISSIVE', source: 'default', peer: 'spiffe://cluster.local/ns/default/sa/productpage', admitted: true },
    { step: 'authz', proxy: 'reviews-v2', allowed: true, reason: 'default/allow-productpage', rule: { kind: 'AuthorizationPolicy', namespace: 'default', name: 'allow-productpage', rule: 0 }, action: 'ALLOW' },
  ],
};

/** The entry without its start time, in field order (the order JSON lines print). */
function withoutStart(e: AccessLogEntry): string {
  const { start_time: _s, ...rest } = e;
  return JSON.stringify(rest);
}

/** start_time is when the exchange started: the clock at record time minus its duration, to the millisecond. */
function assertStart(e: AccessLogEntry, before: number, after: number, durationMs: number): void {
  assert.match(e.start_time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  const t = Date.parse(e.start_time);
  assert.ok(t >= Math.floor(before - durationMs) && t <= after - durationMs, `${e.start_time} not within the record call`);
  assert.equal(Object.keys(e)[0], 'start_time');
}

describe('access-log entries', () => {
  test('an outbound and an inbound exchange give every field, in order, in the admin tail and the printed line', () => {
    const lines: string[] = [];
    const log = new AccessLog((l) => lines.push(l), 'text');
    const before = Date.now();
    log.record('outbound', outbound);
    log.record('inbound', inbound);
    const after = Date.now();
    const [out, inb] = log.tail();
    assertStart(out, before, after, outbound.durationMs);
    assertStart(inb, before, after, inbound.durationMs);
    assert.equal(withoutStart(out), JSON.stringify(expectedOutbound));
    assert.equal(withoutStart(inb), JSON.stringify(expectedInbound));
    assert.deepEqual(lines, [formatText(out), formatText(inb)]);
    assert.equal(lines[0].slice(lines[0].indexOf(']')), `] "GET /reviews/1?x=2 HTTP/1.1" 503 UF,URX upstream-connect-failure - "-" 12 19 3 - "10.0.0.1" "curl/8" "rid-1" "reviews:9080" "127.0.0.1:15006" outbound|9080|v2|reviews.default.svc.cluster.local - - 127.0.0.1 - reviews.default.svc.cluster.local:9080`);
    assert.deepEqual(parseText(lines[1])?.path, '/before-rewrite');
  });

  test('JSON lines carry the same entry', () => {
    const lines: string[] = [];
    const log = new AccessLog((l) => lines.push(l), 'json');
    log.record('outbound', outbound);
    assert.equal(lines.length, 1);
    assert.equal(lines[0], JSON.stringify(log.tail()[0]));
  });

  test('the control plane gets the entries the admin tail shows, and the span the same decision records', () => {
    let sent: unknown;
    const telemetry = new SidecarTelemetry({ name: 'x', send: (b) => { sent = JSON.parse(JSON.stringify(b)); } });
    const log = new AccessLog(undefined);
    for (const [listener, e] of [['outbound', outbound], ['inbound', inbound]] as const) telemetry.exchange(listener, e, log.record(listener, e));
    telemetry.close();
    assert.ok(isTelemetryBatch(sent));
    const batch: TelemetryBatch = expandBatch(sent);
    assert.deepEqual(batch.logs, log.tail());
    assert.equal(JSON.stringify(batch.logs), JSON.stringify(log.tail()));
    // The sampled hop's span carries the same decision records as its entry.
    assert.equal(batch.spans.length, 1);
    assert.deepEqual(batch.spans[0].decisions, expectedOutbound.decisions);
  });

  test('the admin tail keeps the newest entries, oldest first', () => {
    const log = new AccessLog(undefined, 'text', 3);
    for (let i = 1; i <= 5; i++) log.record('outbound', { ...outbound, ctx: { ...outbound.ctx, requestId: `r${i}` } });
    assert.deepEqual(log.tail().map((e) => e.request_id), ['r3', 'r4', 'r5']);
  });

  test('finished exchanges are counted by listener, status class and flag', () => {
    const stats = new Stats();
    stats.request('outbound', 503, ['UF', 'URX']);
    stats.request('outbound', 200, []);
    stats.request('inbound', 0, ['DC']);
    stats.request('inbound', 404, []);
    assert.deepEqual(stats.toJSON(), {
      'inbound.downstream_rq_4xx': 1, 'inbound.downstream_rq_reset': 1, 'inbound.downstream_rq_total': 2, 'inbound.response_flag.DC': 1,
      'outbound.downstream_rq_2xx': 1, 'outbound.downstream_rq_5xx': 1, 'outbound.downstream_rq_total': 2, 'outbound.response_flag.UF': 1, 'outbound.response_flag.URX': 1,
    });
  });
});
