/**
 * How many socket writes the HTTP/1.1 legs of a real mTLS hop cost, and
 * what they carry (issue 19: each write to a loopback peer runs the peer's
 * TCP receive and its wake-up inside the writer's system call). A small
 * request leaves the inbound sidecar for the app in one write, head and
 * body together, and a small sized response leaves the outbound sidecar
 * for the caller in one write, head and body together: what Node's HTTP
 * stack does at best, and what a `flushHeaders`, an early header write or a
 * chunked body where the length is known would each break. Chunks of a
 * body that arrive in one turn of the event loop, in separate callbacks (the
 * DATA frames of one TLS read), leave in one write too, with the chunked
 * terminator when the body ends in that turn. Counted at
 * Node's socket (`_writeGeneric`: one call, one write or writev system
 * call), in this process, where the test's sidecars run.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as net from 'node:net';
import { PassThrough } from 'node:stream';
import { relay } from '../../../simulator/sidecar/upstream/relay';
import { startMeshFromSpec, type TestMesh } from '../fixtures';

const BODY = '{"ok":true}';

interface Seen { head: string; body: string }

/** A raw HTTP/1.1 app: reads each request (its Content-Length body too) and answers BODY with a Content-Length in one write. */
async function rawApp(seen: Seen[]): Promise<{ port: number; server: net.Server }> {
  const server = net.createServer((socket) => {
    let buf = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString('latin1');
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        if (buf.length < end + 4 + length) return;
        seen.push({ head, body: buf.subarray(end + 4, end + 4 + length).toString() });
        buf = buf.subarray(end + 4 + length);
        socket.write(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${BODY.length}\r\n\r\n${BODY}`);
      }
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as net.AddressInfo).port };
}

interface Write { local: number; remote: number; bytes: Buffer }

/** Every write Node's sockets of this process make while `fn` runs, with its ports and its bytes. */
async function writesDuring(fn: () => Promise<unknown>): Promise<Write[]> {
  const proto = net.Socket.prototype as unknown as { _writeGeneric(writev: boolean, data: unknown, encoding: string, cb: unknown): unknown };
  const original = proto._writeGeneric;
  const writes: Write[] = [];
  const bytesOf = (writev: boolean, data: unknown, encoding: string): Buffer => {
    const part = (d: unknown, enc: string) => (Buffer.isBuffer(d) ? d : Buffer.from(d as string, enc as BufferEncoding));
    if (!writev) return part(data, encoding);
    const chunks = data as Array<{ chunk: unknown; encoding: string }>;
    return Buffer.concat(chunks.map((c) => part(c.chunk, c.encoding)));
  };
  proto._writeGeneric = function (this: net.Socket, writev: boolean, data: unknown, encoding: string, cb: unknown) {
    writes.push({ local: this.localPort ?? 0, remote: this.remotePort ?? 0, bytes: bytesOf(writev, data, encoding) });
    return original.call(this, writev, data, encoding, cb);
  };
  try {
    await fn();
  } finally {
    proto._writeGeneric = original;
  }
  return writes;
}

describe('the HTTP/1.1 legs write each small message once', () => {
  let mesh: TestMesh;
  let appPort = 0;
  const seen: Seen[] = [];
  before(async () => {
    mesh = await startMeshFromSpec(
      { services: [{ name: 'raw', port: 8080, workloads: [{ name: 'raw-v1', port: 1 }] }, { name: 'sleep', port: 80, workloads: [{ name: 'sleep', port: 2 }] }] },
      {},
      { app: async (w) => { if (w !== 'raw-v1') return undefined; const a = await rawApp(seen); appPort = a.port; return a; } },
    );
    // A first call opens the connections (session, keep-alive sockets): the counted ones reuse them.
    assert.equal((await mesh.request('sleep', { url: 'http://raw:8080/warm' })).status, 200);
    // A request with a body goes to the app on http.request's own kept-alive sockets (appClient.ts takes those without): open one too.
    assert.equal((await mesh.request('sleep', { url: 'http://raw:8080/warm', method: 'POST', body: 'warm' })).status, 200);
  });
  after(() => mesh.close());

  const toApp = (ws: Write[]) => ws.filter((w) => w.remote === appPort);
  const toCaller = (ws: Write[]) => ws.filter((w) => w.local === mesh.sidecars.get('sleep')!.ports.outbound);

  test('a GET reaches the app in one write and its response reaches the caller in one write', async () => {
    let status = 0, text = '';
    const writes = await writesDuring(async () => ({ status, text } = await mesh.request('sleep', { url: 'http://raw:8080/get' })));
    assert.equal(status, 200);
    assert.equal(text, BODY);
    const app = toApp(writes);
    assert.equal(app.length, 1, `writes to the app: ${app.map((w) => JSON.stringify(w.bytes.toString('latin1'))).join(', ')}`);
    assert.match(app[0].bytes.toString('latin1'), /^GET \/get HTTP\/1\.1\r\n[^]*\r\n\r\n$/);
    const caller = toCaller(writes);
    assert.equal(caller.length, 1, `writes to the caller: ${caller.map((w) => JSON.stringify(w.bytes.toString('latin1'))).join(', ')}`);
    const reply = caller[0].bytes.toString('latin1');
    assert.match(reply, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(reply, new RegExp(`\r\ncontent-length: ${BODY.length}\r\n`, 'i'));
    assert.doesNotMatch(reply, /transfer-encoding/i);
    assert.ok(reply.endsWith(`\r\n\r\n${BODY}`), 'head and body in the same write');
  });

  test('a POST with a Content-Length reaches the app as head and body in one write', async () => {
    const payload = 'name=devmesh&answer=42';
    let status = 0;
    const writes = await writesDuring(async () => ({ status } = await mesh.request('sleep', { url: 'http://raw:8080/post', method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: payload })));
    assert.equal(status, 200);
    assert.deepEqual(seen.at(-1)!.body, payload);
    const app = toApp(writes);
    assert.equal(app.length, 1, `writes to the app: ${app.map((w) => JSON.stringify(w.bytes.toString('latin1'))).join(', ')}`);
    const sent = app[0].bytes.toString('latin1');
    assert.match(sent, /^POST \/post HTTP\/1\.1\r\n/);
    assert.match(sent, new RegExp(`\r\ncontent-length: ${payload.length}\r\n`, 'i'));
    assert.ok(sent.endsWith(`\r\n\r\n${payload}`), 'head and body in the same write');
    assert.equal(toCaller(writes).length, 1);
  });
});

describe('the relay writes what one turn of the event loop brings in one write', () => {
  /** A server whose response relays `feed`'s body; the writes its socket makes for that response, and what the client got. */
  async function relayed(headers: http.OutgoingHttpHeaders, feed: (body: PassThrough, clientGotData: Promise<void>) => void): Promise<{ writes: string[]; received: string }> {
    let port = 0;
    let gotData = () => undefined as void;
    const clientGotData = new Promise<void>((r) => { gotData = r; });
    const server = http.createServer((req, res) => {
      req.resume();
      const body = new PassThrough();
      res.writeHead(200, headers);
      relay(body, res);
      feed(body, clientGotData);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as net.AddressInfo).port;
    try {
      let received = '';
      const writes = (await writesDuring(() => new Promise<void>((resolve, reject) => {
        http.get({ port, path: '/', agent: false }, (res) => {
          res.setEncoding('latin1');
          res.on('data', (c: string) => { received += c; gotData(); });
          res.on('end', resolve);
        }).on('error', reject);
      }))).filter((w) => w.local === port).map((w) => w.bytes.toString('latin1'));
      return { writes, received };
    } finally {
      server.close();
    }
  }

  // Two chunks in two callbacks of one turn (immediates queued together run in one check phase, the ticks drained between them).
  const twoCallbacks = (body: PassThrough) => {
    setImmediate(() => body.write('first-'));
    setImmediate(() => body.end('second'));
  };

  test('a sized body in two callbacks of one turn: head and both chunks in one write', async () => {
    const { writes, received } = await relayed({ 'content-length': 12 }, twoCallbacks);
    assert.equal(received, 'first-second');
    assert.equal(writes.length, 1, `writes: ${JSON.stringify(writes)}`);
    assert.match(writes[0], /^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\nfirst-second$/);
  });

  test('a chunked body ending in that turn: its chunks and the terminator in one write, framed as before', async () => {
    const { writes, received } = await relayed({}, twoCallbacks);
    assert.equal(received, 'first-second');
    assert.equal(writes.length, 1, `writes: ${JSON.stringify(writes)}`);
    assert.match(writes[0], /\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nfirst-\r\n6\r\nsecond\r\n0\r\n\r\n$/);
  });

  test('a chunk of a later turn leaves in a write of its own, the terminator with the last chunk', async () => {
    const { writes, received } = await relayed({}, (body, clientGotData) => {
      body.write('first-');
      void clientGotData.then(() => body.end('second'));
    });
    assert.equal(received, 'first-second');
    assert.equal(writes.length, 2, `writes: ${JSON.stringify(writes)}`);
    assert.ok(writes[0].endsWith('\r\n6\r\nfirst-\r\n'));
    assert.equal(writes[1], '6\r\nsecond\r\n0\r\n\r\n');
  });
});
