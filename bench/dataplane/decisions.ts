/**
 * What the decision records cost on the hot path, A/B in one process so the
 * ratio holds on a loaded machine: the outbound filter chain and the end of
 * an exchange at both sidecars (stats, access log, Istio metrics, span, edge,
 * batch JSON, as micro.js measures them), each run alternately
 *   A: with no notes on the context (the filters note nothing, no record is built),
 *   B: with the notes a listener gives every request (downstream.ts), the
 *      filters noting their decisions and the exchange end building the
 *      records (request, route, attempt; inbound mTLS and authorization).
 * CPU time of this process per request; median of the rounds, and the ratio
 * B/A of each alternating pair.
 *
 *   node out/bench/dataplane/decisions.js [rounds]
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { type RequestContext } from '../../simulator/sidecar/context';
import { AccessLog } from '../../simulator/sidecar/accessLog';
import type { Exchange } from '../../simulator/sidecar/downstream';
import { Stats } from '../../simulator/sidecar/stats';
import { compileTables } from '../../simulator/sidecar/tables';
import { SidecarTelemetry } from '../../simulator/sidecar/telemetry';
import { endToEndHeaders } from '../../simulator/sidecar/upstream/hopByHop';
import { authorize } from '../../simulator/sidecar/security/authorization';
import { benchSnapshot } from './devmeshChain';
import { outboundFilterChain } from './outboundChain';

const ROUNDS = Number(process.argv[2] ?? 7);
const snap = benchSnapshot(1, { client: [2, 3, 4], server: [5, 6, 7], ingress: [8, 9] });
const client = compileTables(snap, 'client-v1');
const server = compileTables(snap, 'bench-v1');

function ctxOf(tables: typeof client, headers: IncomingHttpHeaders, httpVersion: string, source: RequestContext['source'], notes: boolean, onAnswer: (status: number) => void): RequestContext {
  return {
    tables, downstream: { headers, body: null as unknown as Readable, httpVersion }, startedAt: 1, method: 'GET', path: '/', authority: 'bench', proxyForm: false,
    headers: endToEndHeaders(headers), requestId: 'f81d4fae-7dec-11d0-a765-00a0c91e6bf6', source, responseHeaderOps: [], flags: [],
    ...(notes ? { notes: {} } : {}),
    respond: (status) => onAnswer(status),
    fail: (err) => { throw new Error(`unexpected proxy error: ${err.message}`); },
    onAbort: () => undefined,
  };
}

/** CPU µs per call of `one` over n calls (after a warm-up the first time). */
function cpu(n: number, one: (i: number) => void): number {
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) one(i);
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / n;
}

function ab(name: string, n: number, run: (notes: boolean) => (i: number) => void): void {
  const a = run(false);
  const b = run(true);
  cpu(n, a);
  cpu(n, b);
  const as: number[] = [];
  const bs: number[] = [];
  const ratios: number[] = [];
  for (let k = 0; k < ROUNDS; k++) {
    // Alternate which goes first, so a drift in the machine's load lands on both.
    let x: number;
    let y: number;
    if (k % 2 === 0) { x = cpu(n, a); y = cpu(n, b); } else { y = cpu(n, b); x = cpu(n, a); }
    as.push(x); bs.push(y); ratios.push(y / x);
  }
  const med = (xs: number[]) => [...xs].sort((p, q) => p - q)[Math.floor(xs.length / 2)];
  const r = [...ratios].sort((p, q) => p - q);
  process.stdout.write(`${name}: without records ${med(as).toFixed(2)} µs, with records ${med(bs).toFixed(2)} µs per request; B/A median ${med(ratios).toFixed(3)} (pairs ${r[0].toFixed(3)}..${r[r.length - 1].toFixed(3)}, ${ROUNDS} alternating rounds)\n`);
}

function outbound(notes: boolean): (i: number) => void {
  const ok = (status: number) => { if (status !== 200) throw new Error(`status ${status}`); };
  const chain = outboundFilterChain();
  const headers = { host: 'bench', 'user-agent': 'wrk', accept: '*/*' };
  const source = { workload: 'client-v1', labels: client.identity.labels, namespace: 'default', address: '127.0.0.1' };
  return () => chain(ctxOf(client, headers, '1.1', { ...source }, notes, ok));
}

function exchangeEnd(notes: boolean): (i: number) => void {
  const stats = new Stats();
  const log = new AccessLog(undefined, 'text');
  const telemetry = new SidecarTelemetry({ name: 'bench', send: (b) => { JSON.stringify(b); } });
  const plan = { kind: 'forward' as const, host: 'bench.default.svc.cluster.local', port: 9080, subset: 'v1', routeName: 'bench', rule: undefined, service: undefined };
  const ok = () => undefined;
  const end = (listener: string, ctx: RequestContext) => {
    const e: Exchange = { ctx, status: 200, durationMs: 1.234, aborted: false };
    stats.request(listener, 200, ctx.flags);
    telemetry.exchange(listener, e, log.record(listener, e));
  };
  // What the authz filter notes at the callee: no policy selects it, allowed.
  const allowed = authorize([], {} as Parameters<typeof authorize>[1], 'default');
  return (i) => {
    const out = ctxOf(client, { host: 'bench', 'user-agent': 'wrk' }, '1.1', { workload: 'client-v1', labels: client.identity.labels, namespace: 'default', address: '127.0.0.1' }, notes, ok);
    Object.assign(out, { plan, endpoint: server.self, policy: {}, observed: { span: { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', start: 1.5 }, responseBytes: 94 } });
    if (out.notes) out.notes.attempts = [{ endpoint: 'bench-v1', result: '200', retried: false }];
    out.headers['x-envoy-attempt-count'] = '1';
    end('outbound', out);
    const inb = ctxOf(server, { ':authority': 'bench', 'user-agent': 'wrk' }, '2.0', { workload: 'client-v1', labels: client.identity.labels, namespace: 'default', spiffeId: client.identity.spiffeId, address: '127.0.0.1' }, notes, ok);
    inb.observed = { span: { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b8', parentSpanId: '00f067aa0ba902b7', start: 1.5 }, responseBytes: 94 };
    inb.inbound = server.inbound!.primary;
    if (inb.notes) inb.notes.authz = allowed;
    end('inbound', inb);
    if (i % 32 === 31) telemetry.flush();
  };
}

ab('outbound filters (trace .. retry -> endpoint .. chaos, stub upstream)', 100_000, outbound);
ab('exchange end, both sidecars (stats, access log, Istio metrics, span, edge, batch JSON)', 50_000, exchangeEnd);
