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
