/**
 * Bad local setups: each is a short error naming the cause and the place in
 * the Mesh, a non-zero exit, and nothing left running (no process in the
 * Mesh folder, every port of the Mesh free again).
 *
 * The unreadable Mesh file: these tests may run as root, which ignores file
 * modes (chmod 000 reads fine), so the file is made unreadable another way
 * that holds for root too: a directory where the Mesh file should be (read
 * fails with EISDIR). A dangling symlink covers "the file is gone".
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { canBind, HANG_MS, startUp, within } from '../control/helpers';
import { meshFixture, processesIn, record, type MeshFixture } from './harness';

interface Outcome { code: number | null; lines: string[]; output: string }

async function upFails(fx: MeshFixture, meshFile = fx.meshFile, env: Record<string, string> = {}): Promise<Outcome> {
  const up = startUp(meshFile, env);
  const exit = await within(up.exited, HANG_MS, 'devmesh up exiting').catch(async (e) => { await up.stop(); throw e; });
  // Lines devmesh itself wrote (app output is prefixed with [workload]).
  const lines = up.output().split('\n').filter((l) => l && !l.startsWith('['));
  return { code: exit.code, lines, output: up.output() };
}

async function nothingLeft(fx: MeshFixture): Promise<void> {
  assert.deepEqual(processesIn(fx.dir), [], 'no process left in the Mesh folder');
  for (const p of [fx.controlPort, fx.ingressPort, ...Object.values(fx.appPorts)]) assert.ok(await canBind(p), `port ${p} is free`);
}

describe('bad local setups', () => {
  const rows: string[] = [];
  const check = async (what: string, fx: MeshFixture, o: Outcome, pattern: RegExp, maxLines = 2) => {
    assert.notEqual(o.code, 0, `${what}: exit code`);
    assert.ok(o.lines.some((l) => pattern.test(l)), `${what}: no line matches ${pattern}\n${o.output}`);
    assert.ok(o.lines.length <= maxLines, `${what}: ${o.lines.length} lines:\n${o.lines.join('\n')}`);
    await nothingLeft(fx);
    rows.push(`${what}: exit ${o.code}, "${o.lines.find((l) => pattern.test(l))}"`);
  };

  test('a port already in use', async () => {
    const fx = await meshFixture();
    const holder = net.createServer();
    await new Promise<void>((r) => holder.listen(fx.appPorts['back-v1'], '127.0.0.1', r));
    try {
      const o = await upFails(fx);
      holder.close();
      await check('port in use', fx, o, new RegExp(`^mesh\\.yaml:\\d+:\\d+: error port-in-use: port ${fx.appPorts['back-v1']} of workload back-v1 is already in use`));
    } finally { holder.close(); fx.cleanup(); }
  });

  test('a command that does not exist', async () => {
    const fx = await meshFixture();
    try {
      writeFileSync(fx.meshFile, (await import('node:fs')).readFileSync(fx.meshFile, 'utf8').replace('command: ["node", ', 'command: ["no-such-program-devmesh", '));
      const o = await upFails(fx);
      await check('command not found', fx, o, /^mesh\.yaml:\d+:\d+: error bad-command: command "no-such-program-devmesh" of workload front-v1 was not found on PATH/);
    } finally { fx.cleanup(); }
  });

  test('an app that exits at once', async () => {
    const fx = await meshFixture({}, { env: { 'back-v2': { ECHO_EXIT_AT_ONCE: '1' } } });
    try {
      const o = await upFails(fx);
      // The cause line, then the app's last output (its own words), then what devmesh did.
      await check('app exits at once', fx, o, /^the app \(node .*echo\.js\) of back-v2 exited \(code 3\) before it was listening\.$/, 3);
    } finally { fx.cleanup(); }
  });

  test('an unreadable Mesh file (a directory in its place; root ignores chmod 000) and a dangling symlink', async () => {
    const fx = await meshFixture();
    try {
      unlinkSync(fx.meshFile);
      mkdirSync(fx.meshFile);
      const o = await upFails(fx);
      await check('Mesh file is a directory', fx, o, /mesh\.yaml/, 2);
      assert.match(o.lines.join('\n'), /EISDIR|is a directory|not a file|cannot read/i);
      rmSync(fx.meshFile, { recursive: true });
      symlinkSync(path.join(fx.dir, 'nowhere.yaml'), fx.meshFile);
      const o2 = await upFails(fx);
      await check('Mesh file is a dangling symlink', fx, o2, /mesh\.yaml/, 2);
      assert.match(o2.lines.join('\n'), /ENOENT|not found|does not exist|no such file|cannot read/i);
    } finally { fx.cleanup(); }
  });

  test('a Mesh file with no services', async () => {
    const fx = await meshFixture();
    try {
      writeFileSync(fx.meshFile, `apiVersion: devmesh.dev/v1alpha1\nkind: Mesh\nmetadata: { name: empty }\nspec:\n  controlPort: ${fx.controlPort}\n  services: []\n`);
      const o = await upFails(fx);
      await check('no services', fx, o, /mesh\.yaml:\d+:\d+: .*service/i, 4);
    } finally {
      fx.cleanup();
      record({ scenario: 'bad local setups', load: '-', faults: 'port in use, missing command, app exits at once, Mesh file a directory / dangling symlink, no services', durationMs: 0, sent: rows.length, ok: 0, failed: rows.length, explained: rows.join('; '), lost: 0 });
    }
  });
});
