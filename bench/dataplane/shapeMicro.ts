/**
 * Issue 19: what the request context's object shapes cost when one isolate
 * serves both sides of the exchange (the shared layout), without sockets and
 * so with far less noise than the wrk A/B: for each build DIR, a child
 * process makes each request's context with that build's own `newContext`
 * from a stand-in HTTP/1.1 downstream (outbound, as the app calls) and from a
 * stand-in HTTP/2 stream (inbound, as the peer sidecar calls: a null-prototype
 * header object as Node's), runs that build's outbound chain (trace ..
 * retry -> endpoint .., stub upstream) and inbound filters (servicePort,
 * peer, trace, metrics, xfcc, stub app), answers, and ends the exchange as
 * sidecar.ts does (stats, access-log row, Istio metrics, span, edge,
 * telemetry batch). Every round runs each build in a fresh process, the order
 * alternating, and prints CPU µs per request (both sides; the median of five
 * timed runs of `requests` after a warm-up run) and B/A.
 *
 *   node out/bench/dataplane/shapeMicro.js DIR_A DIR_B [rounds] [requests]
 *   node out/bench/dataplane/shapeMicro.js DIR_A DIR_B 8 60000 --side=outbound|inbound   (one side only: a process per side)
 */
import { execFileSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import * as path from 'node:path';

type Module = Record<string, any>;

function run(dir: string, requests: number, side: string): number {
  const req = (p: string): Module => require(path.join(dir, 'out', p));
  const { benchSnapshot } = req('bench/dataplane/devmeshChain.js');
  const { compileTables } = req('simulator/sidecar/tables.js');
  const { newContext } = req('simulator/sidecar/downstream.js');
  const { compose } = req('simulator/sidecar/context.js');
  const { sourceOf } = req('simulator/sidecar/listeners/outbound.js');
  const { peerSource } = req('simulator/sidecar/listeners/inbound.js');
  const { PEER } = req('simulator/sidecar/security/peerIdentity.js');
  const { outboundFilterChain } = req('bench/dataplane/outboundChain.js');
  const { servicePort } = req('simulator/sidecar/filters/servicePort.js');
  const { learnPeer } = req('simulator/sidecar/filters/peerMetadata.js');
  const { trace } = req('simulator/sidecar/filters/trace.js');
  const { metrics } = req('simulator/sidecar/filters/metrics.js');
  const { xfcc } = req('simulator/sidecar/filters/xfcc.js');
  const { Stats } = req('simulator/sidecar/stats.js');
  const { AccessLog } = req('simulator/sidecar/accessLog.js');
  const { SidecarTelemetry } = req('simulator/sidecar/telemetry.js');

  const snap = benchSnapshot(1, { client: [2, 3, 4], server: [5, 6, 7], ingress: [8, 9] });
  const client = compileTables(snap, 'client-v1');
  const server = compileTables(snap, 'bench-v1');
  const stats = new Stats();
  const log = new AccessLog(undefined, 'text');
  const telemetry = new SidecarTelemetry({ name: 'bench', send: () => undefined });
  const done = (listener: string) => (e: Module) => {
    stats.request(listener, e.status, e.ctx.flags);
    telemetry.exchange(listener, e, log.record(listener, e));
  };
  const outDone = done('outbound');
  const inDone = done('inbound');
  const outChain = outboundFilterChain();
  const inChain = compose([servicePort(), learnPeer(), trace({ sampling: 100, random: Math.random }), metrics(), xfcc()], (ctx: Module) => ctx.respond(200, { 'content-type': 'application/json', 'content-length': '94' }, null));
  const socket = { remoteAddress: '127.0.0.1', localPort: 15001, encrypted: false };
  // The inbound connection: mTLS from client-v1 (what the listener notes on the socket at the handshake).
  const peerSocket = { remoteAddress: '127.0.0.1', localPort: 15006, encrypted: true, [PEER]: { tls: true, spiffeId: client.identity.spiffeId, certHash: 'ab'.repeat(32) } };

  /** An HTTP/1.1 request and response as the outbound listener gets them (only what newContext and respond use). */
  const h1 = () => {
    const res = new EventEmitter() as Module;
    res.headersSent = false;
    res.writableFinished = false;
    res.writeHead = () => { res.headersSent = true; };
    res.end = () => { res.writableFinished = true; res.emit('finish'); };
    res.destroy = () => undefined;
    const headers = { host: 'bench', 'user-agent': 'wrk', accept: '*/*' };
    return { req: { headers, rawHeaders: ['Host', 'bench', 'User-Agent', 'wrk', 'Accept', '*/*'], httpVersion: '1.1', socket, aborted: false }, res };
  };
  /** An HTTP/2 stream as the inbound listener gets it: Node's header object has a null prototype. */
  const h2 = () => {
    const stream = new EventEmitter() as Module;
    stream.destroyed = false;
    stream.closed = false;
    stream.aborted = false;
    stream.headersSent = false;
    stream.writableEnded = false;
    stream.session = { socket: peerSocket };
    stream.respond = (_h: unknown, o: { endStream: boolean }) => { stream.headersSent = true; if (o.endStream) { stream.writableEnded = true; stream.emit('close'); } };
    const headers = Object.assign(Object.create(null), {
      ':method': 'GET', ':path': '/', ':authority': 'bench', ':scheme': 'https', 'user-agent': 'wrk', 'x-request-id': 'f81d4fae-7dec-11d0-a765-00a0c91e6bf6',
      traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', 'x-b3-traceid': '4bf92f3577b34da6a3ce929d0e0e4736', 'x-b3-spanid': '00f067aa0ba902b7', 'x-b3-sampled': '1',
      'x-devmesh-peer-workload': 'client-v1', 'x-devmesh-destination': 'bench.default.svc.cluster.local:9080', 'x-envoy-attempt-count': '1', 'x-forwarded-proto': 'http',
    });
    return { stream, headers };
  };
  const one = (i: number) => {
    if (side !== 'inbound') outChain(newContext(client, h1(), { method: 'GET', path: '/', authority: 'bench', proxyForm: false, listener: 'outbound', gatewayListener: undefined }, sourceOf(client, '127.0.0.1'), outDone, 0));
    if (side !== 'outbound') inChain(newContext(server, h2(), { method: 'GET', path: '/', authority: 'bench', proxyForm: false, listener: 'inbound', gatewayListener: undefined }, peerSource(peerSocket), inDone));
    if (i % 32 === 31) telemetry.flush();
  };
  for (let i = 0; i < requests; i++) one(i);
  // The median of five timed runs after a warm-up one, as micro.ts measures.
  const runs: number[] = [];
  for (let k = 0; k < 5; k++) {
    const c0 = process.cpuUsage();
    for (let i = 0; i < requests; i++) one(i);
    const c = process.cpuUsage(c0);
    runs.push((c.user + c.system) / requests);
  }
  telemetry.close();
  return runs.sort((x, y) => x - y)[2];
}

function main(): void {
  const args = process.argv.slice(2);
  const side = args.find((a) => a.startsWith('--side='))?.slice(7) ?? 'both';
  const pos = args.filter((a) => !a.startsWith('--'));
  if (pos[0] === 'run') {
    process.stdout.write(`${run(path.resolve(pos[1]), Number(pos[2]), side)}\n`);
    return;
  }
  const [a, b, rounds = '8', requests = '20000'] = pos;
  if (!a || !b) throw new Error('usage: node out/bench/dataplane/shapeMicro.js DIR_A DIR_B [rounds] [requests] [--side=outbound|inbound]');
  const once = (dir: string) => Number(execFileSync(process.execPath, [__filename, 'run', dir, requests, `--side=${side}`], { encoding: 'utf8' }).trim());
  const ratios: number[] = [];
  const as: number[] = [];
  const bs: number[] = [];
  for (let k = 0; k < Number(rounds); k++) {
    let x: number;
    let y: number;
    if (k % 2 === 0) { x = once(a); y = once(b); } else { y = once(b); x = once(a); }
    as.push(x);
    bs.push(y);
    ratios.push(y / x);
    process.stdout.write(`round ${k + 1}: A ${x.toFixed(2)} µs, B ${y.toFixed(2)} µs per request (${side}), B/A ${(y / x).toFixed(3)}\n`);
  }
  const med = (v: number[]) => [...v].sort((p, q) => p - q)[Math.floor(v.length / 2)];
  process.stdout.write(`median: A ${med(as).toFixed(2)}, B ${med(bs).toFixed(2)} µs per request; B/A ${med(ratios).toFixed(3)} (rounds ${Math.min(...ratios).toFixed(3)}..${Math.max(...ratios).toFixed(3)})\n`);
}

main();
