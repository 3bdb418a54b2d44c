/**
 * The inbound sidecar's own HTTP/1.1 client to the app (appClient.ts: a
 * socket and Node's llhttp binding, for requests without a body) keeps what
 * http.request gave: a large body streamed with backpressure, the app's
 * connection closed when the caller goes away mid-response, no body after
 * HEAD, 204 and 304 with the connection kept, a body that ends with the
 * connection, and a kept-alive connection the app closed as the request
 * went out retried on a new one (Istio's reset-before-request). Real
 * sidecars over mTLS, real apps on port 0.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as http from 'node:http';
import * as net from 'node:net';
import { startMeshFromSpec, type TestMesh } from '../fixtures';

const BIG = 8 * 1024 * 1024;
const chunkOf = (i: number) => Buffer.alloc(64 * 1024, i % 251);

describe('the inbound sidecar\'s HTTP/1.1 client to the app', () => {
  let mesh: TestMesh;
  const web = { connections: 0, hangClosed: undefined as Promise<void> | undefined, onHang: undefined as (() => void) | undefined };
  const raw = { connections: 0 };
  let hangSeen!: () => void;
  const hangArrived = new Promise<void>((r) => (hangSeen = r));

  before(async () => {
    const webApp = http.createServer((req, res) => {
      if (req.url === '/big') {
        res.writeHead(200, { 'content-length': BIG });
        let i = 0;
        const more = () => {
          while (i < BIG / (64 * 1024)) if (!res.write(chunkOf(i++))) return void res.once('drain', more);
          res.end();
        };
        return more();
      }
      if (req.url === '/hang') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('first part');
        web.hangClosed = new Promise<void>((r) => res.once('close', () => r()));
        return hangSeen();
      }
      if (req.url === '/204') return void res.writeHead(204).end();
      if (req.url === '/304') return void res.writeHead(304, { etag: '"x"' }).end();
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 5, 'set-cookie': ['a=1', 'b=2'] }).end(req.method === 'HEAD' ? undefined : 'hello');
    });
    webApp.on('connection', () => web.connections++);
    // Raw: answers each request with keep-alive, except the second request on a connection for /close-on-reuse (closed unread)
    // and /until-close (a body that runs to the connection's end).
    const rawApp = net.createServer((socket) => {
      raw.connections++;
      let n = 0;
      let buf = '';
      socket.on('data', (d: Buffer) => {
        buf += d.toString('latin1');
        for (let end = buf.indexOf('\r\n\r\n'); end >= 0; end = buf.indexOf('\r\n\r\n')) {
          const head = buf.slice(0, end);
          buf = buf.slice(end + 4);
          n++;
          if (head.startsWith('GET /close-on-reuse') && n === 2) return void socket.destroy();
          if (head.startsWith('GET /until-close')) return void socket.end('HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nthe body ends with the connection');
          // The answer, then (same write) a 408 no request asked for, on a connection the app keeps open.
          if (head.startsWith('GET /then-408')) return void socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokHTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\n\r\n');
          socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
        }
      });
      socket.on('error', () => undefined);
    });
    const listen = async (s: net.Server) => { await new Promise<void>((r) => s.listen(0, '127.0.0.1', r)); return { port: (s.address() as net.AddressInfo).port, server: s }; };
    mesh = await startMeshFromSpec(
      { services: [{ name: 'web', port: 8080, workloads: [{ name: 'web-v1', port: 1 }] }, { name: 'raw', port: 8080, workloads: [{ name: 'raw-v1', port: 2 }] }, { name: 'sleep', port: 80, workloads: [{ name: 'sleep', port: 3 }] }] },
      {},
      { app: async (w) => (w === 'web-v1' ? listen(webApp) : w === 'raw-v1' ? listen(rawApp) : undefined) },
    );
  });
  after(() => mesh.close());

  /** A GET through the caller's outbound listener, as a stream. */
  const get = (host: string, path: string, method = 'GET') => new Promise<http.IncomingMessage>((resolve, reject) => {
    http.request({ host: '127.0.0.1', port: mesh.sidecars.get('sleep')!.ports.outbound, path, method, headers: { host } }, resolve).on('error', reject).end();
  });

  test('a large response reaches a caller that reads it slowly whole, byte for byte', async () => {
    const res = await get('web:8080', '/big');
    assert.equal(res.statusCode, 200);
    const hash = createHash('sha256');
    let bytes = 0;
    // Read a chunk at a time, pausing in between: the sidecars' buffers fill and must hold the app back, not drop or reorder.
    res.pause();
    await new Promise<void>((resolve, reject) => {
      res.on('data', (c: Buffer) => {
        hash.update(c);
        bytes += c.length;
        res.pause();
        setImmediate(() => res.resume());
      });
      res.on('end', resolve);
      res.on('error', reject);
      res.resume();
    });
    const want = createHash('sha256');
    for (let i = 0; i < BIG / (64 * 1024); i++) want.update(chunkOf(i));
    assert.equal(bytes, BIG);
    assert.equal(hash.digest('hex'), want.digest('hex'));
  });

  test('a caller that goes away mid-response closes the app\'s connection', async () => {
    const res = await get('web:8080', '/hang');
    await hangArrived;
    await new Promise<void>((r) => res.once('data', () => r()));
    res.destroy();
    // The app's response closes: its connection was closed by the sidecar, not left half-read.
    await web.hangClosed;
  });

  test('HEAD, 204 and 304 answers carry no body, and the kept-alive connection serves the next request', async () => {
    const before = web.connections;
    const read = async (res: http.IncomingMessage) => { let s = ''; for await (const c of res) s += c; return s; };
    const head = await get('web:8080', '/', 'HEAD');
    assert.equal(head.statusCode, 200);
    assert.equal(head.headers['content-length'], '5');
    assert.equal(await read(head), '');
    const noContent = await get('web:8080', '/204');
    assert.equal(noContent.statusCode, 204);
    assert.equal(await read(noContent), '');
    const notModified = await get('web:8080', '/304');
    assert.equal(notModified.statusCode, 304);
    assert.equal(await read(notModified), '');
    const after = await get('web:8080', '/');
    assert.equal(after.statusCode, 200);
    assert.deepEqual(after.headers['set-cookie'], ['a=1', 'b=2']);
    assert.equal(await read(after), 'hello');
    assert.ok(web.connections - before <= 1, `the sequential requests used ${web.connections - before} new connections to the app`);
  });

  test('a body that ends with the app\'s connection arrives whole', async () => {
    const r = await mesh.request('sleep', { url: 'http://raw:8080/until-close' });
    assert.equal(r.status, 200);
    assert.equal(r.text, 'the body ends with the connection');
  });

  test('a kept-alive connection the app closes as the request goes out is retried on a new one (reset-before-request)', async () => {
    assert.equal((await mesh.request('sleep', { url: 'http://raw:8080/close-on-reuse' })).status, 200);
    const before = raw.connections;
    // The same connection carries this one, and the app closes it unread: the inbound sidecar retries on a new connection.
    const r = await mesh.request('sleep', { url: 'http://raw:8080/close-on-reuse' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.text, 'ok');
    assert.equal(raw.connections - before, 1, 'one new connection, for the retry');
    assert.equal(r.headers['x-devmesh-response-flags'], undefined);
  });

  test('an answer the app sends with no request out (a 408 on an idle connection) is nobody\'s: the next request gets its own answer on a new connection', async () => {
    const first = await mesh.request('sleep', { url: 'http://raw:8080/then-408' });
    assert.equal(first.status, 200);
    assert.equal(first.text, 'ok');
    const before = raw.connections;
    for (let i = 0; i < 3; i++) {
      const r = await mesh.request('sleep', { url: `http://raw:8080/after-408-${i}` });
      assert.equal(r.status, 200, `request ${i} got the stale answer: ${r.status} ${r.text}`);
      assert.equal(r.text, 'ok');
    }
    assert.equal(raw.connections - before, 1, 'the connection that carried the 408 is not reused; one new connection serves the rest');
  });
});
