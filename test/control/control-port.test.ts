/**
 * `devmesh up --control-port <n>`: the flag wins over the Mesh's
 * spec.controlPort everywhere the control port shows — the port the API
 * listens on, session.json's apiUrl, the printed URLs — and a taken port is
 * refused naming the flag. Real `devmesh up` processes with the stub sidecar.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { BIN, bookinfoFixture, canBind, freePorts, HANG_MS, startUp, STUB_SIDECAR, waitReady, within, withOutput } from './helpers';

const env = { DEVMESH_SIDECAR_ENTRY: STUB_SIDECAR };

describe('devmesh up --control-port', () => {
  test('is listed in devmesh up --help with what it overrides', () => {
    const r = spawnSync(process.execPath, [BIN, 'up', '--help'], { encoding: 'utf8', timeout: 10_000 });
    assert.equal(r.status, 0);
    // Commander wraps help to the terminal width: compare with the wrapping undone.
    const help = r.stdout.replace(/\s+/g, ' ');
    assert.match(help, /--control-port <n> port of the control API and dashboard on 127\.0\.0\.1; overrides the Mesh's spec\.controlPort \(default 15000\)/);
  });

  test('opens the API on the given port, writes it into session.json and prints it, leaving the Mesh\'s controlPort alone', async () => {
    const fx = await bookinfoFixture();
    const [flagPort] = await freePorts(1, new Set([fx.controlPort, fx.ingressPort, ...Object.values(fx.appPorts)]));
    const up = startUp(fx.meshFile, env, ['--control-port', String(flagPort)]);
    try {
      await waitReady(up, fx.meshFile).catch(withOutput(up));
      assert.equal(up.session().apiUrl, `http://127.0.0.1:${flagPort}`);
      const health = await up.api('/api/health');
      assert.equal(health.status, 200);
      assert.match(up.output(), new RegExp(`control API \\+ dashboard: http://127\\.0\\.0\\.1:${flagPort} `));
      assert.match(up.output(), new RegExp(`open the dashboard: http://127\\.0\\.0\\.1:${flagPort}/`));
      assert.ok(await canBind(fx.controlPort), 'nothing listens on the Mesh\'s spec.controlPort');
    } finally { await up.stop(); fx.cleanup(); }
  });

  test('refuses a taken port naming the flag, and starts nothing', async () => {
    const fx = await bookinfoFixture();
    const holder = net.createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', () => r()));
    const taken = (holder.address() as net.AddressInfo).port;
    try {
      const up = startUp(fx.meshFile, env, ['--control-port', String(taken)]);
      const { code } = await within(up.exited, HANG_MS, 'devmesh exiting');
      assert.equal(code, 1, up.output());
      assert.match(up.output(), new RegExp(`^--control-port ${taken} \\(control API\\) is already in use by another process$`, 'm'));
      assert.match(up.output(), /pass another --control-port/);
      assert.doesNotMatch(up.output(), /mesh\.yaml:\d+:\d+: --control-port/, 'the flag has no position in the Mesh file');
      assert.equal(existsSync(path.join(fx.dir, '.devmesh', 'session.json')), false);
      assert.ok(await canBind(fx.appPorts['reviews-v1']), 'no app was started');
    } finally { holder.close(); fx.cleanup(); }
  });

  test('rejects a value that is not a port as a usage error', async () => {
    const fx = await bookinfoFixture();
    try {
      for (const bad of ['abc', '0', '70000', '80x']) {
        const r = spawnSync(process.execPath, [BIN, 'up', '-f', fx.meshFile, '--control-port', bad], { encoding: 'utf8', timeout: 10_000 });
        assert.equal(r.status, 2, `${bad}: ${r.stderr}`);
        assert.match(r.stderr, new RegExp(`--control-port must be a port number from 1 to 65535 \\(got ${bad}\\)`));
      }
    } finally { fx.cleanup(); }
  });
});
