/**
 * The extension as a user installs it: only the packaged .vsix in code-server
 * (no devmesh.cliPath, no node_modules in the workspace, no devmesh on PATH),
 * so the CLI, the control plane and the sidecar all come out of the .vsix and
 * run with the editor's own Node. A project with a mesh.yaml and two services:
 * DevMesh: Start Mesh, the workloads in the Mesh view and in the topology, a
 * request through the mesh. A project with only a docker-compose.yml: the
 * welcome view's Create Mesh File writes mesh.yaml from it.
 */
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { ARTIFACTS, editorSkipReason, meshSkipReason, waitFor } from './harness/env';
import { launchBrowser, type Browser } from './harness/browser';
import { openWorkbench, packageVsix, quickInput, startCodeServer, type CodeServer } from './harness/code-server';
import { readSession } from './harness/mesh';
import { projectWithCompose, projectWithMesh, type OwnProject } from './own-project';

const skip = editorSkipReason() ?? meshSkipReason();

let cs: CodeServer | undefined;
let browser: Browser | undefined;
let vsix: string | undefined;
let own: OwnProject | undefined;
let composeDir: string | undefined;

before(async () => {
  if (skip) return;
  vsix = packageVsix();
  own = await projectWithMesh();
  composeDir = await projectWithCompose();
  // PATH without any devmesh: only what the .vsix carries can run.
  cs = await startCodeServer(vsix);
  browser = await launchBrowser();
});

after(async () => {
  // Should a test fail before Stop Mesh, the mesh must not outlive us.
  const s = own && readSession(path.join(own.dir, 'mesh.yaml'));
  if (s) { try { process.kill(s.pid, 'SIGTERM'); } catch { /* gone */ } }
  await browser?.close();
  await cs?.close();
  for (const dir of [own?.dir, composeDir, vsix && path.dirname(vsix)]) if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A request in proxy form to the ingress, as `curl -x` sends it; the body. */
async function viaIngress(port: number, url: string): Promise<string> {
  const http = await import('node:http');
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: url, headers: { host: new URL(url).host }, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => { body += c; }).on('end', () => resolve(body));
    }).on('error', reject);
  });
}

async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, name) });
}

/** The DevMesh icon in the activity bar. */
const devmeshIcon = (page: Page) => page.locator('.activitybar .action-item a[aria-label^="DevMesh"]').first();

/** The command line of a process, from /proc. */
const cmdline = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');

