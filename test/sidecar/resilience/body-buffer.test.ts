import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { PassThrough, type Readable } from 'node:stream';
import { ReplayableBody, replayableBody } from '../../../simulator/sidecar/resilience/bodyBuffer';

const readAll = async (s: Readable) => {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  return Buffer.concat(parts).toString();
};

/** A request body as a server sees it: bytes already written, the end still to come from the caller. */
function requestBody(...chunks: string[]): PassThrough {
  const src = new PassThrough();
  for (const c of chunks) src.write(c);
  src.end();
  return src;
}

describe('the replay buffer of a request body', () => {
  test('the first attempt streams the request itself, and what it read is kept for a replay', async () => {
    const src = requestBody('hello ', 'world');
    const body = new ReplayableBody(src);
    const live = body.takeLive();
    assert.equal(live, src, 'no stream in between for the first attempt');
    assert.equal(await readAll(live), 'hello world');
    assert.equal(body.replayable, true);
    assert.equal(await readAll(body.replay()!), 'hello world');
    assert.equal(await readAll(body.takeLive()), 'hello world', 'a second takeLive is a replay');
  });

  test('keeping a copy does not start the flow: nothing is read until the first attempt reads', () => {
    const src = requestBody('abc');
    const body = new ReplayableBody(src);
    assert.equal(src.readableFlowing, false);
    assert.equal(src.readableLength, 3, 'the bytes wait in the request');
    assert.equal(body.replayable, false);
  });

  test('a body over the limit streams in full but cannot be replayed', async () => {
    const body = new ReplayableBody(requestBody('x'.repeat(10), 'y'.repeat(10)), 15);
    assert.equal(await readAll(body.takeLive()), 'x'.repeat(10) + 'y'.repeat(10));
    assert.equal(body.tooLarge, true);
    assert.equal(body.replay(), undefined);
    assert.equal(await body.complete(), undefined);
  });

  test('complete() with no live reader drains the body into the buffer', async () => {
    assert.equal((await replayableBody(requestBody('abc')).complete())?.toString(), 'abc');
  });

  test('complete() asked for while the body still arrives resolves with all of it once the body ends', async () => {
    // The buffer keeps no whole copy until someone asks (a mirror's complete(), a retry's replay): the ask must still be answered.
    const src = new PassThrough();
    const body = new ReplayableBody(src);
    const whole = body.complete();
    src.write('abc');
    src.end('def');
    assert.equal((await whole)?.toString(), 'abcdef');
    assert.equal(await readAll(body.replay()!), 'abcdef');
    assert.equal(await readAll(body.replay()!), 'abcdef', 'every replay is the whole body');
  });

  test('tee hands on a stream of its own, so a buffer behind it (retry behind mirror) keeps its own copy', async () => {
    const src = requestBody('abc', 'def');
    const mirrorBuffer = replayableBody(src);
    const copy = mirrorBuffer.tee();
    assert.notEqual(copy, src);
    const retryBuffer = replayableBody(copy);
    assert.notEqual(retryBuffer, mirrorBuffer);
    assert.equal(await readAll(retryBuffer.takeLive()), 'abcdef');
    assert.equal((await mirrorBuffer.complete())?.toString(), 'abcdef');
    assert.equal(await readAll(retryBuffer.replay()!), 'abcdef');
  });

  test('an HTTP/2 request whose HEADERS frame ended the stream is a whole, empty body before anyone reads it', async () => {
    // Nobody pipes such a request upstream (no body to send), so it would never be read to its 'end':
    // without this a body-less HTTP/2 request could never be retried. The body is the server's stream, as the sidecars serve it.
    const server = http2.createServer();
    const seen = new Promise<{ replayable: boolean; complete: string | undefined }>((resolve) => server.on('stream', (stream) => {
      const body = replayableBody(stream);
      const replayable = body.replayable;
      void body.complete().then((b) => {
        resolve({ replayable, complete: b?.toString() });
        stream.respond({ ':status': 200 }, { endStream: true });
      });
    }));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const client = http2.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    try {
      const req = client.request({ ':path': '/x' }, { endStream: true });
      req.resume();
      const closed = new Promise((r) => req.once('close', r));
      assert.deepEqual(await seen, { replayable: true, complete: '' });
      await closed;
    } finally {
      client.close();
      server.close();
    }
  });
});
