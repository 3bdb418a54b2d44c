/**
 * The sidecars' HTTP/2 servers take each request as Node's core stream
 * (h2Streams.ts), not through Node's compatibility layer. What that layer
 * did, and what a proxy must do with a raw stream, still happens end to
 * end: a caller's reset mid-stream reaches the app as a reset with its
 * code; trailers on a response that is not gRPC reach the caller; the
 * answers the layer made itself (100-continue, 417, 405 to a CONNECT) are
 * still made; an HTTP/1.1 app's chunked trailers still cross the HTTP/2
 * hop. App -> local upstream port -> HTTP/2 entry -> mTLS HTTP/2 ->
 * inbound -> h2c -> a raw Node HTTP/2 app, all on real sockets.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import type * as net from 'node:net';
import type { MeshSpec } from '../../../simulator/policy/model';
import { startMeshFromSpec, type TestMesh } from '../fixtures';
import { grpcMesh, upstreamPort, type GrpcMesh } from '../grpc/fixtures';

/** What the app saw of each stream, by path: its request headers, and its close with the RST_STREAM code. */
interface Seen { path: string; headers: http2.IncomingHttpHeaders; rstCode?: number }

/**
 * A raw HTTP/2 app: `/hold` answers its headers and one chunk and keeps the
 * stream open both ways; `/trailers` answers a text body followed by
 * trailers; anything else echoes the request body.
 */
async function rawApp(events: EventEmitter): Promise<{ port: number; close(): void }> {
  const server = http2.createServer();
  server.on('stream', (stream, headers) => {
    const seen: Seen = { path: String(headers[':path']), headers };
    stream.on('error', () => undefined);
    stream.on('close', () => { seen.rstCode = stream.rstCode; events.emit('closed', seen); });
    if (seen.path === '/hold') {
      stream.respond({ ':status': 200, 'content-type': 'application/octet-stream' });
      stream.write('first');
      stream.once('data', () => events.emit('data', seen));
      return;
    }
    if (seen.path === '/trailers') {
      stream.respond({ ':status': 200, 'content-type': 'text/plain' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'x-checksum': 'c0ffee', 'x-rows': '3' }));
      stream.resume();
      stream.end('three rows');
      return;
    }
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      stream.respond({ ':status': 200, 'x-expect-seen': String(headers.expect ?? '-') });
      stream.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as net.AddressInfo).port, close: () => server.close() };
}

/** Reads a client stream to its end: status, body, trailers. */
function answerOf(req: http2.ClientHttp2Stream): Promise<{ status: number; body: string; trailers?: http2.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    let status = 0;
    let body = '';
    let trailers: http2.IncomingHttpHeaders | undefined;
    req.on('response', (h) => { status = Number(h[':status']); });
    req.on('trailers', (t) => { trailers = t; });
    req.setEncoding('utf8');
    req.on('data', (d: string) => { body += d; });
    req.on('error', reject);
    req.on('close', () => resolve({ status, body, trailers }));
  });
}

/** A stream the sidecars fail to pass on fails the test rather than hang it. */
const WAIT = { timeout: 15_000 };

