import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { backoffDelay, Supervised } from '../../simulator/control/supervisor';
import { EventLog } from '../../simulator/control/events';
import { waitFor, within } from './helpers';

const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };

test('backoff doubles from the initial delay and stops at the cap', () => {
  const p = { initialMs: 100, maxMs: 1_000, resetAfterMs: 10_000 };
  assert.deepEqual([0, 1, 2, 3, 4, 10, 100].map((n) => backoffDelay(n, p)), [100, 200, 400, 800, 1_000, 1_000, 1_000]);
});

test('a child that crashes is restarted with backoff and each step is recorded', async () => {
  const events = new EventLog();
  const sup = new Supervised({
    workload: 'w', process: 'app', events, backoff: { initialMs: 20, maxMs: 40, resetAfterMs: 60_000 },
    spawn: () => spawn(process.execPath, ['-e', 'process.exit(3)'], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] }),
  });
  sup.start();
  const deadline = Date.now() + 5_000;
  while (sup.restarts < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  await sup.stop(500);
  assert.ok(sup.restarts >= 3, `restarted ${sup.restarts} times`);
  const types = events.recent().map((e) => e.type);
  assert.equal(types[0], 'process.started');
  assert.ok(types.includes('process.crashed') && types.includes('process.restarted'));
  const crash = events.recent().find((e) => e.type === 'process.crashed')!;
  assert.match(crash.message, /exited \(code 3\); restarting in 20 ms/);
});

test('stop kills the whole process group, grandchildren included, and does not restart', async () => {
  const events = new EventLog();
  // A shell that starts a grandchild and prints its pid, like `npm start` running node.
  const sup = new Supervised({
    workload: 'w', process: 'app', events,
    spawn: () => spawn('/bin/sh', ['-c', `${JSON.stringify(process.execPath)} -e "setInterval(()=>{},1000)" & echo $!; wait`], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] }),
  });
  let grandchild = 0;
  const gotPid = new Promise<void>((resolve) => {
    (sup as unknown as { opts: { onOutput: (l: string) => void } }).opts.onOutput = (l) => { grandchild = Number(l); resolve(); };
  });
  sup.start();
  await within(gotPid, 3_000, "the grandchild pid").catch(() => undefined);
  assert.ok(grandchild > 0 && alive(grandchild), 'grandchild runs');
  const leader = sup.pid!;
  await sup.stop(1_000);
  const deadline = Date.now() + 2_000;
  while ((alive(grandchild) || alive(leader)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(alive(grandchild), false, 'grandchild is gone');
  assert.equal(alive(leader), false, 'leader is gone');
  assert.equal(sup.restartPending, false, 'no restart is waiting to happen');
  assert.equal(sup.restarts, 0);
});

test('the last lines of output are kept for error messages', async () => {
  const sup = new Supervised({
    workload: 'w', process: 'app', events: new EventLog(),
    spawn: () => spawn(process.execPath, ['-e', 'console.error("Error: listen EACCES"); process.exit(1)'], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] }),
  });
  sup.start();
  await sup.nextExit();
  await sup.stop(100);
  // The exit can come before the last output is read.
  await waitFor('the error line in the tail', () => sup.tail.includes('Error: listen EACCES'), 3_000, 10).catch(() => undefined);
  assert.ok(sup.tail.includes('Error: listen EACCES'), sup.tail.join('|'));
});
