/**
 * The sidecar's own JavaScript per request, without sockets: the outbound
 * filter chain (stub upstream that answers at once), the inbound filter chain
 * (stub app), and what both sidecars do when an exchange ends (stats, access
 * log, Istio metrics, span, edge, and the JSON of the telemetry batch, flushed
 * every 64 exchanges as under load). CPU time of this process per request,
 * median of 5 runs — steadier on a shared machine than the wrk figures, and
 * the way each per-request change in BENCHMARKS.md was sized.
 *
 *   node out/bench/dataplane/micro.js
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { compose, type RequestContext } from '../../simulator/sidecar/context';
import { AccessLog } from '../../simulator/sidecar/accessLog';
import type { Exchange } from '../../simulator/sidecar/downstream';
import { securityFilters } from '../../simulator/sidecar/chains';
import { metrics } from '../../simulator/sidecar/filters/metrics';
import { learnPeer } from '../../simulator/sidecar/filters/peerMetadata';
import { servicePort } from '../../simulator/sidecar/filters/servicePort';
import { trace } from '../../simulator/sidecar/filters/trace';
import { xfcc } from '../../simulator/sidecar/filters/xfcc';
import { JwksStore } from '../../simulator/sidecar/security/jwksStore';
import { Stats } from '../../simulator/sidecar/stats';
import { compileTables } from '../../simulator/sidecar/tables';
import { SidecarTelemetry } from '../../simulator/sidecar/telemetry';
import { endToEndHeaders } from '../../simulator/sidecar/upstream/hopByHop';
import { benchSnapshot } from './devmeshChain';
import { outboundFilterChain } from './outboundChain';

const snap = benchSnapshot(1, { client: [2, 3, 4], server: [5, 6, 7], ingress: [8, 9] });
const client = compileTables(snap, 'client-v1');
const server = compileTables(snap, 'bench-v1');

function ctxOf(tables: typeof client, headers: IncomingHttpHeaders, httpVersion: string, source: RequestContext['source'], onAnswer: (status: number) => void): RequestContext {
  return {
    tables, downstream: { headers, body: null as unknown as Readable, httpVersion }, startedAt: 1, method: 'GET', path: '/', authority: 'bench', proxyForm: false,
    headers: endToEndHeaders(headers), requestId: 'f81d4fae-7dec-11d0-a765-00a0c91e6bf6', source, responseHeaderOps: [], flags: [],
    respond: (status) => onAnswer(status),
    fail: (err) => { throw new Error(`unexpected proxy error: ${err.message}`); },
    onAbort: () => undefined,
  };
}

function measure(name: string, n: number, one: (i: number) => void): void {
  for (let i = 0; i < n; i++) one(i);
  const runs: number[] = [];
  for (let k = 0; k < 5; k++) {
    const c0 = process.cpuUsage();
    for (let i = 0; i < n; i++) one(i);
    const c = process.cpuUsage(c0);
    runs.push((c.user + c.system) / n);
  }
  runs.sort((a, b) => a - b);
  process.stdout.write(`${name}: ${runs[2].toFixed(2)} µs per request (runs ${runs.map((x) => x.toFixed(2)).join(' ')})\n`);
}

function outboundChain(): void {
  const ok = (status: number) => { if (status !== 200) throw new Error(`status ${status}`); };
  const chain = outboundFilterChain();
  const headers = { host: 'bench', 'user-agent': 'wrk', accept: '*/*' };
  const source = { workload: 'client-v1', labels: client.identity.labels, namespace: 'default', address: '127.0.0.1' };
  measure('outbound filters (trace .. retry -> endpoint .. chaos, stub upstream)', 100_000, () => chain(ctxOf(client, headers, '1.1', { ...source }, ok)));
}

