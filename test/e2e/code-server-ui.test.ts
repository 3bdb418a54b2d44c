/**
 * UI scenarios in a real editor: code-server 4.139.1 with the packaged .vsix
 * installed, driven by chromium. A policy error reaches the Problems panel;
 * Show Topology draws the live graph of a running demo mesh (the extension
 * attaches through .devmesh/session.json), laid out in layers under VS Code's
 * webview CSP. Screenshots go to test-artifacts/
 * and docs/ (the README uses them).
 */
import { copyFileSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { ARTIFACTS, DOCS, editorSkipReason, meshSkipReason, REPO, waitFor } from './harness/env';
import { launchBrowser, type Browser } from './harness/browser';
import { openWorkbench, packageVsix, quickInput, startCodeServer, type CodeServer } from './harness/code-server';
import { makeDemoMesh, sendTraffic, startDemoMesh, type DemoMesh, type RunningMesh } from './harness/mesh';
import { assertKialiLayout, readLayout, type DomLayout } from './harness/topology-dom';
import { addEditorFixtures } from './policy-fixtures';

const skip = editorSkipReason() ?? (existsSync(path.join(REPO, 'dist', 'language-server.js')) ? undefined : 'dist/language-server.js is not built yet (language-server/main.ts missing)');

let cs: CodeServer | undefined;
let browser: Browser | undefined;
let demo: DemoMesh | undefined;
let mesh: RunningMesh | undefined;
let vsix: string | undefined;

async function shot(page: Page, name: string, docsName?: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, name);
  await page.screenshot({ path: file });
  if (docsName) { mkdirSync(DOCS, { recursive: true }); copyFileSync(file, path.join(DOCS, docsName)); }
}

before(async () => {
  if (skip) return;
  vsix = packageVsix();
  demo = await makeDemoMesh();
  addEditorFixtures(demo.dir, { 'devmesh.cliPath': path.join(REPO, 'bin', 'devmesh.js'), 'workbench.colorTheme': 'Default Dark Modern' });
  cs = await startCodeServer(vsix);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await cs?.close();
  await mesh?.stop();
  if (demo) rmSync(demo.dir, { recursive: true, force: true });
  if (vsix) rmSync(path.dirname(vsix), { recursive: true, force: true });
});

test('the Problems panel shows the policy error of a broken VirtualService', { skip, timeout: 120_000 }, async () => {
  const page = browser!.ctx.pages()[0] ?? await browser!.ctx.newPage();
  await openWorkbench(page, cs!, demo!.dir);
  await quickInput(page, 'broken.yaml', 'broken.yaml');
  await page.locator('.tab', { hasText: 'broken.yaml' }).waitFor({ timeout: 20_000 });
  await page.keyboard.press('Control+Shift+M');
  const row = page.locator('.markers-panel .monaco-list-row', { hasText: 'nosuchsubset' }).first();
  await row.waitFor({ timeout: 40_000 });
  const rows = (await page.locator('.markers-panel .monaco-list-row').allInnerTexts()).map((s) => s.replace(/\s+/g, ' '));
  assert.ok(rows.some((r) => /nosuchsubset/.test(r) && /devmesh/.test(r)), `a devmesh diagnostic naming the subset in: ${rows.join(' | ')}`);
  assert.ok(await page.locator('.monaco-editor .squiggly-error').count() > 0, 'the error is squiggled in the editor');
  await page.waitForTimeout(300);
  await shot(page, 'editor-diagnostics.png', 'editor-diagnostics.png');
});

test('Show Topology draws one node per workload of the running mesh', { skip: skip ?? meshSkipReason(), timeout: 150_000 }, async () => {
  // devmesh up refuses a workspace with errors (as it should): the broken policy goes first.
  rmSync(path.join(demo!.dir, 'policies', 'broken.yaml'));
  mesh = await startDemoMesh(demo!);
  const page = browser!.ctx.pages()[0];
  // The extension sees the new session file and attaches; then the command opens the panel.
  await page.locator('.statusbar-item', { hasText: 'mesh running' }).first().waitFor({ timeout: 30_000 });
  await quickInput(page, '>DevMesh: Show Topology', 'DevMesh: Show Topology');
  const frame = page.frameLocator('iframe.webview.ready').frameLocator('#active-frame');
  const layoutFailures: string[] = [];
  page.on('console', (m) => { if (/layered layout failed/.test(m.text())) layoutFailures.push(m.text()); });
  const expected = demo!.workloads.length + 1; // + the ingress
  await waitFor('the graph nodes', async () => ((await frame.locator('svg#topology g.node').count()) === expected ? true : undefined), 40_000, 250);
  const ids = await frame.locator('svg#topology g.node').evaluateAll((els) => els.map((e) => e.getAttribute('data-id')));
  assert.deepEqual(ids.filter((x) => x !== 'istio-ingressgateway').sort(), [...demo!.workloads].sort());
  assert.equal(await frame.locator('.state').textContent(), 'running');
  // Live: traffic through the ingress shows up as edges with rates, without a reload.
  const sent = await sendTraffic(mesh.ingressPort, 30);
  assert.ok(sent.ok > 0, `the demo answered through the ingress (${sent.failed} failed)`);
  await waitFor('an edge with a non-zero rate in the webview', async () => {
    const rates = await frame.locator('svg#topology g.edge').evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-rps'))));
    return rates.some((r) => r > 0) ? true : undefined;
  }, 20_000, 250);
  // The layered layout runs under VS Code's webview CSP too: the flows read left to right in the namespace's box.
  const laidOut: DomLayout = await waitFor('the layout of the flows in the webview', async () => {
    const l = await readLayout(frame.locator('svg#topology'));
    return l.state === 'done' && l.edges.length >= 2 ? l : undefined;
  }, 20_000, 250);
  assertKialiLayout(laidOut);
  assert.deepEqual(layoutFailures, [], 'elkjs ran in the webview');
  // The picture for the README: the DevMesh view beside the graph, no panel.
  await page.keyboard.press('Control+J');
  await page.locator('.activitybar .action-item a[aria-label^="DevMesh"]').first().click().catch(() => undefined);
  await page.waitForTimeout(2_000); // let the layout settle for the picture
  await shot(page, 'vscode-topology.png', 'vscode-topology.png');
});
