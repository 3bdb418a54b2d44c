/**
 * Debian's chromium through playwright-core, headless, with every request
 * that is not to loopback aborted (nothing here may reach the internet).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { CHROMIUM } from './env';

export interface Browser { ctx: BrowserContext; blocked: string[]; close(): Promise<void> }

export async function launchBrowser(viewport = { width: 1400, height: 900 }): Promise<Browser> {
  const udd = mkdtempSync(path.join(os.tmpdir(), 'devmesh-chrome-'));
  const ctx = await chromium.launchPersistentContext(udd, {
    executablePath: CHROMIUM, headless: true, viewport,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--disable-dev-shm-usage', '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1 , EXCLUDE localhost'],
  });
  const blocked: string[] = [];
  await ctx.route((u) => { try { return !['127.0.0.1', 'localhost'].includes(new URL(u).hostname); } catch { return false; } },
    (r) => { blocked.push(r.request().url()); return r.abort(); });
  return { ctx, blocked, close: async () => { await ctx.close().catch(() => undefined); rmSync(udd, { recursive: true, force: true }); } };
}
