import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { parseXfcc } from '../../../simulator/sidecar/security/xfcc';
import { drain, grpcMesh, say, statusOf, type EchoMessage, type GrpcMesh } from './fixtures';

describe('gRPC calls from an app to a gRPC service port, through both sidecars', () => {
  let m: GrpcMesh;
  before(async () => { m = await grpcMesh(); });
  after(() => m.close());

  test('a unary call goes app -> HTTP/2 entry -> mTLS HTTP/2 -> inbound -> h2c app, and the app sees the caller in XFCC', async () => {
    const client = await m.client();
    const { reply, headers, trailers } = await say(client, { text: 'hello', payload: Buffer.from([0, 1, 2, 255]) }, { 'x-user': 'ana' });
    assert.equal(reply.text, 'hello');
    assert.deepEqual([...reply.payload!], [0, 1, 2, 255]);
    assert.equal(reply.workload, 'ratings-v1');
    assert.equal(reply.metadata!['x-user'], 'ana');
    // Through a local upstream port the client names the port it dialed; the sidecar routes by the port, and forwards the name as written.
    assert.match(reply.metadata![':authority'], /^127\.0\.0\.1:\d+$/);
    const xfcc = parseXfcc(reply.metadata!['x-forwarded-client-cert']);
    assert.equal(xfcc.URI, 'spiffe://cluster.local/ns/default/sa/productpage');
    assert.equal(headers.get('x-served-by')[0], 'ratings-v1');
    assert.equal(trailers.get('x-trailer')[0], 'end');
    assert.equal(m.mesh.sidecars.get('productpage-v1')!.stats.get('upstream_rq_mtls'), 1);
  });

  test('binary metadata (-bin) crosses both sidecars both ways, in the headers and in the trailers', async () => {
    const client = await m.client();
    const { reply, trailers } = await say(client, { text: 'bin' }, { 'x-token-bin': Buffer.from([0, 0xfe, 0x80, 10]) });
    assert.equal(reply.metadata!['x-token-bin'], `b64:${Buffer.from([0, 0xfe, 0x80, 10]).toString('base64')}`);
    assert.deepEqual([...(trailers.get('x-checksum-bin')[0] as Buffer)], [0xde, 0xad, 0xbe, 0xef]);
  });

  test('an error status from the app reaches the caller with its message and binary metadata (trailers-only)', async () => {
    const client = await m.client();
    const s = await statusOf(say(client, { text: 'x' }, { 'fail-with': String(grpc.status.NOT_FOUND) }));
    assert.equal(s.code, grpc.status.NOT_FOUND);
    assert.equal(s.details, 'failed on purpose: ünïcode 100%');
    assert.deepEqual([...(s.metadata!.get('why-bin')[0] as Buffer)], [1, 2, 3, 0xff]);
  });

  test('a server stream delivers every message in order, then the trailers', async () => {
    const client = await m.client();
    const { messages, status } = await drain(client.watch({ count: 500, payload: Buffer.alloc(1000, 7) }));
    assert.equal(status.code, grpc.status.OK);
    assert.deepEqual(messages.map((x) => x.text), Array.from({ length: 500 }, (_, i) => String(i)));
    assert.equal(status.metadata.get('x-trailer')[0], 'end');
  });

  test('a client stream of many messages arrives whole', async () => {
    const client = await m.client();
    const reply = await new Promise<EchoMessage>((resolve, reject) => {
      const call = client.collect(new grpc.Metadata(), {}, (e, r) => (e ? reject(e) : resolve(r!)));
      for (let i = 0; i < 300; i++) call.write({ payload: Buffer.alloc(2000, i) });
      call.end();
    });
    assert.equal(reply.count, 300);
    assert.equal(reply.text, String(300 * 2000));
  });

  test('a bidirectional stream answers each message before the next is sent (no buffering until the end)', async () => {
    const client = await m.client();
    const call = client.chat();
    const replies: string[] = [];
    for (let i = 0; i < 20; i++) {
      call.write({ text: `m${i}` });
      const r = await new Promise<EchoMessage>((resolve) => call.once('data', resolve));
      replies.push(r.text!);
    }
    call.end();
    await new Promise((r) => call.on('status', r));
    assert.deepEqual(replies, Array.from({ length: 20 }, (_, i) => `re: m${i}`));
  });

  test('large messages (16 MiB each way) go through whole', async () => {
    const client = await m.client();
    const big = Buffer.alloc(16 << 20);
    for (let i = 0; i < big.length; i += 4096) big[i] = i % 251;
    const { reply } = await say(client, { payload: big });
    assert.equal(reply.count, big.length);
    assert.ok(Buffer.compare(reply.payload!, big) === 0);
  });

  test('a server stream faster than the client reads is held back by flow control through both sidecars', async () => {
    const client = await m.client();
    const log = m.apps.get('ratings-v1')!;
    // 400 x 64 KiB on offer; the client reads nothing until the app has had to wait.
    const blocked = new Promise<number>((resolve) => log.events.once('blocked', resolve));
    const stream = client.watch({ count: 400, payload: Buffer.alloc(64 * 1024, 1) });
    stream.pause();
    const at = await blocked;
    assert.ok(at < 399, `the app wrote ${at + 1} of 400 messages before it had to wait`);
    stream.resume();
    const { messages, status } = await drain(stream);
    assert.equal(status.code, grpc.status.OK);
    assert.equal(messages.length, 400);
  });

  test('a grpc-js client with grpc_proxy reaches the service by CONNECT with the unresolved name', async () => {
    const client = await m.client({ via: 'connect' });
    const { reply } = await say(client, { text: 'via proxy' });
    assert.equal(reply.text, 'via proxy');
    assert.deepEqual(m.connects, ['ratings:9090']);
    assert.equal(reply.metadata![':authority'], 'ratings:9090');
  });
});
