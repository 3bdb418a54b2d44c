import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { summarize, type GcSummary } from '../../../bench/dataplane/gcProbe';

const spaces = (newUsed: number, oldUsed: number, semi = 4 << 20) => [
  { spaceName: 'new_space', spaceUsedSize: newUsed, spaceSize: semi },
  { spaceName: 'new_large_object_space', spaceUsedSize: 0, spaceSize: 0 },
  { spaceName: 'old_space', spaceUsedSize: oldUsed, spaceSize: 0 },
  { spaceName: 'large_object_space', spaceUsedSize: 0, spaceSize: 0 },
];
const gc = (gcType: string, costUs: number, before: [number, number], after: [number, number]) =>
  ({ gcType, cost: costUs, beforeGC: { heapSpaceStatistics: spaces(...before) }, afterGC: { heapSpaceStatistics: spaces(...after) } });

test('the GC summary counts each kind with its pause, and what the scavenges found alive and promoted', () => {
  const s: GcSummary = summarize([
    gc('Scavenge', 1500, [4000, 10_000], [300, 10_200]),
    gc('Scavenge', 500, [4100, 10_200], [400, 10_500]),
    gc('MarkSweepCompact', 8000, [1000, 10_500], [1000, 7000]),
  ]);
  assert.deepEqual(s.kinds, { Scavenge: { count: 2, pauseMs: 2 }, MarkSweepCompact: { count: 1, pauseMs: 8 } });
  assert.equal(s.survivedBytes, 700);
  assert.equal(s.promotedBytes, 500);
  // Allocated between GCs: 4100 - 300 after the first, 1000 - 400 after the second.
  assert.equal(s.youngAllocatedBytes, 3800 + 600);
  assert.equal(s.semiSpaceBytes, 4 << 20);
});

test('the GC probe, preloaded, writes what the GCs between two SIGUSR2 did', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gcprobe-'));
  try {
    // The child brackets its own allocations with the two signals, then exits.
    const script = "process.kill(process.pid, 'SIGUSR2'); setImmediate(() => { let keep = []; for (let i = 0; i < 2e5; i++) { keep.push({ i }); if (keep.length > 1000) keep = []; } global.gc(); process.kill(process.pid, 'SIGUSR2'); setImmediate(() => process.exit(0)); });";
    const child = spawn(process.execPath, ['--expose-gc', '--max-semi-space-size=1', '--require', path.resolve(__dirname, '../../../bench/dataplane/gcProbe.js'), '-e', script], { env: { ...process.env, DEVMESH_GC_DIR: dir }, stdio: 'inherit' });
    const code = await new Promise((r) => child.once('exit', r));
    assert.equal(code, 0);
    const s = JSON.parse(readFileSync(path.join(dir, `${child.pid}.gc.json`), 'utf8')) as GcSummary;
    assert.ok(s.kinds.Scavenge.count >= 1, JSON.stringify(s));
    assert.equal(s.kinds.MarkSweepCompact.count, 1);
    assert.ok(s.youngAllocatedBytes > 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
