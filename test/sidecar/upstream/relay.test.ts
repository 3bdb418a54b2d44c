/**
 * The response relay (upstream body -> downstream response): everything
 * arrives, in order, ended (or left open for the caller); a full destination
 * holds the source back; a destination gone mid-body is left alone.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough, Readable, Writable } from 'node:stream';
import { relay } from '../../../simulator/sidecar/upstream/relay';

/** A destination that takes one chunk and then waits until `release` is called for each. */
function heldWritable() {
  const got: string[] = [];
  const waiting: Array<() => void> = [];
  const w = new Writable({
    highWaterMark: 1,
    write(chunk: Buffer, _enc, cb) { got.push(chunk.toString()); waiting.push(cb); },
  });
  return { w, got, release: () => waiting.shift()?.() };
}

describe('response relay', () => {
  test('every chunk arrives in order and the response ends', async () => {
    const got: string[] = [];
    const w = new Writable({ write(chunk: Buffer, _enc, cb) { got.push(chunk.toString()); cb(); } });
    relay(Readable.from(['a', 'b', 'c'].map((s) => Buffer.from(s))), w);
    await once(w, 'finish');
    assert.deepEqual(got, ['a', 'b', 'c']);
  });

  test('a full destination pauses the source until it drains', async () => {
    const body = new PassThrough();
    const { w, got, release } = heldWritable();
    relay(body, w);
    body.write('1');
    body.write('2');
    body.end();
    await new Promise((r) => setImmediate(r));
    assert.equal(body.isPaused(), true, 'the source waits while the destination is full');
    assert.deepEqual(got, ['1']);
    release();
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(got, ['1', '2']);
    release();
    await once(w, 'finish');
  });

  test('without end, the destination stays open for the caller to finish', async () => {
    const got: string[] = [];
    const w = new Writable({ write(chunk: Buffer, _enc, cb) { got.push(chunk.toString()); cb(); } });
    const body = Readable.from(['a', 'b'].map((x) => Buffer.from(x)));
    relay(body, w, false);
    await once(body, 'end');
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(got, ['a', 'b']);
    assert.equal(w.writableEnded, false);
  });

  test('a destination destroyed mid-body takes no more writes and nothing throws', async () => {
    const body = new PassThrough();
    const { w, got } = heldWritable();
    relay(body, w);
    body.write('1');
    await new Promise((r) => setImmediate(r));
    w.destroy();
    body.write('2');
    body.end();
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(got, ['1']);
  });

  test('a slow HTTP client gets a large body whole', async () => {
    const size = 8 * 1024 * 1024;
    let serverRes: http.ServerResponse | undefined;
    const server = http.createServer((_req, res) => {
      serverRes = res;
      res.writeHead(200, { 'content-length': String(size) });
      relay(Readable.from((function* () { for (let i = 0; i < size / 65536; i++) yield Buffer.alloc(65536, i % 251); })()), res);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const res = await new Promise<http.IncomingMessage>((r) => http.get({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, agent: false }, r));
      res.pause();
      // The client reads nothing until the server's response is full and waits for 'drain'.
      while (!serverRes?.writableNeedDrain) await new Promise((r) => setImmediate(r));
      let bytes = 0;
      let ok = true;
      res.on('data', (c: Buffer) => { if (c[0] !== Math.floor(bytes / 65536) % 251) ok = false; bytes += c.length; });
      res.resume();
      await once(res, 'end');
      assert.equal(bytes, size);
      assert.ok(ok, 'bytes arrive in order');
    } finally {
      server.close();
    }
  });
});
