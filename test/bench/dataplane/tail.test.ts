import { test } from 'node:test';
import assert from 'node:assert/strict';
import { correlate, promotion, type Event, type Probe } from '../../../bench/dataplane/tail';
import type { PacedResult } from '../../../bench/dataplane/paced';

// Ten requests due 10 ms apart from t=1000, each 1 ms long but the one due at 1050 (40 ms).
const due = Array.from({ length: 10 }, (_, i) => 1000 + 10 * i);
const run: PacedResult = { sent: 10, ok: 10, errors: 0, sendLagP99Ms: 0, dueMs: due, latenciesMs: due.map((d) => (d === 1050 ? 40 : 1)) };

const share = (lines: string[], kind: string) => {
  const m = new RegExp(`${kind}\\s+slow\\s+(\\d+) %\\s+all\\s+(\\d+) %`).exec(lines.join('\n'));
  return m ? [Number(m[1]), Number(m[2])] : undefined;
};

test('a slow request in flight during a full GC is counted against it, beside the share of all requests the GC touched', () => {
  const events: Event[] = [['gc', 1060, 20, 'mark-compact', 10], ['send', 1000.5, 0.3, 'telemetry:64']];
  const lines = correlate(run, events, 5);
  assert.match(lines[0], /^1 requests slower than 5\.00 ms \(of 10\)/);
  // The slow request (1050-1090) and those due at 1060 and 1070 overlap the GC (1060-1080).
  assert.deepEqual(share(lines, 'GC mark-compact \\(any\\)'), [100, 30]);
  assert.deepEqual(share(lines, 'telemetry send \\(any\\)'), [0, 10]);
  assert.match(lines.join('\n'), /none of these\s+slow {3}0 %/);
  assert.match(lines.join('\n'), /40\.0 {2}1 events; the longest: gc:mark-compact 20\.0/);
});

test('a slow request that overlapped nothing recorded is said to have overlapped none of the kinds', () => {
  const lines = correlate(run, [['gc', 1500, 5, 'scavenge', 10]], 5);
  assert.match(lines.join('\n'), /none of these\s+slow 100 %/);
});

test('old space freed by full GCs is the drop from the GC before each, per second', () => {
  const probe = (events: Event[]): Probe => ({ summary: { cpuMs: 0, loopUtilisation: 0, delayMs: { p50: 0, p99: 0, max: 0 }, startedAt: 0, endedAt: 0 }, events });
  const a = probe([['gc', 0, 1, 'scavenge', 10], ['gc', 1, 1, 'scavenge', 14], ['gc', 2, 9, 'mark-compact', 11], ['gc', 3, 1, 'scavenge', 13], ['gc', 4, 9, 'mark-compact', 10]]);
  const b = probe([['gc', 0, 1, 'scavenge', 20], ['gc', 1, 9, 'mark-compact', 18]]);
  assert.equal(promotion([a, b], 2), 'old space freed by 3 full GCs: 4.00 MB/s (promoted garbage)');
});
