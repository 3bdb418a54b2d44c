import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { exited, reapLeftovers, recordChildren, runsCommand } from '../../simulator/control/leftovers';
import { pidAlive, waitFor } from './helpers';

test('runsCommand matches a live pid only with the command line it was started with', () => {
  assert.equal(runsCommand(process.pid, [process.execPath]), true);
  assert.equal(runsCommand(process.pid, ['/bin/false']), false, 'a recycled pid running something else is not ours');
  assert.equal(runsCommand(2 ** 22 + 7, [process.execPath]), false);
});

test('leftover children that still run their recorded command are stopped, and the record is removed', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'devmesh-leftovers-'));
  const args = ['-e', 'setInterval(() => {}, 1000)'];
  const child = spawn(process.execPath, args, { detached: true, stdio: 'ignore' });
  try {
    recordChildren(dir, [
      { pid: child.pid!, argv: [process.execPath, ...args], owner: 'app of ratings-v1' },
      { pid: process.pid, argv: ['/usr/bin/something-else'], owner: 'app of recycled' },
    ]);
    const stopped = await reapLeftovers(dir);
    assert.deepEqual(stopped, [`app of ratings-v1 (pid ${child.pid})`]);
    await waitFor('the leftover to die', () => child.exitCode !== null || child.signalCode !== null, 3_000);
    assert.ok(pidAlive(process.pid), 'the recycled pid was left alone');
    assert.equal(existsSync(path.join(dir, '.devmesh', 'children.json')), false);
  } finally { child.kill('SIGKILL'); rmSync(dir, { recursive: true, force: true }); }
});

test('exited is false for a running process and true for a pid that does not exist', () => {
  assert.equal(exited(process.pid), false);
  assert.equal(exited(2 ** 22 + 7), true);
});
