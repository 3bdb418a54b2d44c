/**
 * Observability of a running `devmesh up` (Bookinfo on real sidecars, reviews
 * routed to v2 so a request crosses ingress -> productpage -> reviews ->
 * ratings): one trace with correctly parented client/server spans and the
 * caller's trace id, Istio metrics that match the requests made, access-log
 * lines that parse, OTLP export decoded by a receiver on 127.0.0.1, live
 * topology edges, the CLI faces, and a real Prometheus scraping the mesh.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { BIN, bookinfoFixture, freePorts, removeDir, startUp, traceOf, viaProxy, waitFor, waitReady, type BookinfoFixture, type UpProcess } from '../control/helpers';
import { parseText, formatText } from '../../simulator/sidecar/accessLog';
import { DURATION_BUCKETS_MS } from '../../simulator/sidecar/istioMetrics';
import type { AccessLogEntry } from '../../simulator/control/api/contract';
import type { Topology } from '../../simulator/control/api/contract';
import { decodeTraceRequest, type DecodedSpan } from './protobuf';

const REVIEWS_V2 = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews }
spec:
  hosts: [reviews]
  http:
    - route:
        - destination: { host: reviews, subset: v2 }
`;

/** `name{labels} value` samples of one metric family from Prometheus text. */
function samples(text: string, name: string): Array<{ labels: Record<string, string>; value: number }> {
  const out: Array<{ labels: Record<string, string>; value: number }> = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + '{') && !line.startsWith(name + ' ')) continue;
    const m = /^([^{ ]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    out.push({ labels, value: Number(m[3]) });
  }
  return out;
}
const sum = (xs: Array<{ value: number }>) => xs.reduce((a, b) => a + b.value, 0);
const where = (want: Record<string, string>) => (s: { labels: Record<string, string> }) => Object.entries(want).every(([k, v]) => s.labels[k] === v);

function run(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd, timeout: 15_000 }, (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
  });
}

