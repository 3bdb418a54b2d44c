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

test('rule lenses count the traffic, and Explain Request opens beside the policies with a link that opens the deciding rule', { skip: skip ?? meshSkipReason(), timeout: 150_000 }, async () => {
  assert.ok(mesh, 'the topology test started the mesh');
  const page = browser!.ctx.pages()[0];
  await page.keyboard.press('Escape');
  // One editor group and no side bar: the policy file on the left, the explanation beside it.
  await quickInput(page, '>View: Close All Editor Groups', 'Close All Editor Groups');
  await page.keyboard.press('Control+B');
  await quickInput(page, '>View: Close Secondary Side Bar', 'Close Secondary Side Bar').catch(() => page.keyboard.press('Escape'));
  await quickInput(page, 'routing.yaml', 'routing.yaml');
  await page.locator('.tab', { hasText: 'routing.yaml' }).waitFor({ timeout: 20_000 });
  // The previous test's traffic took reviews' default rule (http[1]); some more keeps the last minute busy.
  const sent = await sendTraffic(mesh!.ingressPort, 20);
  assert.ok(sent.ok > 0);
  const lens = page.locator('.monaco-editor .codelens-decoration', { hasText: /req\/min/ }).first();
  await lens.waitFor({ timeout: 30_000 });
  const titles = (await page.locator('.monaco-editor .codelens-decoration').allInnerTexts()).map((s) => s.replace(/\s+/g, ' '));
  assert.ok(titles.some((t) => /\d+(\.\d+)? req\/min · 0 % errors · p99 [\d.]+ ms · \d+ in 10 minutes/.test(t)), titles.join(' | '));
  assert.ok(titles.some((t) => /no request matched in the last 10 minutes/.test(t)), `the jason rule saw none: ${titles.join(' | ')}`);

  // DevMesh: Explain Request…: from, method, URL, one header, then an empty one to run it.
  await quickInput(page, '>DevMesh: Explain Request', 'DevMesh: Explain Request');
  const input = page.locator('.quick-input-widget input');
  const choose = async (row: string) => {
    await page.locator('.quick-input-list .monaco-list-row', { hasText: row }).first().waitFor({ timeout: 20_000 });
    await input.fill(row);
    await page.keyboard.press('Enter');
  };
  await choose('productpage-v1');
  await choose('GET');
  const enter = async (title: RegExp, text: string) => {
    await page.locator('.quick-input-widget .quick-input-title', { hasText: title }).waitFor({ timeout: 10_000 });
    await input.fill(text);
    await page.keyboard.press('Enter');
  };
  await enter(/3\/4/, 'http://reviews:9080/reviews/0');
  await enter(/header 1/, 'end-user: jason');
  await enter(/header 2/, '');
  const explain = page.locator('.tab', { hasText: 'Explain GET reviews:9080' });
  await explain.waitFor({ timeout: 20_000 });
  const right = page.locator('.editor-group-container').nth(1);
  await right.locator('.view-line', { hasText: /routing\.yaml:12:7/ }).first().waitFor({ timeout: 10_000 });
  const shownText = (await right.locator('.view-lines').first().innerText()).replace(/\s+/g, ' ');
  assert.match(shownText, /rule 0 matched/, shownText);
  await page.waitForTimeout(500);
  await shot(page, 'vscode-rule-insight.png', 'vscode-rule-insight.png');

  // Ctrl+click on routing.yaml:12:7 opens rule 0 of VirtualService reviews at its line.
  const at = await right.locator('.view-line', { hasText: /routing\.yaml:12:7/ }).first().evaluate((line) => {
    const walker = document.createTreeWalker(line, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const i = n.textContent!.indexOf('routing.yaml:12:7');
      if (i < 0) continue;
      const r = document.createRange();
      r.setStart(n, i + 2);
      r.setEnd(n, i + 3);
      const b = r.getBoundingClientRect();
      return { x: b.x + b.width / 2, y: b.y + b.height / 2 };
    }
    return undefined;
  });
  assert.ok(at, 'the link text is on screen');
  await page.mouse.move(at.x, at.y);
  await page.keyboard.down('Control');
  await page.mouse.click(at.x, at.y);
  await page.keyboard.up('Control');
  await waitFor('routing.yaml active at line 12', async () => {
    const active = await page.locator('.tab.active', { hasText: 'routing.yaml' }).count();
    const pos = await page.locator('.statusbar-item', { hasText: /Ln \d+, Col \d+/ }).first().innerText().catch(() => '');
    return active > 0 && /Ln 12, Col 7/.test(pos) ? true : undefined;
  }, 15_000, 200);

  // A gRPC call: the method GRPC asks for the call and, after the headers, the app's gRPC status to assume (--app-grpc-status).
  await quickInput(page, '>DevMesh: Explain Request', 'DevMesh: Explain Request');
  await choose('productpage-v1');
  await choose('GRPC');
  await enter(/gRPC call \(3\/5\)/, 'details:9080/bookinfo.details.v1.Details/GetDetails');
  await enter(/header 1/, '');
  await page.locator('.quick-input-widget .quick-input-title', { hasText: /the app's gRPC status/ }).waitFor({ timeout: 10_000 });
  await choose('UNAVAILABLE');
  await page.locator('.tab.active', { hasText: 'Explain GRPC details:9080' }).waitFor({ timeout: 20_000 });
  // The explanation is the active editor (in whichever group the link above left beside it).
  const head = await waitFor('the gRPC explanation\'s head line', async () => {
    const t = (await page.locator('.editor-group-container.active .view-lines').first().innerText().catch(() => '')).replace(/\s+/g, ' ');
    return /devmesh explain --from productpage-v1 grpc/.test(t) ? t : undefined;
  }, 15_000, 200);
  // Word wrap may break the line anywhere: compared without whitespace.
  assert.ok(head.replace(/\s+/g, '').includes('devmeshexplain--fromproductpage-v1grpcdetails:9080/bookinfo.details.v1.Details/GetDetails--app-grpc-statusUNAVAILABLE'), head);
});
