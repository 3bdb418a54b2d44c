import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { grpcMesh, say, upstreamPort, type GrpcMesh } from './fixtures';

/** Writes `bytes` on a new connection to `port` and returns everything the other side sent before it closed. */
async function exchangeRaw(port: number, bytes: Buffer | string): Promise<string> {
  const socket = net.connect({ host: '127.0.0.1', port });
  await once(socket, 'connect');
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.on('error', () => undefined);
  socket.write(bytes);
  await once(socket, 'close');
  return Buffer.concat(chunks).toString('latin1');
}

describe("bad input on a gRPC port's entry: a clean end for that connection, nothing else affected", () => {
  let m: GrpcMesh;
  let port: number;
  let close: () => void;
  before(async () => {
    m = await grpcMesh();
    ({ port, close } = await upstreamPort(m.mesh.sidecars.get('productpage-v1')!, { host: 'ratings', port: 9090 }));
  });
  after(async () => { close(); await m.close(); });

  test('an HTTP/1.1 request gets 505 saying the port speaks HTTP/2 and how to reach it, then the connection closes', async () => {
    const client = await m.client();
    await say(client, { text: 'before' });
    const answer = await exchangeRaw(port, 'GET /ratings/1 HTTP/1.1\r\nHost: ratings:9090\r\n\r\n');
    assert.match(answer, /^HTTP\/1\.1 505 /);
    assert.match(answer, /x-devmesh-proxy-error: http1-on-http2-port/);
    assert.match(answer, /ratings\.default\.svc\.cluster\.local:9090 is a gRPC\/HTTP\/2 port/);
    assert.match(answer, /proxy form/);
    // The gRPC client's own connection was never touched.
    const { reply } = await say(client, { text: 'after' });
    assert.equal(reply.text, 'after');
    assert.equal(m.mesh.sidecars.get('productpage-v1')!.stats.get('http2_entry.cx_http1_refused'), 1);
  });

  test('bytes that are neither HTTP/2 nor HTTP/1 close that connection', async () => {
    assert.equal(await exchangeRaw(port, Buffer.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])), '');
    assert.equal(m.mesh.sidecars.get('productpage-v1')!.stats.get('http2_entry.cx_garbage_refused'), 1);
  });

  test('a client that starts TLS inside is closed (the mesh adds mTLS; the app speaks plaintext to its sidecar)', async () => {
    const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
    const [err] = await Promise.race([once(socket, 'error'), once(socket, 'close').then(() => [undefined])]);
    assert.ok(err === undefined || /socket disconnected|ECONNRESET/.test((err as Error).message), String(err));
    assert.equal(m.mesh.sidecars.get('productpage-v1')!.stats.get('http2_entry.cx_tls_refused'), 1);
  });

  test('a connection that starts the HTTP/2 preface and then breaks the framing ends only itself', async () => {
    const client = await m.client();
    await exchangeRaw(port, Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), Buffer.alloc(30, 0xff)]));
    const { reply } = await say(client, { text: 'still here' });
    assert.equal(reply.text, 'still here');
  });
});
