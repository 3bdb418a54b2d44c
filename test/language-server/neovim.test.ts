/**
 * An independent, real LSP client: headless Neovim with a small Lua script
 * (nvim/check.lua) opens a policy file, receives the diagnostics of
 * `devmesh lsp --stdio`, and writes them out for this test to check.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { BOOKINFO, BROKEN_CANARY, REPO } from './fixtures';

const nvim = spawnSync('nvim', ['--version'], { encoding: 'utf8' });
const missing = nvim.error || nvim.status !== 0 ? 'nvim is not installed (apt-get install -y neovim); .ci/run installs it' : false;

test('Neovim receives the devmesh diagnostics, hover and completion of a policy file', { skip: missing, timeout: 60_000 }, async () => {
  const root = mkdtempSync(path.join(tmpdir(), 'devmesh-nvim-'));
  try {
    cpSync(BOOKINFO, root, { recursive: true });
    const file = path.join(root, 'policies', 'canary.yaml');
    writeFileSync(file, BROKEN_CANARY);
    const outFile = path.join(root, 'nvim-out.jsonl');
    const child = spawn('nvim', ['--headless', '--clean', '-u', 'NONE', '-c', `luafile ${path.join(REPO, 'test', 'language-server', 'nvim', 'check.lua')}`], {
      cwd: root,
      env: {
        ...process.env,
        DEVMESH_FILE: file, DEVMESH_OUT: outFile, DEVMESH_ROOT: root,
        DEVMESH_NODE: process.execPath, DEVMESH_BIN: path.join(REPO, 'bin', 'devmesh.js'),
        DEVMESH_LINE: '10', DEVMESH_CHAR: '20',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c) => { output += c; });
    child.stderr.on('data', (c) => { output += c; });
    const code = await new Promise<number | null>((resolve) => {
      const t = setTimeout(() => { child.kill('SIGKILL'); resolve(null); }, 45_000);
      child.on('exit', (c) => { clearTimeout(t); resolve(c); });
    });
    const events = readFileSync(outFile, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
    assert.equal(code, 0, `nvim exit ${code}; events: ${JSON.stringify(events)}; output: ${output.slice(-2000)}`);

    const diags = events.filter((e) => e.event === 'diagnostic');
    const subset = diags.find((d) => d.code === 'unknown-subset');
    assert.ok(subset, JSON.stringify(diags));
    assert.deepEqual([subset.lnum, subset.col, subset.end_col], [10, 20, 22]);
    assert.equal(subset.source, 'devmesh');
    assert.match(subset.message, /DestinationRule "reviews"/);
    assert.ok(diags.some((d) => d.code === 'bad-duration' && d.lnum === 11));

    const hover = events.find((e) => e.event === 'hover');
    assert.match(hover?.value ?? '', /subset of `reviews\.default\.svc\.cluster\.local`|no DestinationRule defines it/);
    const completion = events.find((e) => e.event === 'completion');
    assert.deepEqual(completion?.labels, ['v1', 'v2', 'v3']);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
