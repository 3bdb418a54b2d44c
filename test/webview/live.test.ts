/**
 * The feed the page and the extension share (webview/live.ts), on a real
 * control API: a crash on the event stream becomes a notice as it happens,
 * and the topology is fetched again.
 */
import { after, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { ControlClient } from '../../simulator/control/api/client';
import { listenControlApi } from '../../simulator/control/api/server';
import { EventLog } from '../../simulator/control/events';
import { LiveTopology } from '../../webview/live';
import type { HostMessage } from '../../webview/protocol';
import { bookinfo } from './fixtures';
import { TelemetryHub } from '../../simulator/control/telemetry/hub';
import { waitFor } from '../control/helpers';

test('a crash on the event stream reaches the page as a notice naming the workloads it took down', async () => {
  const events = new EventLog();
  let fetched = 0;
  const api = await listenControlApi({
    token: 'live-test-token', events, isReady: () => true, adminPortOf: () => undefined,
    topology: () => { fetched++; return bookinfo(); }, config: () => ({ version: 1, appliedAt: 0, state: 'ok', files: [], lastRejection: null, gatewayApi: { gateways: [], routes: [] } }),
  }, 0);
  const messages: HostMessage[] = [];
  const live = new LiveTopology(new ControlClient(`http://127.0.0.1:${api.port}`, 'live-test-token'), (m) => messages.push(m), { pollMs: 60_000 });
  after(async () => { live.stop(); await api.close(); });
  live.start();
  await waitFor('the first topology', () => messages.some((m) => m.type === 'topology'), 5_000, 10);
  const before = fetched;
  events.record({ type: 'process.crashed', workload: 'sidecars (6)', process: 'sidecar', message: 'sidecars (6) (pid 9) exited (SIGKILL): the sidecars of productpage-v1, details-v1 are down; restarting in 100 ms',
    data: { pid: 9, signal: 'SIGKILL', restartInMs: 100, sidecars: ['productpage-v1', 'details-v1'] } });
  const notice = await waitFor('the notice', () => messages.find((m): m is Extract<HostMessage, { type: 'notice' }> => m.type === 'notice'), 5_000, 10);
  assert.equal(notice.notice.kind, 'crash');
  assert.deepEqual(notice.notice.workloads, ['productpage-v1', 'details-v1']);
  assert.match(notice.notice.message, /exited \(SIGKILL\)/);
  await waitFor('the topology fetched again', () => fetched > before, 5_000, 10);
});

test('an edge\'s details list the rules that sent traffic over it, with their hits on that edge, from the running API', async () => {
  const events = new EventLog();
  const hub = new TelemetryHub({ events, edgesView: () => ({ generatedAt: 0, windowSeconds: 30, edges: [], serviceEdges: [] }) });
  const api = await listenControlApi({
    token: 'live-test-token', events, isReady: () => true, adminPortOf: () => undefined,
    topology: () => bookinfo(), config: () => ({ version: 1, appliedAt: 0, state: 'ok', files: [], lastRejection: null, gatewayApi: { gateways: [], routes: [] } }),
    observability: { hub, metrics: async () => ({ text: '', contentType: 'text/plain' }) },
  }, 0);
  const live = new LiveTopology(new ControlClient(`http://127.0.0.1:${api.port}`, 'live-test-token'), undefined, { pollMs: 60_000 });
  after(async () => { live.stop(); await hub.close(); await api.close(); });
  const sample = (rule: string, peer: string, side: 'source' | 'destination', requests: number, errors = 0) => ({ rule, peer, side, requests, errors, latenciesMs: [5], traces: [] });
  hub.rules.add('productpage-v1', sample('VirtualService/default/reviews/0', 'reviews-v2', 'source', 3));
  hub.rules.add('productpage-v1', sample('VirtualService/default/reviews/1', 'reviews-v1', 'source', 7, 7));
  hub.rules.add('reviews-v2', sample('AuthorizationPolicy/default/reviews-viewer/0', 'productpage-v1', 'destination', 3));
  const d = await live.details({ kind: 'edge', id: 'productpage-v1->reviews-v2' });
  assert.deepEqual(d.rules, [
    { rule: 'AuthorizationPolicy/default/reviews-viewer/0', requests: 3, errorRate: 0 },
    { rule: 'VirtualService/default/reviews/0', requests: 3, errorRate: 0 },
  ]);
  const other = await live.details({ kind: 'edge', id: 'productpage-v1->reviews-v1' });
  assert.deepEqual(other.rules, [{ rule: 'VirtualService/default/reviews/1', requests: 7, errorRate: 1 }]);
  const node = await live.details({ kind: 'node', id: 'reviews-v2' });
  assert.equal(node.rules, undefined, 'a node has no edge rules');
});
