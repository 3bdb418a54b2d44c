/**
 * Two builds of devmesh side by side in one process, alternating rounds, so
 * a per-request change is sized on a loaded machine: for each build (a
 * directory holding its `out/`), the inbound authorization step at the
 * callee (the bench's ALLOW policy) and what both sidecars do when an
 * exchange ends (stats, access-log row with its decision records, Istio
 * metrics, span, edge, rule counters, the batch JSON every 32 exchanges),
 * as decisions.ts builds them; and the control plane's intake of the
 * batches each build sends (JSON.parse + TelemetryHub.ingest: expanding the
 * rows, the trace, log and edge stores). CPU µs per request, median of the
 * rounds, and the B/A ratio of each alternating pair.
 *
 *   node out/bench/dataplane/abBuilds.js DIR_A DIR_B [rounds]
 */
import * as path from 'node:path';

type Module = Record<string, any>;

export function requestOf(dir: string, send: (batch: unknown) => void = (b) => { JSON.stringify(b); }): () => void {
  const r = (m: string): Module => require(path.resolve(dir, 'out', m));
  const { benchSnapshot } = r('bench/dataplane/devmeshChain');
  const { compileTables } = r('simulator/sidecar/tables');
  const { Stats } = r('simulator/sidecar/stats');
  const { AccessLog } = r('simulator/sidecar/accessLog');
  const { SidecarTelemetry } = r('simulator/sidecar/telemetry');
  const { endToEndHeaders } = r('simulator/sidecar/upstream/hopByHop');
  const { authzPoliciesAt, authzRequest } = r('simulator/sidecar/filters/authz');
  const { authorize } = r('simulator/sidecar/security/authorization');
  const snap = benchSnapshot(1, { client: [2, 3, 4], server: [5, 6, 7], ingress: [8, 9] });
  const client = compileTables(snap, 'client-v1');
  const server = compileTables(snap, 'bench-v1');
  const stats = new Stats();
  const log = new AccessLog(undefined, 'text');
  const telemetry = new SidecarTelemetry({ name: 'bench', send });
  const plan = { kind: 'forward', host: 'bench.default.svc.cluster.local', port: 9080, subset: 'v1', routeName: 'bench', origin: { kind: 'VirtualService', namespace: 'default', name: 'bench', rule: 0 }, service: snap.services[0] };
  const ctxOf = (tables: Module, headers: Record<string, string>, httpVersion: string, source: Module): Module => ({
    tables, downstream: { headers, body: null, httpVersion }, startedAt: 1, method: 'GET', path: '/', authority: 'bench', proxyForm: false,
    headers: endToEndHeaders(headers), requestId: 'f81d4fae-7dec-11d0-a765-00a0c91e6bf6', source, responseHeaderOps: [], flags: [], notes: {},
    respond: () => undefined, fail: () => undefined, onAbort: () => undefined,
  });
  const end = (listener: string, ctx: Module) => {
    const e = { ctx, status: 200, durationMs: 1.234, aborted: false };
    stats.request(listener, 200, ctx.flags);
    telemetry.exchange(listener, e, log.record(listener, e));
  };
  const source = () => ({ workload: 'client-v1', labels: client.identity.labels, namespace: 'default', address: '127.0.0.1' });
  let i = 0;
  return () => {
    // A trace per request, as the chain makes them (the intake's trace store keys on it).
    const traceId = `4bf92f3577b34da6a3ce929d${(0x1000000 + (i & 0xffffff)).toString(16)}`;
    const out = ctxOf(client, { host: 'bench', 'user-agent': 'wrk' }, '1.1', source());
    Object.assign(out, { plan, endpoint: server.self, policy: {}, observed: { span: { traceId, spanId: '00f067aa0ba902b7', start: 1.5 }, responseBytes: 94 } });
    out.notes.attempts = [{ endpoint: 'bench-v1', result: '200', retried: false }];
    out.headers['x-envoy-attempt-count'] = '1';
    end('outbound', out);
    const inb = ctxOf(server, { ':authority': 'bench', 'user-agent': 'wrk' }, '2.0', { ...source(), spiffeId: client.identity.spiffeId, tls: true });
    inb.observed = { span: { traceId, spanId: '00f067aa0ba902b8', parentSpanId: '00f067aa0ba902b7', start: 1.5 }, responseBytes: 94 };
    inb.inbound = server.inbound.primary;
    const d = authorize(authzPoliciesAt(server), authzRequest(inb), server.snapshot.namespace);
    if (!d.allowed) throw new Error(`${dir}: the bench's ALLOW policy denied the caller`);
    inb.notes.authz = d;
    end('inbound', inb);
    if (++i % 32 === 0) telemetry.flush();
  };
}

/** The control plane's intake of the batches `dir`'s sidecars send for 32 x 200 requests: ingests one batch per call, returns its requests. */
function intakeOf(dir: string): () => number {
  const batches: string[] = [];
  const one = requestOf(dir, (b) => batches.push(JSON.stringify(b)));
  for (let k = 0; k < 32 * 200; k++) one();
  const { TelemetryHub } = require(path.resolve(dir, 'out', 'simulator/control/telemetry/hub')) as Module;
  const hub = new TelemetryHub({ events: { broadcast: () => undefined }, edgesView: () => ({ edges: [] }) });
  void hub.close(); // its publish timer: nothing here reads the events
  let k = 0;
  return () => {
    hub.ingest(JSON.parse(batches[k++ % batches.length]));
    return 32;
  };
}

/** CPU µs per request of `runs[0]` (A) and `runs[1]` (B) in alternating rounds, medians and the pairs' B/A range. */
function alternate(what: string, runs: Array<() => number>, calls: number, rounds: number): void {
  const cpu = (one: () => number) => {
    let requests = 0;
    const c0 = process.cpuUsage();
    for (let k = 0; k < calls; k++) requests += one();
    const c = process.cpuUsage(c0);
    return (c.user + c.system) / requests;
  };
  cpu(runs[0]); cpu(runs[1]);
  const as: number[] = [], bs: number[] = [], ratios: number[] = [];
  for (let k = 0; k < rounds; k++) {
    // Alternate which goes first, so a drift in the machine's load lands on both.
    const [x, y] = k % 2 === 0 ? [cpu(runs[0]), cpu(runs[1])] : ((yy) => [cpu(runs[0]), yy])(cpu(runs[1]));
    as.push(x); bs.push(y); ratios.push(y / x);
  }
  const med = (xs: number[]) => [...xs].sort((p, q) => p - q)[Math.floor(xs.length / 2)];
  const r = [...ratios].sort((p, q) => p - q);
  process.stdout.write(`${what}: A ${med(as).toFixed(2)} µs, B ${med(bs).toFixed(2)} µs per request; B/A median ${med(ratios).toFixed(3)} (pairs ${r[0].toFixed(3)}..${r[r.length - 1].toFixed(3)}, ${rounds} alternating rounds)\n`);
}

function main(): void {
  const [a, b, rounds = '12'] = process.argv.slice(2);
  if (!a || !b) throw new Error('usage: node out/bench/dataplane/abBuilds.js DIR_A DIR_B [rounds]');
  const perRequest = (one: () => void) => () => { one(); return 1; };
  alternate('inbound authz + exchange end, both sidecars', [perRequest(requestOf(a)), perRequest(requestOf(b))], 20_000, Number(rounds));
  alternate('control plane intake of both sidecars\' batches (JSON.parse + TelemetryHub.ingest)', [intakeOf(a), intakeOf(b)], 400, Number(rounds));
}

if (require.main === module) main();
