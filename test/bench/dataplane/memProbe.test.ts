import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describe as describeMemory, smapsByKind } from '../../../bench/dataplane/memProbe';

// A trimmed /proc/PID/smaps: the node binary's text, libc, the brk heap, one V8 page, a thread arena's used part, a thread stack.
const smaps = [
  '00400000-00b6f000 r--p 00000000 fe:00 260689 /usr/bin/node', 'Rss:                5800 kB', 'Anonymous:             0 kB',
  '00b6f000-0266f000 r-xp 0076f000 fe:00 260689 /usr/bin/node', 'Rss:               16200 kB',
  '7f0000000000-7f0000100000 r-xp 00000000 fe:00 11 /usr/lib/x86_64-linux-gnu/libc.so.6', 'Rss:                1300 kB',
  '02a00000-02d00000 rw-p 00000000 00:00 0 [heap]', 'Rss:                3300 kB',
  '3e1a00000000-3e1a00040000 rw-p 00000000 00:00 0 ', 'Rss:                 256 kB',
  '7f1000000000-7f1000200000 rw-p 00000000 00:00 0 ', 'Rss:                1200 kB',
  '7f2000000000-7f2000800000 rw-p 00000000 00:00 0 ', 'Rss:                  60 kB',
].join('\n');

test('smaps is summed by kind: the node binary, shared libraries, malloc arenas, V8 heap pages and thread stacks', () => {
  assert.deepEqual(smapsByKind(smaps), {
    'node binary': 21.48, 'shared libraries': 1.27, 'malloc main arena': 3.22, 'V8 heap pages (256 KB)': 0.25, 'malloc thread arenas': 1.17, 'thread stacks': 0.06,
  });
});

test('the report puts start and peak side by side and lists the live old space after each full GC', () => {
  const sample = (rssMb: number, old: number) => ({ rssMb, spaces: { old_space: old }, smaps: smapsByKind(smaps) });
  const lines = describeMemory({ pid: 7, start: sample(57, 6.7), peak: sample(84, 20.2), afterFullGc: [{ s: 1, oldUsedMb: 9.5, codeUsedMb: 1.2 }] });
  assert.match(lines.find((l) => l.startsWith('RSS'))!, /57\s+84$/);
  assert.match(lines.find((l) => l.includes('old_space'))!, /6\.7\s+20\.2$/);
  assert.equal(lines.at(-1), 'old space in use after each full GC under load: 9.5');
});
