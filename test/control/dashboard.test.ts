import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import express from 'express';
import { dashboardRoutes, dashboardUrl } from '../../simulator/control/api/dashboard';

async function serve(dir: string): Promise<{ url: string; close: () => Promise<void> }> {
  const app = express();
  app.use(dashboardRoutes(dir));
  const server = http.createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as import('node:net').AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((r) => server.close(() => r())) };
}

test('the dashboard page has a nonce CSP, no inline script, and no referrer', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dash-'));
  writeFileSync(path.join(dir, 'webview.js'), 'console.log(1)');
  writeFileSync(path.join(dir, 'webview.css'), 'body{}');
  const s = await serve(dir);
  try {
    const a = await fetch(s.url + '/');
    const b = await fetch(s.url + '/');
    const html = await a.text();
    const csp = a.headers.get('content-security-policy') ?? '';
    const nonce = /'nonce-([^']+)'/.exec(csp)?.[1];
    assert.ok(nonce && nonce.length >= 22, csp);
    assert.notEqual(nonce, /'nonce-([^']+)'/.exec(b.headers.get('content-security-policy') ?? '')?.[1], 'a fresh nonce per page');
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /connect-src 'self'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.equal(a.headers.get('referrer-policy'), 'no-referrer');
    const scripts = [...html.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)];
    assert.equal(scripts.length, 1);
    assert.match(scripts[0][1], new RegExp(`nonce="${nonce!.replace(/[+/=]/g, '\\$&')}"`));
    assert.match(scripts[0][1], /src="\/dashboard\/webview\.js"/);
    assert.equal(scripts[0][2].trim(), '', 'no inline script body');
    const js = await fetch(s.url + '/dashboard/webview.js');
    assert.equal(js.headers.get('content-type'), 'text/javascript; charset=utf-8');
    assert.equal(js.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(await js.text(), 'console.log(1)');
  } finally {
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an unbuilt dashboard answers 404 with what to run', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dash-'));
  const s = await serve(dir);
  try {
    const r = await fetch(s.url + '/');
    assert.equal(r.status, 404);
    assert.match(await r.text(), /npm run build/);
  } finally {
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the dashboard link carries the token in the fragment, never in the query', () => {
  const u = new URL(dashboardUrl('http://127.0.0.1:15000', 'a+b/c='));
  assert.equal(u.search, '');
  assert.equal(decodeURIComponent(u.hash.slice('#token='.length)), 'a+b/c=');
});