function inboundChain(): void {
  const ok = (status: number) => { if (status !== 200) throw new Error(`status ${status}`); };
  // The sidecar's own security filters (jwt, ext_authz, authz), as chains.ts composes them; this snapshot has no such policies.
  const security = { jwks: new JwksStore(), authzCall: () => Promise.reject(new Error('no authorizer in the benchmark')), grpcAuthzCall: () => Promise.resolve({ error: 'no authorizer in the benchmark' }) };
  const chain = compose([servicePort(), learnPeer(), trace({ sampling: 100, random: Math.random }), metrics(), ...securityFilters(security, new Stats(), () => undefined), xfcc()], (ctx) => ctx.respond(200, { 'content-length': '94' }, null));
  const headers: IncomingHttpHeaders = {
    ':method': 'GET', ':path': '/', ':authority': 'bench', ':scheme': 'https', 'user-agent': 'wrk', 'x-request-id': 'f81d4fae-7dec-11d0-a765-00a0c91e6bf6',
    traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', 'x-b3-traceid': '4bf92f3577b34da6a3ce929d0e0e4736', 'x-b3-spanid': '00f067aa0ba902b7', 'x-b3-sampled': '1',
    'x-devmesh-peer-workload': 'client-v1', 'x-devmesh-destination': 'bench.default.svc.cluster.local:9080', 'x-envoy-attempt-count': '1', 'x-forwarded-proto': 'http',
  };
  measure('inbound filters (servicePort .. jwt, ext_authz, authz .. xfcc, stub app)', 100_000, () => chain(ctxOf(server, headers, '2.0', { labels: {}, spiffeId: client.identity.spiffeId, certHash: 'ab'.repeat(32), namespace: 'default', address: '127.0.0.1' }, ok)));
}

function exchangeEnd(): void {
  const stats = new Stats();
  const log = new AccessLog(undefined, 'text');
  let bytes = 0;
  const telemetry = new SidecarTelemetry({ name: 'bench', send: (b) => { bytes += JSON.stringify(b).length; } });
  const plan = { kind: 'forward' as const, host: 'bench.default.svc.cluster.local', port: 9080, subset: 'v1', routeName: 'bench', origin: { kind: 'VirtualService' as const, namespace: 'default', name: 'bench', rule: 0 }, service: undefined };
  const ok = () => undefined;
  const end = (listener: string, ctx: RequestContext) => {
    const e: Exchange = { ctx, status: 200, durationMs: 1.234, aborted: false };
    stats.request(listener, 200, ctx.flags);
    telemetry.exchange(listener, e, log.record(listener, e));
  };
  // The rule that allowed: authorization.ts gives each policy rule one object, which every decision by it names.
  const by = { namespace: 'default', name: 'allow-client', action: 'ALLOW' as const, rule: 0 };
  let n = 0;
  measure('exchange end, both sidecars (stats, access log, Istio metrics, span, edge, batch JSON)', 50_000, (i) => {
    const out = ctxOf(client, { host: 'bench', 'user-agent': 'wrk' }, '1.1', { workload: 'client-v1', labels: client.identity.labels, namespace: 'default', address: '127.0.0.1' }, ok);
    // What the real chain notes (decisions.ts): the outbound gets a route and an attempt record, the inbound mTLS and authz.
    Object.assign(out, { plan, endpoint: server.self, policy: {}, notes: {}, observed: { span: { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', start: 1.5 }, responseBytes: 94 } });
    out.headers['x-envoy-attempt-count'] = '1';
    end('outbound', out);
    const inb = ctxOf(server, { ':authority': 'bench', 'user-agent': 'wrk' }, '2.0', { workload: 'client-v1', labels: client.identity.labels, namespace: 'default', spiffeId: client.identity.spiffeId, address: '127.0.0.1' }, ok);
    inb.inbound = server.inbound!.primary;
    inb.notes = { authz: { allowed: true, policy: 'default/allow-client', by } };
    inb.observed = { span: { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b8', parentSpanId: '00f067aa0ba902b7', start: 1.5 }, responseBytes: 94 };
    end('inbound', inb);
    n++;
    if (i % 32 === 31) telemetry.flush();
  });
  process.stdout.write(`telemetry over IPC: ${(bytes / n).toFixed(0)} bytes of JSON per request (both sidecars)\n`);
  telemetry.close();
}

outboundChain();
inboundChain();
exchangeEnd();
