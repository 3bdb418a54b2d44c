/**
 * The inbound sidecar's own HTTP/1.1 client to the app (appClient.ts: a
 * socket and Node's llhttp binding) keeps what
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

/** The mesh both suites run: `sleep` calls `web` (a Node app) and `raw` (an app written on a socket), each behind its sidecar. */
async function meshOf(webApp: net.Server, rawApp: net.Server): Promise<TestMesh> {
  const listen = async (s: net.Server) => { await new Promise<void>((r) => s.listen(0, '127.0.0.1', r)); return { port: (s.address() as net.AddressInfo).port, server: s }; };
  return startMeshFromSpec(
    { services: [{ name: 'web', port: 8080, workloads: [{ name: 'web-v1', port: 1 }] }, { name: 'raw', port: 8080, workloads: [{ name: 'raw-v1', port: 2 }] }, { name: 'sleep', port: 80, workloads: [{ name: 'sleep', port: 3 }] }] },
    {},
    { app: async (w) => (w === 'web-v1' ? listen(webApp) : w === 'raw-v1' ? listen(rawApp) : undefined) },
  );
}

describe('the inbound sidecar\'s HTTP/1.1 client to the app', { timeout: 120_000 }, () => {
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
    mesh = await meshOf(webApp, rawApp);
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

/**
 * Requests with a body on the same client (issue 19, body13): what a POST
 * or PUT sent through http.request kept — the body byte for byte, framed by
 * its length or in chunks, a large one held back by a slow app, a caller
 * that goes away mid-body closing the app's connection, an app that answers
 * before reading the body, and the body replayed on every retry.
 */
describe('the inbound sidecar\'s HTTP/1.1 client to the app, requests with a body', { timeout: 120_000 }, () => {
  let mesh: TestMesh;
  const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
  const web = { connections: 0, sockets: new Set<net.Socket>(), flaky: new Map<string, number>(), hits: [] as Array<{ url: string; sha: string; bytes: number }> };
  /** The request /abort arrived with part of its body; how it ended, and whether its connection closed. */
  let abortArrived!: () => void;
  const abortSeen = new Promise<void>((r) => (abortArrived = r));
  let abortEnded!: (how: { complete: boolean; socketClosed: Promise<void> }) => void;
  const abortDone = new Promise<{ complete: boolean; socketClosed: Promise<void> }>((r) => (abortEnded = r));
  const raw = { connections: 0, closedUnread: 0, requests: [] as string[] };

  before(async () => {
    const webApp = http.createServer((req, res) => {
      // Answered at once; the body is read and dropped after, the connection kept (as a Node app that calls req.resume() does).
      if (req.url === '/too-large') return void (res.writeHead(413, { 'content-type': 'text/plain' }).end('too large'), req.resume());
      if (req.url === '/abort') {
        let bytes = 0;
        req.on('data', (c: Buffer) => { bytes += c.length; if (bytes >= 64 * 1024) abortArrived(); });
        const socketClosed = new Promise<void>((r) => req.socket.once('close', () => r()));
        return void req.once('close', () => abortEnded({ complete: req.complete, socketClosed }));
      }
      const chunks: Buffer[] = [];
      // /slow reads its body a chunk per turn of the event loop: the sidecars' buffers fill and must hold the caller back.
      req.on('data', (c: Buffer) => {
        chunks.push(c);
        if (req.url === '/slow') { req.pause(); setImmediate(() => req.resume()); }
      });
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        const hit = { url: req.url!, sha: sha(body), bytes: body.length };
        web.hits.push(hit);
        const flaky = /^\/flaky\/(\w+)/.exec(req.url!)?.[1];
        if (flaky !== undefined) {
          web.flaky.set(flaky, (web.flaky.get(flaky) ?? 0) + 1);
          if (web.flaky.get(flaky) === 1) return void res.writeHead(500).end('first attempt fails');
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ...hit, method: req.method, cl: req.headers['content-length'], te: req.headers['transfer-encoding'] }));
      });
    });
    webApp.on('connection', (s: net.Socket) => { web.connections++; web.sockets.add(s); s.once('close', () => web.sockets.delete(s)); });
    // Raw: reads each request's head and its content-length body; the second /close-on-reuse request on a connection is
    // closed unread, /close-413 is answered 413 with the connection closed before its body is read.
    const rawApp = net.createServer((socket) => {
      raw.connections++;
      let n = 0;
      let buf = Buffer.alloc(0);
      let closing = false;
      let answered = false;
      socket.on('data', (d: Buffer) => {
        // Answered and closing: the rest of the body is read and dropped (no RST for unread data).
        if (closing) return;
        buf = Buffer.concat([buf, d]);
        for (let end = buf.indexOf('\r\n\r\n'); end >= 0; end = buf.indexOf('\r\n\r\n')) {
          const head = buf.subarray(0, end).toString('latin1');
          if (head.startsWith('POST /close-413')) return void ((closing = true), socket.end('HTTP/1.1 413 Payload Too Large\r\nconnection: close\r\ncontent-length: 9\r\n\r\ntoo large'));
          if (head.startsWith('POST /close-on-reuse') && ++n === 2) return void (raw.closedUnread++, socket.destroy());
          const length = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1] ?? 0);
          // /early-413 is answered on its head, kept alive; its body is still read before the next request.
          const early = head.startsWith('POST /early-413');
          if (early && !answered) socket.write('HTTP/1.1 413 Payload Too Large\r\ncontent-length: 9\r\n\r\ntoo large');
          answered = early;
          if (buf.length < end + 4 + length) {
            if (head.startsWith('POST /close-on-reuse')) n--;
            return;
          }
          const body = buf.subarray(end + 4, end + 4 + length);
          buf = buf.subarray(end + 4 + length);
          answered = false;
          raw.requests.push(head);
          if (early) continue;
          const text = sha(body);
          socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${text.length}\r\n\r\n${text}`);
        }
      });
      socket.on('error', () => undefined);
    });
    mesh = await meshOf(webApp, rawApp);
  });
  after(() => mesh.close());

  /** A request through the caller's outbound listener; `write` sends the body (and ends it unless it returns false). */
  const send = (host: string, path: string, headers: http.OutgoingHttpHeaders, write: (req: http.ClientRequest) => void, method = 'POST') => new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: mesh.sidecars.get('sleep')!.ports.outbound, path, method, headers: { host, ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    write(req);
  });
  const json = '{"order":"ord-1","items":[' + Array.from({ length: 40 }, (_, i) => `{"id":${i},"qty":${i % 3}}`).join(',') + ']}';

  test('a body with a content-length arrives byte for byte with its length, and the connection serves the next request', async () => {
    const before = web.connections;
    for (const method of ['POST', 'PUT', 'PATCH']) {
      const r = await send('web:8080', '/echo', { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) }, (req) => req.end(json), method);
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(JSON.parse(r.text), { url: '/echo', sha: sha(Buffer.from(json)), bytes: Buffer.byteLength(json), method, cl: String(Buffer.byteLength(json)) });
    }
    assert.ok(web.connections - before <= 1, `the sequential requests used ${web.connections - before} new connections to the app`);
  });

  test('a chunked body arrives byte for byte, chunked', async () => {
    const parts = [Buffer.from('first part, '), Buffer.alloc(100_000, 'b'), Buffer.from(''), Buffer.from('and the end')];
    const r = await send('web:8080', '/echo', { 'content-type': 'text/plain' }, (req) => {
      let i = 0;
      const next = () => { if (i === parts.length) return void req.end(); req.write(parts[i++]); setImmediate(next); };
      next();
    });
    assert.equal(r.status, 200, r.text);
    const want = Buffer.concat(parts);
    assert.deepEqual(JSON.parse(r.text), { url: '/echo', sha: sha(want), bytes: want.length, method: 'POST', te: 'chunked' });
  });

  test('a large body reaches an app that reads it slowly whole, byte for byte', async () => {
    const big = 8 * 1024 * 1024;
    const chunk = (i: number) => Buffer.alloc(64 * 1024, i % 251);
    const want = createHash('sha256');
    for (let i = 0; i < big / (64 * 1024); i++) want.update(chunk(i));
    for (const headers of [{ 'content-length': big }, {}]) {
      const r = await send('web:8080', '/slow', headers, (req) => {
        let i = 0;
        // The caller writes as fast as it is let: every buffer between it and the app must hold it back, not drop or reorder.
        const more = () => {
          while (i < big / (64 * 1024)) if (!req.write(chunk(i++))) return void req.once('drain', more);
          req.end();
        };
        more();
      });
      assert.equal(r.status, 200, r.text);
      const got = JSON.parse(r.text) as { sha: string; bytes: number; te?: string };
      assert.equal(got.bytes, big);
      assert.equal(got.sha, want.copy().digest('hex'));
      assert.equal(got.te, 'content-length' in headers ? undefined : 'chunked');
    }
  });

  test('a caller that goes away mid-body: the app sees the request cut short and its connection closed, not reused', async () => {
    const req = http.request({ host: '127.0.0.1', port: mesh.sidecars.get('sleep')!.ports.outbound, path: '/abort', method: 'POST', headers: { host: 'web:8080', 'content-length': 1024 * 1024 } });
    req.on('error', () => undefined);
    req.write(Buffer.alloc(128 * 1024, 'a'));
    await abortSeen;
    req.destroy();
    const how = await abortDone;
    assert.equal(how.complete, false, 'the app saw the body end');
    await how.socketClosed;
    // The next request with a body is answered whole (on another connection: the half-written one is gone).
    const r = await send('web:8080', '/echo', { 'content-length': 5 }, (q) => q.end('after'));
    assert.equal(JSON.parse(r.text).sha, sha(Buffer.from('after')));
  });

  test('an app that answers before reading the body (413): the caller gets the answer, and the next request its own', async () => {
    const body = Buffer.alloc(1024 * 1024, 'z');
    for (const [host, path] of [['web:8080', '/too-large'], ['raw:8080', '/close-413']]) {
      const r = await send(host, path, { 'content-length': body.length }, (req) => req.end(body));
      assert.equal(r.status, 413, `${host}${path}: ${r.text}`);
      assert.equal(r.text, 'too large');
      const next = await send(host, '/echo', { 'content-length': json.length }, (req) => req.end(json));
      assert.equal(next.status, 200, next.text);
      assert.match(next.text, new RegExp(sha(Buffer.from(json))));
    }
  });

  test('an app that answers while the body is still coming: the rest goes out on that connection, which no other request takes meanwhile', async () => {
    const total = 1024 * 1024;
    let rest!: () => void;
    const early = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      // Plaintext HTTP/1.1 straight to web's inbound listener (PERMISSIVE): a caller's stream over the mesh's HTTP/2 hop
      // is reset once the answer has ended, which closes the app's connection; this one's body goes on after the answer.
      const req = http.request({ host: '127.0.0.1', port: mesh.sidecars.get('raw-v1')!.ports.inbound, path: '/early-413', method: 'POST', headers: { host: 'raw:8080', 'content-length': total } }, (res) => {
        resolve({ status: res.statusCode ?? 0, text: '' });
        res.resume();
      });
      req.on('error', reject);
      req.write(Buffer.alloc(64 * 1024, 'q'));
      rest = () => req.end(Buffer.alloc(total - 64 * 1024, 'q'));
    });
    assert.equal(early.status, 413);
    // Half the body is still owed on the first connection: this request must not be written into it.
    const before = raw.connections;
    const during = await send('raw:8080', '/echo', { 'content-length': json.length }, (req) => req.end(json));
    assert.equal(during.status, 200, during.text);
    assert.equal(during.text, sha(Buffer.from(json)));
    assert.equal(raw.connections - before, 1, 'a connection of its own');
    rest();
    const afterwards = await send('raw:8080', '/echo', { 'content-length': 5 }, (req) => req.end('later'));
    assert.equal(afterwards.text, sha(Buffer.from('later')));
  });

  test('a kept-alive connection the app closes as a POST goes out: retried on a new one with the same body', async () => {
    assert.equal((await mesh.request('sleep', { url: 'http://raw:8080/close-on-reuse', method: 'POST', body: 'one' })).status, 200);
    const before = raw.closedUnread;
    const r = await mesh.request('sleep', { url: 'http://raw:8080/close-on-reuse', method: 'POST', headers: { 'content-type': 'application/json' }, body: json });
    assert.equal(raw.closedUnread - before, 1, 'the app closed the reused connection unread');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.text, sha(Buffer.from(json)));
    assert.equal(r.headers['x-devmesh-response-flags'], undefined);
  });

  test('retryOn 5xx: the retried attempt carries the same body to the app', async () => {
    await mesh.push({ virtualServices: [{ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'web' }, spec: { hosts: ['web'], http: [{ route: [{ destination: { host: 'web' } }], retries: { attempts: 2, retryOn: '5xx' } }] } }] });
    web.hits = [];
    const r = await send('web:8080', '/flaky/a', { 'content-type': 'application/json', 'content-length': json.length }, (req) => req.end(json));
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(web.hits.map((h) => [h.url, h.sha, h.bytes]), [['/flaky/a', sha(Buffer.from(json)), json.length], ['/flaky/a', sha(Buffer.from(json)), json.length]]);
    await mesh.push({});
  });

  test('HEAD after requests with a body: no body, and the connection goes on serving', async () => {
    const r = await send('web:8080', '/echo', { 'content-length': 4 }, (req) => req.end('body'));
    assert.equal(r.status, 200);
    const head = await send('web:8080', '/echo', {}, (req) => req.end(), 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.text, '');
    const again = await send('web:8080', '/echo', { 'content-length': 4 }, (req) => req.end('more'));
    assert.equal(JSON.parse(again.text).sha, sha(Buffer.from('more')));
  });
});
