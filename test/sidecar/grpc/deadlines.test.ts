import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { vs } from '../fixtures';
import { grpcFrame } from '../../../simulator/sidecar/grpc/frames';
import { resetStream } from '../../../simulator/sidecar/upstream/h2Reset';
import { drain, grpcMesh, say, statusOf, type GrpcMesh } from './fixtures';

describe('gRPC deadlines through the mesh', () => {
  let m: GrpcMesh;
  before(async () => { m = await grpcMesh(); });
  after(() => m.close());

  test("the client's deadline reaches the app, and the app's call is cancelled when it passes", async () => {
    const client = await m.client();
    const log = m.apps.get('ratings-v1')!;
    const cancelled = once(log.events, 'cancelled');
    const s = await statusOf(say(client, { text: 'slow' }, { hang: '1' }, { deadline: Date.now() + 300 }));
    assert.equal(s.code, grpc.status.DEADLINE_EXCEEDED);
    await cancelled;
    const call = log.calls.at(-1)!;
    assert.ok(call.deadline !== undefined && call.deadline - call.at <= 300, `the app got a deadline ${call.deadline! - call.at} ms away`);
  });

  test("without a route timeout the sidecar enforces the client's grpc-timeout and tells the callee (x-envoy-expected-rq-timeout-ms)", async () => {
    const client = await m.client();
    const { reply } = await say(client, { text: 'x' }, {}, { deadline: Date.now() + 8000 });
    const expected = Number(reply.metadata!['x-envoy-expected-rq-timeout-ms']);
    assert.ok(expected > 7000 && expected <= 8000, `expected-rq-timeout ${expected}`);
  });

  test('a route timeout caps a longer client deadline: the caller gets UNAVAILABLE "upstream request timeout" (Envoy\'s 504 for gRPC)', async () => {
    await m.mesh.push({ virtualServices: [vs('ratings', { hosts: ['ratings'], http: [{ timeout: '250ms', route: [{ destination: { host: 'ratings' } }] }] })] });
    try {
      const client = await m.client();
      const log = m.apps.get('ratings-v1')!;
      const cancelled = once(log.events, 'cancelled');
      const s = await statusOf(say(client, { text: 'slow' }, { hang: '1' }, { deadline: Date.now() + 30_000 }));
      assert.equal(s.code, grpc.status.UNAVAILABLE);
      assert.equal(s.details, 'upstream request timeout');
      await cancelled;
      const call = log.calls.at(-1)!;
      // The callee was told the capped deadline (a new grpc-timeout), not the client's 30 s.
      assert.ok(call.deadline! - call.at <= 250, `the app got a deadline ${call.deadline! - call.at} ms away`);
      const out = m.mesh.sidecars.get('productpage-v1')!.accessLog.tail().at(-1)!;
      assert.equal(out.response_flags, 'UT');
      assert.equal(out.response_code, 200);
    } finally {
      await m.mesh.push({});
    }
  });
});

describe('gRPC cancellation through the mesh (RST_STREAM both ways)', () => {
  let m: GrpcMesh;
  before(async () => { m = await grpcMesh(); });
  after(() => m.close());

  test('a client that cancels a server stream cancels the call at the app', async () => {
    const client = await m.client();
    const log = m.apps.get('ratings-v1')!;
    const cancelled = once(log.events, 'cancelled');
    const md = new grpc.Metadata();
    md.set('hang', '1');
    md.set('sleep-ms', '5');
    const hanging = client.watch({}, md);
    await once(hanging, 'data');
    hanging.cancel();
    const { status } = await drain(hanging);
    assert.equal(status.code, grpc.status.CANCELLED);
    assert.equal(await cancelled.then(([method]) => method), 'Watch');
  });
});

describe('an app that resets its stream', () => {
  let m: GrpcMesh;
  before(async () => {
    // A raw HTTP/2 server: answers the headers and one message, then RST_STREAM CANCEL (no END_STREAM before it).
    m = await grpcMesh({
      app: async () => {
        const server = http2.createServer();
        server.on('stream', (stream) => {
          stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
          stream.write(grpcFrame(Buffer.from([0x0a, 0x01, 0x30])));
          setImmediate(() => resetStream(stream, http2.constants.NGHTTP2_CANCEL));
        });
        server.listen(0, '127.0.0.1');
        await once(server, 'listening');
        return { port: (server.address() as net.AddressInfo).port, close: () => server.close() };
      },
    });
  });
  after(() => m.close());

  test('the caller sees the reset as CANCELLED, after the message that came before it', async () => {
    const client = await m.client();
    const { messages, status } = await drain(client.watch({ count: 5 }));
    assert.deepEqual(messages.map((x) => x.text), ['0']);
    assert.equal(status.code, grpc.status.CANCELLED);
  });
});