test('Start Mesh in a project with only a mesh.yaml runs the CLI from the .vsix; the Mesh view and the topology show its workloads', { skip, timeout: 180_000 }, async () => {
  const page = browser!.ctx.pages()[0] ?? await browser!.ctx.newPage();
  await openWorkbench(page, cs!, own!.dir);
  // The palette lists what is registered when it opens: wait until the extension's contributions are in.
  await devmeshIcon(page).waitFor({ timeout: 60_000 });
  await quickInput(page, '>DevMesh: Start Mesh', 'DevMesh: Start Mesh');
  await page.locator('.statusbar-item', { hasText: 'mesh running' }).first().waitFor({ timeout: 60_000 });

  // The running devmesh up and its sidecars are the files inside the installed extension.
  const session = readSession(path.join(own!.dir, 'mesh.yaml'))!;
  assert.match(cmdline(session.pid), /devmesh\.devmesh-[\d.]+\/bin\/devmesh\.js up -f /, 'devmesh up is the .vsix\'s bin/devmesh.js');
  const topology = await (await fetch(`${session.apiUrl}/api/topology`, { headers: { authorization: `Bearer ${session.token}` } })).json() as { workloads: { name: string; pids: { sidecar: number } }[] };
  assert.match(cmdline(topology.workloads[0].pids.sidecar), /devmesh\.devmesh-[\d.]+\/dist\/sidecar\.js/, 'the sidecar is the .vsix\'s dist/sidecar.js');

  // The output channel says which devmesh runs.
  await quickInput(page, '>DevMesh: Show Output', 'DevMesh: Show Output');
  const output = page.locator('.panel .monaco-editor').first();
  await output.click();
  await page.keyboard.press('Control+Home'); // the first lines: the editor draws only what is in view
  await waitFor('the output channel to name the CLI', async () => {
    const text = (await output.locator('.view-lines').innerText()).replace(/\s+/g, ' ');
    return /devmesh: running the devmesh [\d.]+ that comes with the extension/.test(text) ? true : undefined;
  }, 20_000, 250);

  // The Mesh view: each service with its workload.
  await devmeshIcon(page).click();
  const view = page.locator('.pane-body').filter({ has: page.locator('.monaco-list-row') }).first();
  for (const name of ['back', 'front', ...own!.workloads]) await view.locator('.monaco-list-row', { hasText: name }).first().waitFor({ timeout: 20_000 });

  // The topology: one node per workload and the ingress, and an edge once a request went through.
  await quickInput(page, '>DevMesh: Show Topology', 'DevMesh: Show Topology');
  const frame = page.frameLocator('iframe.webview.ready').frameLocator('#active-frame');
  await waitFor('the graph nodes', async () => ((await frame.locator('svg#topology g.node').count()) === own!.workloads.length + 1 ? true : undefined), 40_000, 250);
  const ids = await frame.locator('svg#topology g.node').evaluateAll((els) => els.map((e) => e.getAttribute('data-id')));
  assert.deepEqual(ids.filter((x) => x !== 'istio-ingressgateway').sort(), own!.workloads);
  assert.equal(await viaIngress(own!.ingressPort, 'http://front:8080/'), 'front got: hello from back');
  await waitFor('an edge front-v1 -> back-v1 in the webview', async () => {
    const edges = await frame.locator('svg#topology g.edge').evaluateAll((els) => els.map((e) => e.getAttribute('data-id') ?? ''));
    return edges.some((e) => e.includes('front-v1') && e.includes('back-v1')) ? true : undefined;
  }, 30_000, 250);
  await shot(page, 'own-project-topology.png');

  // Stop Mesh stops everything the window started.
  await quickInput(page, '>DevMesh: Stop Mesh', 'DevMesh: Stop Mesh');
  await waitFor('the session file to go', () => (readSession(path.join(own!.dir, 'mesh.yaml')) ? undefined : true), 20_000);
  await waitFor('devmesh up and the sidecars to exit', () => ([session.pid, ...topology.workloads.map((w) => w.pids.sidecar)].every((p) => !existsSync(`/proc/${p}`)) ? true : undefined), 20_000);
});

test('in a project with only a docker-compose.yml, the welcome view\'s Create Mesh File writes mesh.yaml and policies/ from it', { skip, timeout: 120_000 }, async () => {
  const page = browser!.ctx.pages()[0];
  await openWorkbench(page, cs!, composeDir!);
  await devmeshIcon(page).click({ timeout: 60_000 });
  await page.locator('.welcome-view-content a, .welcome-view-content .monaco-button', { hasText: 'Create Mesh File' }).first().click({ timeout: 30_000 });
  // Both Compose services are offered, picked; Enter accepts.
  const rows = page.locator('.quick-input-list .monaco-list-row');
  await rows.filter({ hasText: 'front' }).first().waitFor({ timeout: 20_000 });
  await shot(page, 'own-project-create-mesh-file.png');
  assert.deepEqual((await rows.allInnerTexts()).map((t) => /^(back|front)http:\/\/\1:8080/.exec(t.replace(/\s+/g, ''))?.[1]).sort(), ['back', 'front']);
  await page.keyboard.press('Enter');
  await page.locator('.tab', { hasText: 'mesh.yaml' }).waitFor({ timeout: 20_000 });
  const mesh = readFileSync(path.join(composeDir!, 'mesh.yaml'), 'utf8');
  assert.match(mesh, /from docker-compose\.yml/);
  assert.match(mesh, /- name: back\n/);
  assert.match(mesh, /- name: front\n/);
  assert.ok(existsSync(path.join(composeDir!, 'policies', 'back.yaml')), 'policies/back.yaml was written');
  // The view now knows there is a Mesh: the welcome offers Start Mesh.
  await page.locator('.welcome-view-content', { hasText: 'No mesh is running' }).first().waitFor({ timeout: 20_000 });
});
