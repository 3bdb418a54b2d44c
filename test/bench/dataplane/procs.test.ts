import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { cpuMsOf, cpuSplitOf } from '../../../bench/dataplane/procs';

/** Busy-loops the calling thread until `ms` of its CPU time have passed. */
function burn(ms: number): void {
  const end = process.cpuUsage().user + ms * 1000;
  while (process.cpuUsage().user < end) { /* spin */ }
}

test('a process\'s CPU split puts main-thread work on the main thread and a worker thread\'s on the others, and adds up to its total', { skip: process.platform !== 'linux' }, async () => {
  const t0 = cpuSplitOf(process.pid);
  burn(300);
  const t1 = cpuSplitOf(process.pid);
  assert.ok(t1.main - t0.main >= 200, `main thread ${t1.main - t0.main} ms after burning 300 ms on it`);
  // A thread of its own (what V8's GC helpers are to the sidecar process) burns next: counted apart from the main thread.
  const worker = new Worker(`const { parentPort } = require('node:worker_threads');
    const end = process.cpuUsage().user + 300000; while (process.cpuUsage().user < end) {}
    parentPort.postMessage('burnt'); parentPort.once('message', () => process.exit(0));`, { eval: true });
  await new Promise((resolve) => worker.once('message', resolve));
  const t2 = cpuSplitOf(process.pid);
  worker.postMessage('exit');
  await new Promise((resolve) => worker.once('exit', resolve));
  assert.ok(t2.helpers - t1.helpers >= 200, `other threads ${t2.helpers - t1.helpers} ms after a worker burned 300 ms`);
  assert.ok(t2.main - t1.main < 200, `main thread ${t2.main - t1.main} ms while it only waited`);
  // Every thread still there is listed: main + others is the process's user + system (to a few ticks).
  assert.ok(Math.abs(t2.main + t2.helpers - (t2.user + t2.system)) <= 50, `threads ${t2.main + t2.helpers} ms, process ${t2.user + t2.system} ms`);
  assert.ok(Math.abs(cpuMsOf(process.pid) - (t2.user + t2.system)) <= 50);
  assert.ok(t2.voluntary >= t0.voluntary && t2.involuntary >= t0.involuntary);
});

test('a process that is gone is "not measured": every figure 0', () => {
  assert.deepEqual(cpuSplitOf(2 ** 22 + 1), { user: 0, system: 0, main: 0, helpers: 0, voluntary: 0, involuntary: 0 });
});
