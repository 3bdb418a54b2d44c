/**
 * Ctrl-C twice: the first asks `devmesh up` to stop the mesh gracefully, the
 * second means "now". With an app that ignores SIGTERM the graceful stop has
 * to wait for it; a second SIGINT must end devmesh at once (exit 130) and
 * still leave no process of the mesh behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { HANG_MS, REPO, freePorts, pidAlive, removeDir, upWithMesh, waitFor, within } from './helpers';

const APP = path.join(REPO, 'test', 'control', 'fixtures', 'stubborn-app.js');

interface Topology { workloads: Array<{ name: string; pids: { app: number; sidecar: number } }>; ingress: { pid: number } }

test('a second Ctrl-C during a slow stop kills every process of the mesh and exits 130', { timeout: 120_000 }, async () => {
  const [control, ingress, app] = await freePorts(3);
  const { dir, up } = await upWithMesh(`apiVersion: devmesh.dev/v1alpha1
kind: Mesh
metadata: { name: signals }
spec:
  controlPort: ${control}
  ingress: { port: ${ingress} }
  services:
    - name: stubborn
      port: 9080
      workloads:
        - { name: stubborn-v1, port: ${app}, command: [node, ${JSON.stringify(APP)}] }
`, 'devmesh-signals-');
  try {
    const t = (await (await up.api('/api/topology')).json()) as Topology;
    const w = t.workloads.find((x) => x.name === 'stubborn-v1')!;
    const pids = [w.pids.app, w.pids.sidecar, t.ingress.pid].filter((p) => p > 0);
    assert.equal(pids.length, 3, `app, sidecar and ingress pids in ${JSON.stringify(t)}`);

    up.child.kill('SIGINT');
    await waitFor('the graceful stop to begin', () => up.output().includes('stopping the mesh'), HANG_MS);
    await waitFor('the app to have been asked to stop', () => up.output().includes('SIGTERM ignored'), HANG_MS);
    assert.ok(pidAlive(w.pids.app), 'the app is still running: the graceful stop is waiting for it');
    up.child.kill('SIGINT');
    const { code } = await within(up.exited, HANG_MS, 'devmesh exiting after the second Ctrl-C');
    assert.equal(code, 130, up.output());
    assert.match(up.output(), /SIGINT again, killing everything/);
    await waitFor('every process of the mesh to be gone', () => pids.every((p) => !pidAlive(p)), 10_000)
      .catch(() => assert.fail(`still running: ${pids.filter(pidAlive).join(', ')}\n${up.output()}`));
  } finally {
    await up.stop();
    removeDir(dir);
  }
});
