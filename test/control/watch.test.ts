import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { watchPolicies } from '../../simulator/control/watch';
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
    await new Promise((r) => setTimeout(r, 400));
    assert.deepEqual(calls, [['a.yaml', 'b.yml']]);
  } finally { await w.close(); rmSync(dir, { recursive: true, force: true }); }
});

test('saves during a running reload trigger exactly one more reload, so the last save wins', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'devmesh-watch-'));
  const calls: string[][] = [];
  let release: () => void = () => undefined;
  const w = watchPolicies(dir, async (files) => {
    calls.push(files.map((f) => path.basename(f)));
    if (calls.length === 1) await new Promise<void>((r) => { release = r; });
  }, 10);
  try {
    await w.ready;
    writeFileSync(path.join(dir, 'a.yaml'), 'x: 1\n');
    await waitFor('the first reload to start', () => calls.length === 1, 3_000, 10);
    writeFileSync(path.join(dir, 'b.yaml'), 'x: 1\n');
    await new Promise((r) => setTimeout(r, 100));
    writeFileSync(path.join(dir, 'c.yaml'), 'x: 1\n');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(calls.length, 1, 'no second reload while the first runs');
    release();
    await waitFor('the follow-up reload', () => calls.length === 2, 3_000, 10);
    assert.deepEqual(calls[1].sort(), ['b.yaml', 'c.yaml']);
  } finally { await w.close(); rmSync(dir, { recursive: true, force: true }); }
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
