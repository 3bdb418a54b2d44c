/**
 * A real code-server 4.139.1 (VS Code 1.139 for the browser, with a Node
 * extension host) on a free loopback port, with the packaged .vsix installed,
 * fresh user-data and extensions folders, no password, no marketplace, no
 * telemetry. Driven by chromium; stopped and cleaned up by close().
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Page } from 'playwright-core';
import { CODE_SERVER_DIR, freePorts, node24Env, NODE24, REPO, waitFor } from './env';

export interface CodeServer { url: string; proc: ChildProcess; log: () => string; close(): Promise<void> }

const ENTRY = path.join(CODE_SERVER_DIR, 'out', 'node', 'entry.js');

/** `npm run package` into a temp file: the UI scenarios test what users install. */
export function packageVsix(): string {
  const out = path.join(mkdtempSync(path.join(os.tmpdir(), 'devmesh-vsix-')), 'devmesh.vsix');
  execFileSync(process.execPath, [path.join(REPO, 'scripts', 'package-vsix.mjs')], { cwd: REPO, env: { ...process.env, VSIX_OUT: out }, stdio: 'pipe' });
  return out;
}

export async function startCodeServer(vsix: string): Promise<CodeServer> {
  const run = mkdtempSync(path.join(os.tmpdir(), 'devmesh-code-server-'));
  const udd = path.join(run, 'udd'), exts = path.join(run, 'exts'), config = path.join(run, 'config.yaml');
  mkdirSync(path.join(udd, 'User'), { recursive: true });
  copyFileSync(path.join(__dirname, '..', '..', '..', 'test', 'e2e', 'harness', 'vscode-settings.json'), path.join(udd, 'User', 'settings.json'));
  // Without --config code-server writes a random password into the home folder.
  writeFileSync(config, 'auth: none\ncert: false\n');
  const env = node24Env({ EXTENSIONS_GALLERY: '{"serviceUrl":"http://127.0.0.1:9/gallery"}' });
  const common = ['--config', config, '--user-data-dir', udd, '--extensions-dir', exts, '--disable-telemetry', '--disable-update-check'];
  execFileSync(NODE24, [ENTRY, ...common, '--install-extension', vsix], { env, stdio: 'pipe', timeout: 60_000 });
  const [port] = await freePorts(1);
  let log = '';
  const proc = spawn(NODE24, [ENTRY, ...common, '--auth', 'none', '--bind-addr', `127.0.0.1:${port}`, '--disable-workspace-trust', '--disable-getting-started-override'],
    { env, stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout!.on('data', (b: Buffer) => { log += b; });
  proc.stderr!.on('data', (b: Buffer) => { log += b; });
  const url = `http://127.0.0.1:${port}/`;
  const close = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      const gone = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 5_000);
      await gone;
      clearTimeout(t);
    }
    rmSync(run, { recursive: true, force: true });
  };
  try {
    await waitFor('code-server to answer', async () => {
      if (proc.exitCode !== null) throw new Error(`code-server exited: ${log}`);
      return (await fetch(url + 'healthz')).ok ? true : undefined;
    }, 30_000, 200);
  } catch (e) { await close(); throw e; }
  return { url, proc, log: () => log, close };
}

/** Opens a folder in the workbench and waits until it is usable. */
export async function openWorkbench(page: Page, cs: CodeServer, folder: string): Promise<void> {
  await page.goto(`${cs.url}?folder=${encodeURIComponent(folder)}`);
  await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
  await page.locator('.explorer-folders-view, .explorer-viewlet').first().waitFor({ timeout: 30_000 }).catch(() => undefined);
}

/** F1, then a file name (quick open) or `>Command title` (command palette). */
export async function quickInput(page: Page, text: string, rowText: string): Promise<void> {
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor();
  await input.fill(text);
  await page.locator('.quick-input-list .monaco-list-row', { hasText: rowText }).first().waitFor({ timeout: 20_000 });
  await page.keyboard.press('Enter');
}