describe('observability of a running mesh', () => {
  let fx: BookinfoFixture;
  let up: UpProcess;
  let receiver: http.Server;
  const received: Array<{ contentType: string; spans: DecodedSpan[] }> = [];
  const api = async <T>(p: string): Promise<T> => {
    const r = await up.api(p);
    assert.equal(r.status, 200, `${p}: ${r.status}`);
    return (await r.json()) as T;
  };
  const metricsText = async () => {
    const r = await up.api('/metrics');
    assert.equal(r.status, 200);
    return r.text();
  };

  before(async () => {
    receiver = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (req.method === 'POST' && req.url === '/v1/traces') received.push({ contentType: String(req.headers['content-type']), spans: decodeTraceRequest(Buffer.concat(chunks)) });
        res.writeHead(200, { 'content-type': 'application/x-protobuf' });
        res.end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const otlpPort = (receiver.address() as import('node:net').AddressInfo).port;
    fx = await bookinfoFixture({ 'routing.yaml': REVIEWS_V2 });
    up = startUp(fx.meshFile, {}, ['--otlp-endpoint', `http://127.0.0.1:${otlpPort}/v1/traces`, '--access-log', '--log-format', 'json']);
    await waitReady(up, fx.meshFile);
  });
  after(async () => {
    await up?.stop();
    fx?.cleanup();
    receiver?.closeAllConnections();
    receiver?.close();
  });

  const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
  const CALLER_SPAN = '00f067aa0ba902b7';

  test('a request through ingress, productpage, reviews and ratings is one trace under the trace id the caller sent', async () => {
    // The Mesh names no trace format and no OTLP collector (--otlp-endpoint only says where spans go): Istio's Zipkin tracer, B3.
    const r = await viaProxy(fx.ingressPort, 'http://productpage:9080/productpage', { 'x-b3-traceid': TRACE, 'x-b3-spanid': CALLER_SPAN, 'x-b3-sampled': '1' });
    assert.equal(r.status, 200);
    assert.match(r.body, /Reviews served by:<\/dt><dd><u>reviews-v2<\/u>/);
    const spans = await traceOf(up, TRACE, 8);
    assert.equal(spans.length, 8, spans.map((s) => `${s.workload} ${s.kind} ${s.name}`).join('\n'));
    assert.ok(spans.every((s) => s.traceId === TRACE));
    const one = (workload: string, kind: string, service?: string) => {
      const found = spans.filter((s) => s.workload === workload && s.kind === kind && (!service || s.attributes['devmesh.peer.workload'] === service || s.name.startsWith(service)));
      assert.equal(found.length, 1, `one ${kind} span at ${workload}${service ? ` to ${service}` : ''}`);
      return found[0];
    };
    const ingress = one('istio-ingressgateway', 'client');
    const ppServer = one('productpage-v1', 'server');
    const ppToReviews = one('productpage-v1', 'client', 'reviews-v2');
    const ppToDetails = one('productpage-v1', 'client', 'details-v1');
    const reviewsServer = one('reviews-v2', 'server');
    const reviewsToRatings = one('reviews-v2', 'client', 'ratings-v1');
    const ratingsServer = one('ratings-v1', 'server');
    const detailsServer = one('details-v1', 'server');
    // The edge span hangs under the caller's span; each hop's server span under the caller's client span.
    assert.equal(ingress.parentSpanId, CALLER_SPAN);
    assert.equal(ingress.role, 'ingress');
    assert.equal(ppServer.parentSpanId, ingress.spanId);
    assert.equal(ppToReviews.parentSpanId, ppServer.spanId);
    assert.equal(ppToDetails.parentSpanId, ppServer.spanId);
    assert.equal(reviewsServer.parentSpanId, ppToReviews.spanId);
    assert.equal(reviewsToRatings.parentSpanId, reviewsServer.spanId);
    assert.equal(ratingsServer.parentSpanId, reviewsToRatings.spanId);
    assert.equal(detailsServer.parentSpanId, ppToDetails.spanId);
    // Attributes people search by.
    assert.equal(reviewsServer.attributes['http.request.method'], 'GET');
    assert.equal(reviewsServer.attributes['http.response.status_code'], 200);
    assert.equal(reviewsServer.attributes['devmesh.peer.workload'], 'productpage-v1');
    assert.equal(reviewsServer.attributes['devmesh.mtls'], true);
    assert.equal(reviewsServer.attributes['istio.canonical_revision'], 'v2');
    assert.equal(reviewsServer.attributes['devmesh.fault.injected'], 'none');
    assert.equal(reviewsServer.attributes.response_flags, '-');
    assert.equal(ppToReviews.attributes.upstream_cluster, 'outbound|9080|v2|reviews.default.svc.cluster.local');
    assert.equal(ppToReviews.service, 'productpage');
    assert.match(String(reviewsServer.attributes['url.path']), /^\/reviews\/0$/);
    // Children start within their parents. The two spans come from different processes, each placing its
    // monotonic clock on the wall clock once (performance.timeOrigin), so their origins may differ by a few ms.
    const skew = 10;
    assert.ok(ppServer.start >= ingress.start - skew && ppServer.start + ppServer.durationMs <= ingress.start + ingress.durationMs + skew,
      `productpage's server span [${ppServer.start}, +${ppServer.durationMs}] inside the ingress span [${ingress.start}, +${ingress.durationMs}]`);
  });

  test('64-bit and single-header B3 continue the caller\'s trace, traceparent alone does not, and x-request-id is always set', async () => {
    const b3Trace = 'a'.repeat(16); // 64-bit B3 id: the low half of the 128-bit one
    await viaProxy(fx.ingressPort, 'http://productpage:9080/api/v1/products/0/reviews', { 'x-b3-traceid': b3Trace, 'x-b3-spanid': 'b'.repeat(16), 'x-b3-sampled': '1' });
    // ingress, productpage server + client, reviews server + client, ratings server: wait for all six,
    // since each sidecar sends its spans in its own batch.
    const spans = await traceOf(up, '0'.repeat(16) + b3Trace, 6);
    assert.ok(spans.some((s) => s.workload === 'ratings-v1'));
    const single = 'c'.repeat(32);
    await viaProxy(fx.ingressPort, 'http://productpage:9080/api/v1/products/0/reviews', { b3: `${single}-${'d'.repeat(16)}-1` });
    const s2 = await traceOf(up, single, 6);
    assert.equal(s2.find((s) => s.role === 'ingress')?.parentSpanId, 'd'.repeat(16));
    // Envoy's Zipkin tracer does not read traceparent: the edge starts a new trace, as a cluster's Istio with the zipkin provider does.
    const w3cOnly = 'e'.repeat(32);
    // (product 9: its log lines say when every hop has reported, spans and lines travel in the same batches)
    const r3 = await viaProxy(fx.ingressPort, 'http://productpage:9080/api/v1/products/9/reviews', { traceparent: `00-${w3cOnly}-${'f'.repeat(16)}-01` });
    assert.equal(r3.status, 200);
    const w3cLogs = await waitFor('every hop of the traceparent-only request', async () => {
      const l = await api<{ entries: AccessLogEntry[] }>('/api/logs?limit=200');
      const mine = l.entries.filter((e) => /\/9(\/|$)/.test(e.path));
      return mine.length >= 6 ? mine : undefined;
    }, 5_000, 100);
    assert.equal(new Set(w3cLogs.map((e) => e.trace_id)).size, 1, 'one new trace from the edge to ratings');
    assert.notEqual(w3cLogs[0].trace_id, w3cOnly);
    assert.equal((await up.api(`/api/traces/${w3cOnly}`)).status, 404, 'no span joins the W3C-only caller\'s trace');
    // A caller that sends nothing gets a new trace and a request id on every hop.
    // (product 7: a path no other test asks for, so its log lines are told apart)
    await viaProxy(fx.ingressPort, 'http://productpage:9080/api/v1/products/7/reviews');
    const logs = await waitFor('access-log entries of the untraced request', async () => {
      const l = await api<{ entries: AccessLogEntry[] }>('/api/logs?limit=200');
      const mine = l.entries.filter((e) => /\/7(\/|$)/.test(e.path));
      // Each sidecar sends its lines in its own batch: wait for all six hops, then check there are no more.
      return mine.length >= 6 && mine.some((e) => e.workload === 'ratings-v1') ? mine : undefined;
    }, 5_000, 100);
    // A barrier: the same path again (product 8). Each sidecar sends its lines in order, so once
    // every hop of the barrier has arrived, a seventh line of product 7 would have too.
    await viaProxy(fx.ingressPort, 'http://productpage:9080/api/v1/products/8/reviews');
    await waitFor('every hop of the barrier request', async () => {
      const l = await api<{ entries: AccessLogEntry[] }>('/api/logs?limit=200');
      return l.entries.filter((e) => /\/8(\/|$)/.test(e.path)).length >= 6;
    }, 5_000, 100);
    logs.splice(0, logs.length, ...(await api<{ entries: AccessLogEntry[] }>('/api/logs?limit=200')).entries.filter((e) => /\/7(\/|$)/.test(e.path)));
    assert.equal(logs.length, 6, 'edge out, productpage in+out, reviews in+out, ratings in');
    const ids = new Set(logs.map((e) => e.request_id));
    assert.equal(ids.size, 1, 'one x-request-id from the edge to ratings');
    assert.match([...ids][0], /^[0-9a-f-]{36}$/);
    const traceIds = new Set(logs.map((e) => e.trace_id));
    assert.equal(traceIds.size, 1);
    assert.match([...traceIds][0], /^[0-9a-f]{32}$/);
  });

  test('istio_requests_total and the duration histogram count exactly the requests made to reviews-v2', async () => {
    const dest = { reporter: 'destination', destination_workload: 'reviews-v2', source_workload: 'productpage-v1', response_code: '200' };
    const before = await metricsText();
    const N = 7;
    for (let i = 0; i < N; i++) assert.equal((await viaProxy(fx.ingressPort, 'http://productpage:9080/api/v1/products/0/reviews')).status, 200);
    let after = '';
    const delta = (name: string, want: Record<string, string>) => sum(samples(after, name).filter(where(want))) - sum(samples(before, name).filter(where(want)));
    // Each sidecar records its side when its exchange ends, which may be just after the caller has its answer.
    const toRatings = { reporter: 'destination', destination_workload: 'ratings-v1', source_workload: 'reviews-v2' };
    await waitFor('every side of the requests counted', async () => {
      after = await metricsText();
      return [dest, { ...dest, reporter: 'source' }, toRatings].every((want) => delta('istio_requests_total', want) >= N);
    }, 5_000, 50);
    assert.equal(delta('istio_requests_total', dest), N);
    assert.equal(delta('istio_requests_total', { ...dest, reporter: 'source' }), N, 'the caller reports the same requests');
    assert.equal(delta('istio_requests_total', toRatings), N);
    assert.equal(delta('istio_request_duration_milliseconds_count', dest), N);
    assert.equal(delta('istio_request_duration_milliseconds_bucket', { ...dest, le: '+Inf' }), N);
    assert.equal(delta('istio_response_bytes_count', dest), N);
    // Istio's buckets, cumulative.
    const buckets = samples(after, 'istio_request_duration_milliseconds_bucket').filter(where(dest));
    assert.deepEqual(buckets.map((b) => b.labels.le), [...DURATION_BUCKETS_MS.map(String), '+Inf']);
    for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i].value >= buckets[i - 1].value);
    const series = samples(after, 'istio_requests_total').find(where(dest))!;
    assert.equal(series.labels.connection_security_policy, 'mutual_tls');
    assert.equal(series.labels.source_principal, 'spiffe://cluster.local/ns/default/sa/bookinfo-productpage');
    assert.equal(series.labels.destination_principal, 'spiffe://cluster.local/ns/default/sa/bookinfo-reviews');
    assert.equal(series.labels.destination_service, 'reviews.default.svc.cluster.local');
    assert.equal(series.labels.destination_service_name, 'reviews');
    assert.equal(series.labels.destination_version, 'v2');
    assert.equal(series.labels.source_app, 'productpage');
    assert.equal(series.labels.source_version, 'v1');
    assert.equal(series.labels.response_flags, '-');
    assert.equal(series.labels.request_protocol, 'http');
    // The sidecar's own admin port serves its share.
    const topo = await api<Topology>('/api/topology');
    const admin = topo.workloads.find((w) => w.name === 'reviews-v2')!.sidecar.adminPort;
    const own = await (await fetch(`http://127.0.0.1:${admin}/stats/prometheus`)).text();
    assert.ok(samples(own, 'istio_requests_total').some(where(dest)));
    assert.ok(!samples(own, 'istio_requests_total').some(where({ destination_workload: 'ratings-v1', reporter: 'destination' })));
  });

  let unknownHostStatus = 0;
  test('a failed request is counted with its response code and Envoy response flag', async () => {
    const r = await viaProxy(fx.ingressPort, 'http://nosuchservice:9080/');
    assert.ok(r.status >= 400);
    unknownHostStatus = r.status;
    const text = await metricsText();
    const s = samples(text, 'istio_requests_total').filter(where({ reporter: 'source', source_workload: 'istio-ingressgateway', response_flags: 'NR' }));
    assert.ok(sum(s) >= 1, text.split('\n').filter((l) => l.includes('NR')).join('\n'));
  });

  test('access-log entries parse in the text format and are printed as JSON with --log-format json', async () => {
    const l = await api<{ entries: AccessLogEntry[] }>('/api/logs?workload=reviews-v2&limit=5');
    assert.ok(l.entries.length > 0);
    for (const e of l.entries) {
      assert.equal(e.workload, 'reviews-v2');
      const line = formatText(e);
      const back = parseText(line);
      assert.ok(back, line);
      assert.equal(back.method, e.method);
      assert.equal(back.response_code, e.response_code);
      assert.equal(back.response_flags, e.response_flags);
      assert.equal(back.upstream_host, e.upstream_host);
      assert.equal(back.request_id, e.request_id);
      assert.equal(back.upstream_cluster, e.upstream_cluster);
    }
    const inbound = l.entries.find((e) => e.listener === 'inbound')!;
    assert.match(inbound.upstream_host, /^127\.0\.0\.1:\d+$/);
    assert.equal(inbound.upstream_cluster, `inbound|${fx.appPorts['reviews-v2']}||`);
    const nr = await waitFor('the no-route request to be logged with NR', async () =>
      (await api<{ entries: AccessLogEntry[] }>('/api/logs?workload=istio-ingressgateway&limit=200')).entries.find((e) => e.response_flags === 'NR'), 5_000, 100);
    assert.equal(nr.response_code, unknownHostStatus);
    assert.equal(nr.upstream_host, '-');
    assert.ok(parseText(formatText(nr)));
    const printed = await waitFor('JSON access-log lines on stdout', () => {
      const lines = up.output().split('\n').filter((x) => x.startsWith('[reviews-v2 sidecar] {'));
      return lines.length > 0 ? lines : undefined;
    }, 5_000);
    const entry = JSON.parse(printed[0].slice('[reviews-v2 sidecar] '.length)) as AccessLogEntry;
    assert.equal(entry.workload, 'reviews-v2');
    assert.equal(typeof entry.response_code, 'number');
    assert.ok(entry.start_time && entry.request_id && entry.upstream_cluster);
  });

  test('spans are exported over OTLP/HTTP protobuf with trace ids, parent links and attributes intact', async () => {
    const spans = await waitFor('the OTLP receiver to get the first trace', () => {
      const all = received.flatMap((r) => r.spans).filter((s) => s.traceId === TRACE);
      return all.length >= 8 ? all : undefined;
    }, 8_000, 100);
    assert.ok(received.every((r) => r.contentType === 'application/x-protobuf'));
    const byId = new Map(spans.map((s) => [s.spanId, s]));
    const ratings = spans.find((s) => s.resource['service.instance.id'] === 'ratings-v1')!;
    assert.equal(ratings.kind, 2, 'SPAN_KIND_SERVER');
    assert.equal(ratings.resource['service.name'], 'ratings.default');
    const client = byId.get(ratings.parentSpanId!)!;
    assert.equal(client.resource['service.instance.id'], 'reviews-v2');
    assert.equal(client.kind, 3, 'SPAN_KIND_CLIENT');
    assert.equal(byId.get(client.parentSpanId!)?.resource['service.instance.id'], 'reviews-v2');
    assert.equal(ratings.attributes['http.response.status_code'], 200);
    assert.equal(ratings.attributes['devmesh.peer.workload'], 'reviews-v2');
    assert.equal(ratings.attributes['devmesh.mtls'], true);
    assert.ok(ratings.endNs > ratings.startNs);
    const edge = spans.find((s) => s.resource['service.instance.id'] === 'istio-ingressgateway')!;
    assert.equal(edge.parentSpanId, CALLER_SPAN);
  });

  test('the topology has live workload and service edges with rate, errors, latency and mTLS share', async () => {
    // The sidecars send telemetry in batches (every 250 ms or 64 spans): the last tests' requests reach the topology with their batch.
    const edge = (t: Topology) => t.edges.find((x) => x.source === 'productpage-v1' && x.destination === 'reviews-v2');
    const t = await waitFor('the earlier requests on the productpage -> reviews-v2 edge', async () => {
      const now = await api<Topology>('/api/topology');
      return (edge(now)?.requests ?? 0) >= 7 && now.edges.some((x) => x.destination === 'unknown') ? now : undefined;
    }, 10_000);
    const e = edge(t)!;
    assert.ok(e.requestsPerSecond > 0);
    assert.equal(e.errorRate, 0);
    assert.equal(e.mtlsShare, 1);
    assert.ok(e.latencyMs && e.latencyMs.p50 > 0 && e.latencyMs.p99 >= e.latencyMs.p50);
    assert.equal(e.service, 'reviews');
    const s = t.serviceEdges.find((x) => x.source === 'productpage' && x.destination === 'reviews');
    assert.ok(s && s.requests === e.requests);
    assert.ok(t.edges.some((x) => x.source === 'istio-ingressgateway' && x.destination === 'productpage-v1'));
    const nr = t.edges.find((x) => x.destination === 'unknown');
    assert.ok(nr && nr.requests >= 1, 'a request no workload took is an edge to "unknown"');
    assert.equal(nr.errors, unknownHostStatus >= 500 ? nr.requests : 0, 'only 5xx and resets count as errors');
    assert.equal(t.windowSeconds, 30);
  });

  test('the event stream carries topology updates, a few per second at most', async () => {
    const s = up.session();
    const ctrl = new AbortController();
    const got: Array<{ time: number; data: { edges: unknown[] } }> = [];
    const reading = (async () => {
      try {
        const r = await fetch(`${s.apiUrl}/api/events?after=999999999`, { headers: { authorization: `Bearer ${s.token}` }, signal: ctrl.signal });
        const reader = r.body!.getReader();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += Buffer.from(value).toString('utf8');
          let i;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            if (block.includes('event: topology.updated')) got.push(JSON.parse(block.split('\n').find((l) => l.startsWith('data: '))!.slice(6)));
          }
        }
      } catch { /* aborted */ }
    })();
    const deadline = Date.now() + 2_500;
    while (Date.now() < deadline) await viaProxy(fx.ingressPort, 'http://productpage:9080/api/v1/products/0/reviews');
    ctrl.abort();
    await reading;
    assert.ok(got.length >= 2, `got ${got.length} topology updates`);
    assert.ok(got.length <= 8, `at most a few per second, got ${got.length} in 2.5 s`);
    assert.ok(got.at(-1)!.data.edges.length > 0);
  });

  test('devmesh traces prints a waterfall and devmesh logs prints Envoy-format lines', async () => {
    const t = await run(['traces', '-f', fx.meshFile, TRACE], fx.dir);
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stdout, new RegExp(`trace ${TRACE}`));
    const lines = t.stdout.split('\n');
    const row = (w: string, kind: string) => lines.findIndex((x) => x.includes(`${w}  ${kind}`));
    assert.ok(row('istio-ingressgateway', 'client') < row('productpage-v1', 'server'));
    assert.ok(row('reviews-v2', 'server') < row('ratings-v1', 'server'));
    assert.match(lines[row('ratings-v1', 'server')], /\|[ #]+\|/);
    const errs = await run(['traces', '-f', fx.meshFile, '--errors'], fx.dir);
    assert.equal(errs.code, 0);
    const l = await run(['logs', 'ratings-v1', '-f', fx.meshFile, '--limit', '3'], fx.dir);
    assert.equal(l.code, 0, l.stderr);
    const logLines = l.stdout.trim().split('\n');
    assert.ok(logLines.length >= 1 && logLines.length <= 3);
    for (const x of logLines) {
      assert.ok(x.startsWith('[ratings-v1] '));
      assert.ok(parseText(x.slice('[ratings-v1] '.length)), x);
    }
    const none = await run(['traces', '-f', path.join(os.tmpdir(), 'no-such-mesh', 'mesh.yaml')], fx.dir);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /no running mesh/);
  });

  const prometheusBin = ['/usr/bin/prometheus', '/usr/local/bin/prometheus'].find((p) => existsSync(p));
  test('a real Prometheus scrapes the mesh and answers a PromQL rate() query', { skip: prometheusBin ? false : 'prometheus binary not found (apt-get install prometheus; .ci/run installs it)', timeout: 60_000 }, async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'devmesh-prom-'));
    const [port] = await freePorts(1);
    const s = up.session();
    const api = new URL(s.apiUrl);
    writeFileSync(path.join(dir, 'prometheus.yml'), `global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: devmesh
    metrics_path: /metrics
    authorization:
      credentials: ${s.token}
    static_configs:
      - targets: ['${api.host}']
`);
    let prom: ChildProcess | undefined;
    let out = '';
    const stopTraffic = { stop: false };
    try {
      prom = spawn(prometheusBin!, [`--config.file=${path.join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
      prom.stdout!.on('data', (c) => { out += c; });
      prom.stderr!.on('data', (c) => { out += c; });
      // Traffic while Prometheus scrapes (bounded by the test's own deadline).
      const traffic = (async () => {
        const end = Date.now() + 40_000;
        while (!stopTraffic.stop && Date.now() < end) {
          await viaProxy(fx.ingressPort, 'http://productpage:9080/api/v1/products/0/reviews').catch(() => undefined);
          await new Promise((r) => setTimeout(r, 50));
        }
      })();
      const query = 'sum(rate(istio_requests_total{destination_workload="reviews-v2",reporter="destination"}[1m]))';
      const value = await waitFor('Prometheus to answer the rate() query with a non-zero value', async () => {
        if (prom!.exitCode !== null) throw new Error(`prometheus exited: ${out}`);
        const r = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(query)}`, { signal: AbortSignal.timeout(2_000) });
        if (!r.ok) return undefined;
        const body = (await r.json()) as { data: { result: Array<{ value: [number, string] }> } };
        const v = Number(body.data.result[0]?.value[1]);
        return v > 0 ? v : undefined;
      }, 40_000, 500).catch(async (e) => {
        const targets = await fetch(`http://127.0.0.1:${port}/api/v1/targets`).then((r) => r.text()).catch(() => '');
        throw new Error(`${(e as Error).message}\ntargets: ${targets}\n${out.slice(-2000)}`);
      });
      assert.ok(value > 0);
      stopTraffic.stop = true;
      await traffic;
    } finally {
      stopTraffic.stop = true;
      if (prom && prom.exitCode === null) {
        const exited = new Promise((r) => prom!.once('exit', r));
        prom.kill('SIGTERM');
        const t = setTimeout(() => prom!.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(t);
      }
      removeDir(dir);
    }
  });
});
