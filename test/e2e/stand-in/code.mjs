#!/usr/bin/env node
// A stand-in "VS Code executable" for @vscode/test-electron's runTests({ vscodeExecutablePath }).
// No desktop VS Code can be downloaded on these machines, so this translates the
// desktop arguments (--extensionDevelopmentPath=, --extensionTestsPath=, a folder)
// into the VS Code server shipped inside code-server (real extension host, real
// `vscode` API) plus Debian chromium as its window; the extension tests' result comes
// back through the smoke-test driver's codeAutomationExit and becomes our exit code.
// Needs Node 24 (VS Code server) and VSCODE_SERVER_DIR; on a networked machine,
// drop vscodeExecutablePath and the same tests run in a downloaded VS Code.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const argv = process.argv.slice(2);
const values = (k) => argv.filter((a) => a.startsWith(`--${k}=`)).map((a) => a.slice(k.length + 3));
const devPaths = values('extensionDevelopmentPath');
const [testsPath] = values('extensionTestsPath');
const folder = argv.find((a) => !a.startsWith('-'));
const VS = process.env.VSCODE_SERVER_DIR;
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const TIMEOUT = Number(process.env.TEST_TIMEOUT_MS || 180_000);
if (!VS || !testsPath) { console.error('stand-in: needs VSCODE_SERVER_DIR and --extensionTestsPath='); process.exit(2); }

const port = await new Promise((r) => { const s = net.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => r(p)); }); });
const run = fs.mkdtempSync(path.join(os.tmpdir(), 'devmesh-vscode-'));
fs.mkdirSync(`${run}/udd/User`, { recursive: true });
fs.copyFileSync(new URL('../harness/vscode-settings.json', import.meta.url), `${run}/udd/User/settings.json`);
const server = spawn(process.execPath, [`${VS}/out/server-main.js`, '--host', '127.0.0.1', '--port', String(port), '--without-connection-token',
  '--accept-server-license-terms', '--enable-smoke-test-driver', '--disable-telemetry', '--disable-workspace-trust',
  '--user-data-dir', `${run}/udd`, '--server-data-dir', `${run}/sdd`, '--extensions-dir', `${run}/exts`],
{ env: { ...process.env, EXTENSIONS_GALLERY: '{"serviceUrl":"http://127.0.0.1:9/gallery"}' }, stdio: ['ignore', 'ignore', 'inherit'] });

let ctx;
let code = 1;
try {
  const base = `http://127.0.0.1:${port}`;
  let up = false;
  for (let i = 0; i < 150 && !up; i++) { try { up = (await fetch(base + '/')).ok; } catch { /* not yet */ } if (!up) await new Promise((r) => setTimeout(r, 200)); }
  if (!up) throw new Error('the VS Code server did not answer');
  const remote = (p) => `vscode-remote://127.0.0.1:${port}${p}`;
  const payload = [...devPaths.map((p) => ['extensionDevelopmentPath', remote(p)]), ['extensionTestsPath', remote(testsPath)]];
  ctx = await chromium.launchPersistentContext(fs.mkdtempSync(`${run}/chrome-`), {
    executablePath: CHROMIUM, headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--disable-dev-shm-usage', '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1'],
  });
  await ctx.route((u) => new URL(u).hostname !== '127.0.0.1', (r) => r.abort());
  const page = ctx.pages()[0] ?? await ctx.newPage();
  let done;
  const exited = new Promise((r) => { done = r; });
  await page.exposeFunction('codeAutomationExit', (c) => done(c));
  await page.exposeFunction('codeAutomationLog', (_type, args) => { if (!String(args[0]).includes('127.0.0.1:9')) console.log(...args); });
  await page.goto(`${base}/?${folder ? `folder=${encodeURIComponent(folder)}&` : ''}payload=${encodeURIComponent(JSON.stringify(payload))}`);
  const result = await Promise.race([exited, new Promise((r) => setTimeout(() => r('timeout'), TIMEOUT))]);
  if (result === 'timeout') console.error(`stand-in: the extension tests did not finish within ${TIMEOUT} ms`);
  code = typeof result === 'number' ? result : 1;
} catch (e) {
  console.error('stand-in:', e?.stack ?? e);
} finally {
  await ctx?.close().catch(() => undefined);
  server.kill();
  await new Promise((r) => (server.exitCode !== null ? r() : server.once('exit', r)));
  fs.rmSync(run, { recursive: true, force: true });
}
process.exit(code);
