import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { expandBatch, isTelemetryBatch, type EdgeSample } from '../../../simulator/telemetry-protocol';
import type { SpanRecord } from '../../../simulator/control/api/contract';
import { parseText, formatText } from '../../../simulator/sidecar/accessLog';
import type { SidecarMessage } from '../../../simulator/protocol';
import { drain, grpcMesh, say, statusOf, type GrpcMesh } from './fixtures';

/** The sample lines of one metric whose labels include all of `labels`. */
function series(text: string, metric: string, labels: Record<string, string>): number[] {
  return text.split('\n').filter((l) => l.startsWith(`${metric}{`) && Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`))).map((l) => Number(l.slice(l.lastIndexOf(' ') + 1)));
}

describe('telemetry of gRPC calls', () => {
  let m: GrpcMesh;
  const spans: SpanRecord[] = [];
  const edges: EdgeSample[] = [];
  before(async () => {
    m = await grpcMesh({
      sidecar: {
        send: (msg: SidecarMessage) => {
          if (msg.type !== 'telemetry' || !isTelemetryBatch(msg.data)) return;
          const b = expandBatch(msg.data);
          spans.push(...b.spans);
          edges.push(...b.edges);
        },
      },
    });
    const client = await m.client();
    await say(client, { text: 'ok' });
    await statusOf(say(client, { text: 'bad' }, { 'fail-with': String(grpc.status.INTERNAL) }));
    await drain(client.watch({ count: 5 }));
    await new Promise<void>((resolve, reject) => {
      const c = client.collect(new grpc.Metadata(), {}, (e) => (e ? reject(e) : resolve()));
      for (let i = 0; i < 7; i++) c.write({ text: String(i) });
      c.end();
    });
    for (const s of m.mesh.sidecars.values()) s.telemetry.flush();
  });
  after(() => m.close());

  test('istio_requests_total says grpc, HTTP 200 and the gRPC status, at both reporters', async () => {
    for (const [w, reporter] of [['productpage-v1', 'source'], ['ratings-v1', 'destination']] as const) {
      const text = await m.mesh.sidecars.get(w)!.telemetry.metrics.text();
      const base = { reporter, request_protocol: 'grpc', response_code: '200', destination_service: 'ratings.default.svc.cluster.local' };
      assert.deepEqual(series(text, 'istio_requests_total', { ...base, grpc_response_status: '0' }), [3], `${w} OK calls`);
      assert.deepEqual(series(text, 'istio_requests_total', { ...base, grpc_response_status: '13' }), [1], `${w} INTERNAL calls`);
    }
  });

  test('istio_request_messages_total and istio_response_messages_total count the messages of streams', async () => {
    const text = await m.mesh.sidecars.get('productpage-v1')!.telemetry.metrics.text();
    const ok = { reporter: 'source', grpc_response_status: '0' };
    // Say (1 -> 1), Watch (1 -> 5), Collect (7 -> 1); the failed Say sent one message and got none.
    assert.deepEqual(series(text, 'istio_request_messages_total', ok), [9]);
    assert.deepEqual(series(text, 'istio_response_messages_total', ok), [7]);
    assert.deepEqual(series(text, 'istio_request_messages_total', { reporter: 'source', grpc_response_status: '13' }), [1]);
    assert.deepEqual(series(text, 'istio_response_messages_total', { reporter: 'source', grpc_response_status: '13' }), [0]);
  });

  test('spans carry rpc.system, rpc.service, rpc.method and the status; a failed call is an error span', () => {
    const client = spans.filter((s) => s.kind === 'client' && s.attributes['rpc.method'] === 'Say');
    assert.equal(client.length, 2);
    const [ok, bad] = [client.find((s) => s.attributes['rpc.grpc.status_code'] === 0)!, client.find((s) => s.attributes['rpc.grpc.status_code'] === 13)!];
    assert.equal(ok.attributes['rpc.system'], 'grpc');
    assert.equal(ok.attributes['rpc.service'], 'devmesh.test.Echo');
    assert.equal(ok.error, false);
    assert.equal(bad.error, true);
    assert.equal(bad.attributes['http.status_code'], 200);
    const server = spans.find((s) => s.kind === 'server' && s.attributes['rpc.method'] === 'Watch')!;
    assert.equal(server.attributes['rpc.grpc.status_code'], 0);
  });

  test('access-log lines end with the gRPC status by name, in text and JSON', () => {
    const tail = m.mesh.sidecars.get('productpage-v1')!.accessLog.tail();
    assert.deepEqual(tail.map((e) => e.grpc_status), ['OK', 'INTERNAL', 'OK', 'OK']);
    const line = formatText(tail[1]);
    assert.match(line, /"POST \/devmesh\.test\.Echo\/Say HTTP\/2\.0" 200 .* INTERNAL$/);
    assert.equal(parseText(line)?.grpc_status, 'INTERNAL');
    assert.equal(JSON.parse(JSON.stringify(tail[1])).grpc_status, 'INTERNAL');
  });

  test('the topology edge says gRPC and counts a non-OK status as an error', () => {
    const grpcEdges = edges.filter((e) => e.service === 'ratings');
    assert.deepEqual([...new Set(grpcEdges.map((e) => e.protocol))], ['grpc']);
    assert.equal(grpcEdges.reduce((n, e) => n + e.requests, 0), 4);
    assert.equal(grpcEdges.reduce((n, e) => n + e.errors, 0), 1);
  });
});
