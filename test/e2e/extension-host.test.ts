/**
 * The extension's integration tests inside a real VS Code extension host
 * (VS Code server from code-server 4.139.1 + chromium, through the stand-in
 * executable for @vscode/test-electron). The workspace is a Bookinfo mesh with
 * free ports and a broken policy; Start Mesh runs the real `devmesh up`.
 */
import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { after, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { editorSkipReason, freePorts, meshSkipReason, node24Env, NODE24, REPO, VSCODE_SERVER_DIR } from './harness/env';
import { makeDemoMesh, readSession, type DemoMesh } from './harness/mesh';
import { addEditorFixtures } from './policy-fixtures';

let demo: DemoMesh | undefined;

after(() => {
  if (!demo) return;
  // Should a test have failed before Stop Mesh, the mesh must not outlive us.
  const s = readSession(demo.meshFile);
  if (s) { try { process.kill(s.pid, 'SIGTERM'); } catch { /* already gone */ } }
  rmSync(demo.dir, { recursive: true, force: true });
});

test('extension integration tests pass in a real VS Code extension host', { skip: editorSkipReason(), timeout: 240_000 }, async (t) => {
  demo = await makeDemoMesh();
  // devmesh.controlPort differs from the Mesh's spec.controlPort: Start Mesh must pass it as --control-port.
  const [controlPort] = await freePorts(1);
  addEditorFixtures(demo.dir, { 'devmesh.cliPath': path.join(REPO, 'bin', 'devmesh.js'), 'devmesh.controlPort': controlPort });
  const skips: string[] = [];
  if (!existsSync(path.join(REPO, 'dist', 'language-server.js'))) skips.push('lsp=dist/language-server.js is not built yet (language-server/main.ts missing)');
  const noMesh = meshSkipReason();
  if (noMesh) skips.push(`mesh=${noMesh}`);
  const child = spawn(NODE24, [path.join(REPO, 'test', 'e2e', 'harness', 'run-extension-tests.mjs'), REPO, path.join(REPO, 'out', 'e2e', 'extension-suite', 'index.js'), demo.dir],
    { env: node24Env({ VSCODE_SERVER_DIR, DEVMESH_E2E_SKIP: skips.join(';') }), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => { out += b; });
  child.stderr!.on('data', (b: Buffer) => { out += b; });
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  // The suite's own lines (ok / not ok / summary); the workbench's log stays in the failure message.
  for (const line of out.split('\n')) if (/^(ok|not ok) - |extension-host tests passed|^  /.test(line)) t.diagnostic(line);
  assert.equal(code, 0, `extension-host tests failed:\n${out.slice(-4000)}`);
  assert.match(out, /extension-host tests passed/);
});