describe('HTTP/2 streams through both sidecars, served without the compatibility layer', () => {
  let m: GrpcMesh;
  const events = new EventEmitter();
  let local: { port: number; close(): void };
  let client: http2.ClientHttp2Session;
  before(async () => {
    m = await grpcMesh({ app: () => rawApp(events) });
    local = await upstreamPort(m.mesh.sidecars.get('productpage-v1')!, { host: 'ratings', port: 9090 });
    client = http2.connect(`http://127.0.0.1:${local.port}`);
  });
  after(async () => {
    client?.close();
    local?.close();
    await m?.close();
  });

  test("a caller's RST_STREAM in the middle of both bodies reaches the app as RST_STREAM CANCEL, and both sidecars log a downstream disconnect", WAIT, async () => {
    const req = client.request({ ':method': 'POST', ':path': '/hold', ':authority': 'ratings:9090', 'content-type': 'application/octet-stream' });
    req.on('error', () => undefined);
    const [first] = await once(req, 'data');
    assert.equal(String(first), 'first');
    const reached = once(events, 'data');
    req.write('some of the body');
    await reached;
    const closed = once(events, 'closed');
    req.close(http2.constants.NGHTTP2_CANCEL);
    const [seen] = (await closed) as [Seen];
    assert.equal(seen.path, '/hold');
    assert.equal(seen.rstCode, http2.constants.NGHTTP2_CANCEL);
    const caller = m.mesh.sidecars.get('productpage-v1')!.accessLog.tail().at(-1)!;
    assert.equal(caller.path, '/hold');
    assert.equal(caller.response_flags, 'DC');
    const callee = m.mesh.sidecars.get('ratings-v1')!.accessLog.tail().at(-1)!;
    assert.equal(callee.path, '/hold');
    assert.equal(callee.response_flags, 'DC');
  });

  test('trailers on an HTTP/2 response that is not gRPC reach the caller after the body', WAIT, async () => {
    const answer = await answerOf(client.request({ ':path': '/trailers', ':authority': 'ratings:9090' }, { endStream: true }));
    assert.equal(answer.status, 200);
    assert.equal(answer.body, 'three rows');
    assert.equal(answer.trailers?.['x-checksum'], 'c0ffee');
    assert.equal(answer.trailers?.['x-rows'], '3');
  });

  test('expect: 100-continue gets its 100 before the body is sent, then the answer', WAIT, async () => {
    const req = client.request({ ':method': 'POST', ':path': '/echo', ':authority': 'ratings:9090', expect: '100-continue' });
    const answer = answerOf(req);
    await once(req, 'continue');
    req.end('sent after the 100');
    assert.deepEqual(await answer, { status: 200, body: 'sent after the 100', trailers: undefined });
  });

  test('an expectation other than 100-continue is refused with 417, and a CONNECT on the entry with 405, before any route runs', WAIT, async () => {
    const before = m.mesh.sidecars.get('productpage-v1')!.accessLog.tail().length;
    const expectation = await answerOf(client.request({ ':method': 'POST', ':path': '/echo', ':authority': 'ratings:9090', expect: 'something-else' }, { endStream: true }));
    assert.equal(expectation.status, 417);
    const connect = await answerOf(client.request({ ':method': 'CONNECT', ':authority': 'ratings:9090' }));
    assert.equal(connect.status, 405);
    assert.equal(m.mesh.sidecars.get('productpage-v1')!.accessLog.tail().length, before);
  });
});

describe("an HTTP/1.1 app's trailers across the sidecars' HTTP/2 hop", () => {
  let mesh: TestMesh;
  before(async () => {
    const spec: MeshSpec = {
      services: [
        { name: 'frontend', port: 9080, workloads: [{ name: 'frontend-v1', port: 1 }] },
        { name: 'reviews', port: 9080, workloads: [{ name: 'reviews-v1', port: 1 }] },
      ],
    };
    mesh = await startMeshFromSpec(spec, {}, {
      app: async (workload) => {
        if (workload !== 'reviews-v1') return undefined;
        // Chunked with trailers when asked; a content-length body (no trailers possible) otherwise.
        const server = http.createServer((req, res) => {
          if (req.url !== '/chunked') return void res.end('sized');
          res.writeHead(200, { 'content-type': 'text/plain', trailer: 'x-checksum' });
          res.write('rows');
          res.addTrailers({ 'x-checksum': 'c0ffee' });
          res.end();
        });
        await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
        return { port: (server.address() as net.AddressInfo).port, close: () => server.close() };
      },
    });
  });
  after(() => mesh?.close());

  const get = (path: string) => new Promise<{ body: string; trailers: http.IncomingHttpHeaders }>((resolve, reject) => {
    const port = mesh.sidecars.get('frontend-v1')!.ports.outbound!;
    http.get({ host: '127.0.0.1', port, path: `http://reviews:9080${path}` }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => resolve({ body, trailers: res.trailers }));
    }).on('error', reject);
  });

  test('a chunked response keeps its trailers through both sidecars; a sized one comes whole without any', WAIT, async () => {
    assert.deepEqual(await get('/chunked'), { body: 'rows', trailers: { 'x-checksum': 'c0ffee' } });
    assert.deepEqual(await get('/sized'), { body: 'sized', trailers: {} });
  });
});

