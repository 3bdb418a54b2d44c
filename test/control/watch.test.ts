import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ReloadQueue, watchPolicies } from '../../simulator/control/watch';
import { waitFor } from './helpers';

test('a burst of saves becomes one reload with every changed policy file, and other files are ignored', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'devmesh-watch-'));
  mkdirSync(path.join(dir, '.devmesh'));
  const calls: string[][] = [];
  // A debounce long enough that a loaded CI machine still delivers the whole burst inside it.
  const w = watchPolicies(dir, async (files) => { calls.push(files.map((f) => path.basename(f)).sort()); }, 250);
  try {
    await w.ready;
    writeFileSync(path.join(dir, 'a.yaml'), 'x: 1\n');
    writeFileSync(path.join(dir, 'b.yml'), 'x: 1\n');
    writeFileSync(path.join(dir, 'a.yaml'), 'x: 2\n');
    writeFileSync(path.join(dir, 'notes.txt'), 'not a policy\n');
    writeFileSync(path.join(dir, '.devmesh', 'session.json'), '{}');
    await waitFor('a reload', () => calls.length > 0, 3_000, 10);
    // A later save is a barrier: the watcher sees events in order, so whatever the burst
    // (or the ignored files) would still cause comes before the barrier's own reload.
    writeFileSync(path.join(dir, 'z.yaml'), 'x: 1\n');
    await waitFor('the barrier\'s reload', () => calls.some((c) => c.includes('z.yaml')), 3_000, 10);
    assert.deepEqual(calls, [['a.yaml', 'b.yml'], ['z.yaml']]);
  } finally { await w.close(); rmSync(dir, { recursive: true, force: true }); }
});

test('files noticed during a running reload make exactly one more, so the last save wins', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const calls: string[][] = [];
  let release: () => void = () => undefined;
  const queue = new ReloadQueue(async (files) => {
    calls.push(files);
    if (calls.length === 1) await new Promise<void>((r) => { release = r; });
  }, 10);
  queue.notice('a.yaml');
  t.mock.timers.tick(10);
  assert.deepEqual(calls, [['a.yaml']]);
  queue.notice('b.yaml');
  t.mock.timers.tick(10);
  queue.notice('c.yaml');
  t.mock.timers.tick(10);
  assert.equal(calls.length, 1, 'no second reload while the first runs');
  release();
  await new Promise<void>((r) => setImmediate(r));
  assert.deepEqual(calls, [['a.yaml'], ['b.yaml', 'c.yaml']]);
});

test('files noticed within the debounce make one reload; a file noticed after it, another', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const calls: string[][] = [];
  const queue = new ReloadQueue(async (files) => { calls.push(files); }, 20);
  queue.notice('a.yaml');
  t.mock.timers.tick(19);
  queue.notice('b.yaml');
  t.mock.timers.tick(19);
  assert.deepEqual(calls, [], 'each notice restarts the debounce');
  t.mock.timers.tick(1);
  assert.deepEqual(calls, [['a.yaml', 'b.yaml']]);
});

test('two saves of one file 10 ms apart both count: the second is not lost to chokidar\'s change throttle', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'devmesh-watch-'));
  const file = path.join(dir, 'a.yaml');
  writeFileSync(file, 'v: 0\n');
  const seen: string[] = [];
  const { readFileSync } = await import('node:fs');
  const w = watchPolicies(dir, async () => { seen.push(readFileSync(file, 'utf8')); }, 5);
  try {
    await w.ready;
    writeFileSync(file, 'v: 1\n');
    await waitFor('the first reload', () => seen.length >= 1, 3_000, 5);
    writeFileSync(file, 'v: 2\n');
    await waitFor('a reload that reads the last save', () => seen.at(-1) === 'v: 2\n', 3_000, 5);
  } finally { await w.close(); rmSync(dir, { recursive: true, force: true }); }
});

test('a reload asked for now waits for the one running, takes what was noticed meanwhile, and never runs beside it', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const calls: string[][] = [];
  let inFlight = 0;
  let most = 0;
  let release: () => void = () => undefined;
  const queue = new ReloadQueue(async (files) => {
    calls.push(files);
    inFlight++;
    most = Math.max(most, inFlight);
    if (calls.length === 1) await new Promise<void>((r) => { release = r; });
    inFlight--;
  }, 10);
  queue.notice('a.yaml');
  t.mock.timers.tick(10);
  queue.notice('b.yaml');
  const asked = queue.now(['c.yaml']);
  t.mock.timers.tick(10);
  assert.deepEqual(calls, [['a.yaml']], 'nothing beside the running reload');
  release();
  await asked;
  assert.deepEqual(calls, [['a.yaml'], ['b.yaml', 'c.yaml']]);
  assert.equal(most, 1);
  await queue.now([]);
  assert.equal(calls.length, 2, 'nothing asked, nothing noticed: no reload');
});
