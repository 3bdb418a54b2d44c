/**
 * An ended exchange's metrics, span, edge and rule counters are recorded
 * after the I/O the event loop has next (telemetry.ts `exchange`): in a
 * process holding both sidecars of a call, the caller's sidecar reads the
 * response and writes it to its app before the callee's sidecar records its
 * half (issue 19, latency at a low rate). Whoever reads what they record
 * still sees every exchange that ended before the read.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { AccessLog } from '../../simulator/sidecar/accessLog';
import { SidecarTelemetry } from '../../simulator/sidecar/telemetry';
import type { Exchange } from '../../simulator/sidecar/downstream';
import type { RequestContext } from '../../simulator/sidecar/context';
import { callee, ctxOf, T } from './exchanges';

const plan = { kind: 'forward', host: 'reviews.default.svc.cluster.local', port: 9080, subset: 'v2', routeName: 'reviews', origin: { kind: 'VirtualService', namespace: 'default', name: 'reviews', rule: 0 } } as unknown as RequestContext['plan'];
const exchange = (): Exchange => ({ ctx: ctxOf({ plan, endpoint: callee.self ?? undefined, policy: {}, observed: { span: { traceId: T, spanId: 'aaaaaaaaaaaaaaaa', start: 1 } } }), status: 200, durationMs: 1, aborted: false });

describe('telemetry of an ended exchange', () => {
  test('is recorded after socket data that was already waiting when the exchange ended', async () => {
    const order: string[] = [];
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
    const client = net.connect((server.address() as AddressInfo).port, '127.0.0.1');
    await new Promise((r) => client.once('connect', r));
    const peer = await accepted;
    const t = new SidecarTelemetry({ name: 'x' });
    try {
      const record = t.metrics.record.bind(t.metrics);
      t.metrics.record = (...args: Parameters<typeof record>) => { order.push('recorded'); record(...args); };
      const log = new AccessLog(undefined);
      const read = new Promise<void>((r) => peer.once('data', () => { order.push('read'); r(); }));
      // As a sidecar's last HTTP/2 frame goes out: the peer's bytes are in the kernel as the exchange ends, in the check phase.
      setImmediate(() => {
        client.write('response');
        const e = exchange();
        t.exchange('outbound', e, log.record('outbound', e));
      });
      await read;
      await new Promise((r) => setImmediate(() => setImmediate(r)));
      assert.deepEqual(order, ['read', 'recorded']);
    } finally {
      t.close();
      client.destroy();
      peer.destroy();
      server.close();
    }
  });

  test('is in every read made right after it ended: rule totals, metrics, the batch', async () => {
    let sent: { spanRows: unknown[] } | undefined;
    const t = new SidecarTelemetry({ name: 'x', send: (b) => { sent = b as unknown as { spanRows: unknown[] }; } });
    const log = new AccessLog(undefined);
    const e = exchange();
    t.exchange('outbound', e, log.record('outbound', e));
    assert.equal(t.ruleTotals.get('VirtualService/default/reviews/0')?.requests, 1);
    t.exchange('outbound', e, log.record('outbound', e));
    assert.match(await t.metrics.text(), /istio_requests_total\{[^}]*destination_workload="reviews-v2"[^}]*\} 2/);
    t.exchange('outbound', e, log.record('outbound', e));
    t.flush();
    assert.equal(sent?.spanRows.length, 3);
    t.close();
  });
});