/** One HTTP/2 frame as it crossed a connection. */
interface Frame { type: number; flags: number; streamId: number; length: number }
const DATA = 0;
const END_STREAM = 0x1;

/**
 * A TCP relay to `port` that parses the HTTP/2 frames its clients send
 * (after the preface) into `frames`, and passes every byte on unchanged.
 */
async function frameLoggingRelay(port: number, frames: Frame[]): Promise<{ port: number; close(): void }> {
  const { createServer, connect } = await import('node:net');
  const sockets = new Set<net.Socket>();
  const server = createServer((client) => {
    const upstream = connect({ port, host: '127.0.0.1' });
    for (const s of [client, upstream]) { sockets.add(s); s.on('error', () => undefined); s.on('close', () => sockets.delete(s)); }
    let buf = Buffer.alloc(0);
    let preface = 24;
    client.on('data', (d: Buffer) => {
      upstream.write(d);
      buf = Buffer.concat([buf, d]);
      const skip = Math.min(preface, buf.length);
      buf = buf.subarray(skip);
      preface -= skip;
      while (buf.length >= 9 && buf.length >= 9 + buf.readUIntBE(0, 3)) {
        const length = buf.readUIntBE(0, 3);
        frames.push({ type: buf[3], flags: buf[4], streamId: buf.readUInt32BE(5) & 0x7fffffff, length });
        buf = buf.subarray(9 + length);
      }
    });
    upstream.on('data', (d: Buffer) => client.write(d));
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as net.AddressInfo).port, close: () => { for (const s of sockets) s.destroy(); server.close(); } };
}

/** The DATA frames the app got on one stream: their lengths and END_STREAM flags. */
const dataFrames = (frames: Frame[], streamId: number) => frames.filter((f) => f.type === DATA && f.streamId === streamId).map((f) => ({ length: f.length, endStream: (f.flags & END_STREAM) !== 0 }));

/**
 * A streamed request body is not held back waiting for its end (what holding
 * chunks to put END_STREAM on the last one would risk; BENCHMARKS.md grpc11).
 */
describe('a request body across both sidecars, frame by frame', () => {
  let m: GrpcMesh;
  const events = new EventEmitter();
  const toApp: Frame[] = [];
  let local: { port: number; close(): void };
  let appRelay: { port: number; close(): void } | undefined;
  let client: http2.ClientHttp2Session;
  before(async () => {
    m = await grpcMesh({
      app: async () => {
        const app = await rawApp(events);
        appRelay = await frameLoggingRelay(app.port, toApp);
        return { port: appRelay.port, close: () => { appRelay?.close(); app.close(); } };
      },
    });
    local = await upstreamPort(m.mesh.sidecars.get('productpage-v1')!, { host: 'ratings', port: 9090 });
    client = http2.connect(`http://127.0.0.1:${local.port}`);
  });
  after(async () => {
    // destroy(), not close(): a stream a broken sidecar still holds must not keep the suite waiting.
    client?.destroy();
    local?.close();
    await m?.close();
  });

  /** The app's stream for the request the app saw last (each test sends one): the stream id of the last HEADERS frame it got. */
  const lastAppStream = () => toApp.filter((f) => f.type === 1).at(-1)!.streamId;

  test('a chunk of a body that keeps streaming reaches the app as its own DATA frame before the caller ends the body', WAIT, async () => {
    const req = client.request({ ':method': 'POST', ':path': '/hold', ':authority': 'ratings:9090', 'content-type': 'application/octet-stream' });
    req.on('error', () => undefined);
    await once(req, 'data');
    const reached = once(events, 'data');
    req.write('the first part');
    // The app has it while the caller has not ended its body.
    await reached;
    const app = dataFrames(toApp, lastAppStream());
    assert.deepEqual(app, [{ length: 14, endStream: false }]);
    const closed = once(events, 'closed');
    req.close(http2.constants.NGHTTP2_CANCEL);
    await closed;
  });
});
