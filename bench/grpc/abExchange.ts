/**
 * Two builds' `exchangeH2` (h2Exchange.ts) side by side in one process,
 * alternating rounds: unary gRPC-shaped calls (a 12-byte request body, a
 * 105-byte reply with trailers) over one loopback h2c session to a core-API
 * server in the same process, with the metrics filter's two message counters
 * per call. CPU µs per call (both ends), median of the rounds and the paired
 * B/A per round; then the two counters' work alone in ns. The end-to-end
 * A/B (ab.ts) cannot resolve a few µs on a shared machine; this can.
 *
 *   node out/bench/grpc/abExchange.js DIR_A DIR_B [rounds] [calls]
 */
import * as http2 from 'node:http2';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { REQUEST_FRAME } from './service';

type Module = Record<string, any>;
interface Build { exchangeH2: (ctx: Module, session: http2.ClientHttp2Session, target: Module) => void; Counter: new () => { push(c: Buffer): void; messages: number } }

const load = (dir: string): Build => {
  const r = (m: string): Module => require(path.resolve(dir, 'out', m));
  return { exchangeH2: r('simulator/sidecar/upstream/h2Exchange').exchangeH2, Counter: r('simulator/sidecar/grpc/frames').GrpcFrameCounter };
};
const REPLY = Buffer.concat([Buffer.from([0, 0, 0, 0, 100]), Buffer.alloc(100, 0x61)]);
const cpuUs = () => { const u = process.cpuUsage(); return u.user + u.system; };
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  const builds = process.argv.slice(2, 4).map(load);
  const rounds = Number(process.argv[4] ?? 11), calls = Number(process.argv[5] ?? 3000);
  const server = http2.createServer();
  server.on('stream', (s) => {
    s.resume();
    s.on('end', () => {
      s.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      s.on('wantTrailers', () => s.sendTrailers({ 'grpc-status': '0' }));
      s.end(REPLY);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const session = http2.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  await new Promise((r) => session.once('connect', r));
  const call = (b: Build) => new Promise<void>((resolve, reject) => {
    const body = Object.assign(Readable.from([REQUEST_FRAME], { objectMode: false }), { stream: { endAfterHeaders: false } });
    const requestMessages = new b.Counter();
    body.on('data', (c: Buffer) => requestMessages.push(c));
    body.pause();
    const ctx = {
      headers: { 'content-type': 'application/grpc', te: 'trailers', 'x-request-id': 'f81d4fae-7dec-11d0-a765-00a0c91e6bf6' },
      method: 'POST', path: '/devmesh.bench.Echo/Say', authority: 'bench:9090',
      downstream: { headers: {}, httpVersion: '2.0', body },
      respond: (_status: number, _h: unknown, s: Readable) => {
        const responseMessages = new b.Counter();
        s.on('data', (c: Buffer) => responseMessages.push(c));
        s.on('end', () => resolve());
      },
      fail: (e: Error) => reject(e),
      onAbort: () => undefined,
    };
    b.exchangeH2(ctx, session, { who: 'bench', scheme: 'http', connected: () => true, connectTimeoutMs: 1000 });
  });
  // 16 calls in flight, as the benchmark's gRPC channel.
  const batch = async (b: Build) => { for (let i = 0; i < calls; i += 16) await Promise.all(Array.from({ length: 16 }, () => call(b))); };
  for (const b of builds) await batch(b);
  const us: number[][] = [[], []];
  for (let r = 0; r < rounds; r++) {
    for (const i of r % 2 ? [1, 0] : [0, 1]) {
      const t0 = cpuUs();
      await batch(builds[i]);
      us[i].push((cpuUs() - t0) / calls);
    }
  }
  process.stdout.write(`exchangeH2 with a body and two message counters, CPU µs per call (both ends, this process), median of ${rounds}: A ${median(us[0]).toFixed(1)}, B ${median(us[1]).toFixed(1)}, B/A ${(median(us[1]) / median(us[0])).toFixed(3)}; per round B/A ${us[1].map((b, i) => (b / us[0][i]).toFixed(3)).join(' ')}\n`);
  const ns: number[][] = [[], []];
  const n = 200_000;
  for (let r = 0; r < rounds; r++) {
    for (const i of r % 2 ? [1, 0] : [0, 1]) {
      const t0 = process.hrtime.bigint();
      for (let k = 0; k < n; k++) {
        const c = new builds[i].Counter();
        c.push(REQUEST_FRAME);
        c.push(REPLY.subarray(0, 3));
        c.push(REPLY.subarray(3));
      }
      ns[i].push(Number(process.hrtime.bigint() - t0) / n);
    }
  }
  process.stdout.write(`a message counter made and fed a request and a reply cut inside its prefix, ns, median: A ${median(ns[0]).toFixed(0)}, B ${median(ns[1]).toFixed(0)}\n`);
  session.close();
  server.close();
}

if (require.main === module) void main();
