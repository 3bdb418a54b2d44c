import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePerfStat } from '../../../bench/dataplane/abLayouts';
import { processSlot } from '../../../bench/dataplane/devmeshChain';

test('perf stat output is read as counts by event, every system call under syscalls', () => {
  const text = [
    '',
    '12345,,raw_syscalls:sys_enter,4000000000,100.00,,',
    '678,,syscalls:sys_enter_epoll_pwait,4000000000,100.00,,',
    '90,,page-faults,4000000000,100.00,,',
    '<not counted>,,syscalls:sys_enter_madvise,0,0.00,,',
  ].join('\n');
  assert.deepEqual(parsePerfStat(text), { syscalls: 12345, epoll_pwait: 678, 'page-faults': 90 });
});

test('the bench placements: chain keeps a caller with its callee, role splits callers from callees, cross puts them side by side with the next chain', () => {
  const w = (name: string, service: string) => ({ name, service });
  const four = [w('client-v1', 'client'), w('client-v2', 'client'), w('bench-v1', 'bench'), w('bench-v2', 'bench-2')];
  const where = (p: 'chain' | 'role' | 'cross') => four.map((x) => processSlot(p, x) % 2);
  assert.deepEqual(where('chain'), [0, 1, 0, 1]);
  assert.deepEqual(where('role'), [0, 0, 1, 1]);
  assert.deepEqual(where('cross'), [0, 1, 1, 0]);
});
