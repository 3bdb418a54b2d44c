import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeHeapSnapshot } from 'node:v8';
import { describe as describeHeap, summarize } from '../../../bench/dataplane/heapRetained';

// 1,024 arrays of 128 doubles: ~1 MB on the V8 heap.
class RetainsAMegabyte { readonly rows = Array.from({ length: 1024 }, (_, i) => new Array<number>(128).fill(i + 0.5)); }
class HoldsNothingOfItsOwn { constructor(readonly shared: number[][]) {} }

test('a heap snapshot of this process credits a class with what only it keeps alive, not with what others share', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'heap-retained-'));
  const big = new RetainsAMegabyte();
  const sharer = new HoldsNothingOfItsOwn(big.rows);
  try {
    const file = writeHeapSnapshot(path.join(dir, 'x.heapsnapshot'));
    const s = summarize(JSON.parse(readFileSync(file, 'utf8')), ['RetainsAMegabyte', 'HoldsNothingOfItsOwn']);
    const of = (name: string) => s.retained.find((r) => r.name === name);
    // Its array (shared with `sharer`) stays alive without it: only the object itself is credited.
    assert.ok(of('RetainsAMegabyte')!.retainedBytes < 1024, `${of('RetainsAMegabyte')!.retainedBytes}`);
    assert.ok(of('HoldsNothingOfItsOwn')!.retainedBytes < 1024);
    assert.ok(s.totalBytes > 1024 * 1024);
    assert.ok(s.byType.some(([t]) => t === 'string'));
    assert.match(describeHeap(s).join('\n'), /RetainsAMegabyte \(1\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(sharer.shared, big.rows);
});

test('an object that alone keeps a megabyte of arrays alive is credited with it', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'heap-retained-'));
  const big = new RetainsAMegabyte();
  try {
    const file = writeHeapSnapshot(path.join(dir, 'x.heapsnapshot'));
    const s = summarize(JSON.parse(readFileSync(file, 'utf8')), ['RetainsAMegabyte']);
    assert.ok(s.retained[0].retainedBytes > 1000 * 1024, `${s.retained[0].retainedBytes}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(big.rows.length, 1024);
});
