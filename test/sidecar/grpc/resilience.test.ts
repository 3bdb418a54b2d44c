import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { dr, vs } from '../fixtures';
import { grpcFrame } from '../../../simulator/sidecar/grpc/frames';
import { drain, grpcMesh, say, statusOf, upstreamPort, type GrpcMesh } from './fixtures';

/** Metadata for a call, as the app reads it. */
const metadata = (md: Record<string, string>) => {
  const m = new grpc.Metadata();
  for (const [k, v] of Object.entries(md)) m.set(k, v);
  return m;
};

const ratingsVs = (rule: Record<string, unknown>) => vs('ratings', { hosts: ['ratings'], http: [{ ...rule, route: [{ destination: { host: 'ratings' } }] }] });

/** One raw HTTP/2 call through an upstream port: how its response arrived, frame by frame. */
async function rawCall(port: number): Promise<{ status: number; headers: http2.IncomingHttpHeaders; endStreamOnHeaders: boolean }> {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  try {
    const stream = session.request({ ':method': 'POST', ':path': '/devmesh.test.Echo/Say', 'content-type': 'application/grpc', te: 'trailers' });
    stream.end(grpcFrame(Buffer.alloc(0)));
    const [headers, flags] = await new Promise<[http2.IncomingHttpHeaders, number]>((resolve) => stream.once('response', (h, f) => resolve([h, f])));
    stream.resume();
    return { status: Number(headers[':status']), headers, endStreamOnHeaders: (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0 };
  } finally {
    session.close();
  }
}

describe('gRPC faults', () => {
  let m: GrpcMesh;
  before(async () => { m = await grpcMesh(); });
  after(() => m.close());

  test('abort.grpcStatus UNAVAILABLE answers a trailers-only gRPC status at the caller side; the app never sees the call', async () => {
    await m.mesh.push({ virtualServices: [ratingsVs({ fault: { abort: { grpcStatus: 'UNAVAILABLE', percentage: { value: 100 } } } })] });
    const calls = m.apps.get('ratings-v1')!.calls.length;
    const s = await statusOf(say(await m.client(), { text: 'x' }));
    assert.equal(s.code, grpc.status.UNAVAILABLE);
    assert.equal(s.details, 'fault filter abort');
    assert.equal(m.apps.get('ratings-v1')!.calls.length, calls);
    const log = m.mesh.sidecars.get('productpage-v1')!.accessLog.tail().at(-1)!;
    assert.equal(log.response_flags, 'FI');
    assert.equal(log.response_code, 200);
    // One HEADERS frame with END_STREAM: what a trailers-only response is on the wire.
    const local = await upstreamPort(m.mesh.sidecars.get('productpage-v1')!, { host: 'ratings', port: 9090 });
    try {
      const raw = await rawCall(local.port);
      assert.equal(raw.status, 200);
      assert.equal(raw.headers['grpc-status'], '14');
      assert.ok(raw.endStreamOnHeaders);
    } finally {
      local.close();
    }
  });

  test('abort.httpStatus on a gRPC call is answered as a gRPC status (Envoy maps 503 to UNAVAILABLE, 403 to PERMISSION_DENIED)', async () => {
    for (const [http, code] of [[503, grpc.status.UNAVAILABLE], [403, grpc.status.PERMISSION_DENIED], [404, grpc.status.UNIMPLEMENTED], [418, grpc.status.UNKNOWN]] as const) {
      await m.mesh.push({ virtualServices: [ratingsVs({ fault: { abort: { httpStatus: http, percentage: { value: 100 } } } })] });
      const s = await statusOf(say(await m.client(), { text: 'x' }));
      assert.equal(s.code, code, `httpStatus ${http}`);
    }
  });

  test('a delay holds the call, which then succeeds (flag DI)', async () => {
    await m.mesh.push({ virtualServices: [ratingsVs({ fault: { delay: { fixedDelay: '150ms', percentage: { value: 100 } } } })] });
    const { reply } = await say(await m.client(), { text: 'late' });
    assert.equal(reply.text, 'late');
    assert.equal(m.mesh.sidecars.get('productpage-v1')!.accessLog.tail().at(-1)!.response_flags, 'DI');
  });
});

// A stream test that would hang on a regression (a status never written) fails at its timeout instead.
describe('gRPC retries', () => {
  let m: GrpcMesh;
  before(async () => {
    m = await grpcMesh({ workloads: ['ratings-v1', 'ratings-v2'], policies: { destinationRules: [dr('ratings', { host: 'ratings', trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' } } })] } });
  });
  after(() => m.close());

  test("Istio's default policy retries UNAVAILABLE on another host: every call succeeds while v1 fails them all", async () => {
    await m.mesh.push({ destinationRules: [dr('ratings', { host: 'ratings', trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' } } })] });
    const client = await m.client();
    for (let i = 0; i < 6; i++) {
      const { reply } = await say(client, { text: String(i) }, { 'fail-with': String(grpc.status.UNAVAILABLE), 'only-on': 'ratings-v1' });
      assert.equal(reply.workload, 'ratings-v2');
    }
    const stats = m.mesh.sidecars.get('productpage-v1')!.stats;
    assert.ok(stats.get('upstream_rq_retry') >= 3, `retries: ${stats.get('upstream_rq_retry')}`);
    const retried = m.apps.get('ratings-v2')!.calls.filter((c) => c.metadata['x-envoy-attempt-count'] === '2');
    assert.ok(retried.length >= 3);
  });

  test('INTERNAL is not in the default policy: it reaches the caller after one try', async () => {
    const client = await m.client();
    const before = m.mesh.sidecars.get('productpage-v1')!.stats.get('upstream_rq_retry');
    const s = await statusOf(say(client, { text: 'x' }, { 'fail-with': String(grpc.status.INTERNAL) }));
    assert.equal(s.code, grpc.status.INTERNAL);
    assert.equal(m.mesh.sidecars.get('productpage-v1')!.stats.get('upstream_rq_retry'), before);
  });

  for (const [condition, code] of [['internal', grpc.status.INTERNAL], ['resource-exhausted', grpc.status.RESOURCE_EXHAUSTED], ['deadline-exceeded', grpc.status.DEADLINE_EXCEEDED], ['cancelled', grpc.status.CANCELLED]] as const) {
    test(`retryOn ${condition} retries a ${grpc.status[code]} answer`, async () => {
      await m.mesh.push({
        destinationRules: [dr('ratings', { host: 'ratings', trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' } } })],
        virtualServices: [ratingsVs({ retries: { attempts: 2, retryOn: condition } })],
      });
      const client = await m.client();
      for (let i = 0; i < 4; i++) {
        const { reply } = await say(client, { text: String(i) }, { 'fail-with': String(code), 'only-on': 'ratings-v1' });
        assert.equal(reply.workload, 'ratings-v2');
      }
    });
  }

  test('retries exhausted: the last gRPC status goes to the caller, flag URX', async () => {
    await m.mesh.push({ virtualServices: [ratingsVs({ retries: { attempts: 2, retryOn: 'unavailable' } })] });
    const s = await statusOf(say(await m.client(), { text: 'x' }, { 'fail-with': String(grpc.status.UNAVAILABLE) }));
    assert.equal(s.code, grpc.status.UNAVAILABLE);
    assert.equal(s.details, 'failed on purpose: ünïcode 100%');
    assert.equal(m.mesh.sidecars.get('productpage-v1')!.accessLog.tail().at(-1)!.response_flags, 'URX');
  });

  test("a server stream answered UNAVAILABLE before any message (trailers-only) is retried on the other host, by retryOn unavailable or Istio's default policy: the caller gets the whole stream", { timeout: 30_000 }, async () => {
    for (const virtualServices of [[ratingsVs({ retries: { attempts: 2, retryOn: 'unavailable' } })], []]) {
      await m.mesh.push({ destinationRules: [dr('ratings', { host: 'ratings', trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' } } })], virtualServices });
      const client = await m.client();
      const retried = () => m.apps.get('ratings-v2')!.calls.filter((c) => c.method === 'Watch' && c.metadata['x-envoy-attempt-count'] === '2').length;
      const before = retried();
      for (let i = 0; i < 4; i++) {
        const { messages, status } = await drain(client.watch({ text: 'w', count: 3 }, metadata({ 'fail-with': String(grpc.status.UNAVAILABLE), 'only-on': 'ratings-v1' })));
        assert.equal(status.code, grpc.status.OK, status.details);
        assert.deepEqual(messages.map((x) => x.workload), ['ratings-v2', 'ratings-v2', 'ratings-v2']);
      }
      assert.ok(retried() > before, 'some stream was tried on v1 first');
    }
  });

  test('a server stream UNAVAILABLE on every try reaches the caller with its status after 1 + attempts tries, flag URX', { timeout: 30_000 }, async () => {
    await m.mesh.push({ virtualServices: [ratingsVs({ retries: { attempts: 2, retryOn: 'unavailable' } })] });
    const tries = () => [...m.apps.values()].reduce((n, a) => n + a.calls.filter((c) => c.method === 'Watch').length, 0);
    const before = tries();
    const { messages, status } = await drain((await m.client()).watch({ text: 'w', count: 3 }, metadata({ 'fail-with': String(grpc.status.UNAVAILABLE) })));
    assert.equal(status.code, grpc.status.UNAVAILABLE);
    assert.equal(status.details, 'failed on purpose: ünïcode 100%');
    assert.deepEqual(messages, []);
    assert.equal(tries() - before, 3);
    assert.equal(m.mesh.sidecars.get('productpage-v1')!.accessLog.tail().at(-1)!.response_flags, 'URX');
  });

  test('a server stream that fails UNAVAILABLE after its headers and a message went downstream is not retried: the caller gets both', { timeout: 30_000 }, async () => {
    await m.mesh.push({ virtualServices: [ratingsVs({ retries: { attempts: 2, retryOn: 'unavailable' } })] });
    const retries = m.mesh.sidecars.get('productpage-v1')!.stats.get('upstream_rq_retry');
    const { messages, status } = await drain((await m.client()).watch({ text: 'w', count: 3 }, metadata({ 'fail-with': String(grpc.status.UNAVAILABLE), 'fail-after': '1' })));
    assert.equal(status.code, grpc.status.UNAVAILABLE);
    assert.equal(status.details, 'failed on purpose: ünïcode 100%');
    assert.equal(messages.length, 1);
    assert.equal(m.mesh.sidecars.get('productpage-v1')!.stats.get('upstream_rq_retry'), retries);
  });

  test('perTryTimeout cuts a hanging try and retries on the other host, which learns the per-try deadline', async () => {
    await m.mesh.push({
      destinationRules: [dr('ratings', { host: 'ratings', trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' } } })],
      // The per-try timeout bounds the answering try too: it is wide enough for a call through two sidecars on a
      // loaded machine (200 ms was not, at a load of 11), and still a tenth of the client's deadline.
      virtualServices: [ratingsVs({ retries: { attempts: 2, perTryTimeout: '2s', retryOn: 'unavailable,reset' } })],
    });
    const client = await m.client();
    const stats = m.mesh.sidecars.get('productpage-v1')!.stats;
    const cut = stats.get('upstream_rq_per_try_timeout');
    // Round robin over two hosts: one of two calls starts on v1.
    for (let i = 0; i < 2 && stats.get('upstream_rq_per_try_timeout') === cut; i++) {
      const { reply } = await say(client, { text: String(i) }, { hang: '1', 'only-on': 'ratings-v1' }, { deadline: Date.now() + 20_000 });
      assert.equal(reply.workload, 'ratings-v2');
    }
    assert.equal(stats.get('upstream_rq_per_try_timeout'), cut + 1);
    const last = m.apps.get('ratings-v2')!.calls.at(-1)!;
    assert.equal(last.metadata['x-envoy-attempt-count'], '2');
    assert.ok(last.deadline! - last.at <= 2000, `v2 got a deadline ${last.deadline! - last.at} ms away`);
  });
});
