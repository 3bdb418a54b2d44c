/**
 * Integration tests that run inside a real VS Code extension host (loaded by
 * @vscode/test-electron's runTests through the stand-in executable), against
 * the extension loaded from source and a workspace the outer test prepared:
 * a Bookinfo mesh with free ports and one broken policy file.
 */
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import * as vscode from 'vscode';

interface TreeLike { getChildren(item?: unknown): unknown[]; getTreeItem(item: unknown): vscode.TreeItem }
interface Api {
  mesh: {
    state: string; ownsMesh: boolean; outputTail: string; session?: { apiUrl: string };
    live?: { latest?: { workloads: { name: string }[] }; refresh(): Promise<void> };
    client?: { addFault(req: { service: string; workload?: string; abort: { httpStatus: number; percentage: number } }): Promise<{ fault: { id: string; description: string } }> };
  };
  tree: TreeLike;
  lenses: { current?: { rules: { rule: string; requests: number }[] } };
}

/** Requests through the mesh's ingress in proxy form (as `curl -x` sends them), each answered. */
async function sendThroughIngress(port: number, n: number): Promise<number> {
  const http = await import('node:http');
  let ok = 0;
  for (let i = 0; i < n; i++) {
    const status = await new Promise<number>((resolve) => {
      const req = http.request({ host: '127.0.0.1', port, path: 'http://productpage:9080/productpage', headers: { host: 'productpage:9080' }, timeout: 5_000 }, (res) => {
        res.resume(); res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', () => resolve(0));
      req.on('timeout', () => req.destroy());
      req.end();
    });
    if (status === 200) ok++;
  }
  return ok;
}

const COMMANDS = ['devmesh.start', 'devmesh.stop', 'devmesh.restart', 'devmesh.validate', 'devmesh.showTopology',
  'devmesh.injectFault', 'devmesh.clearFaults', 'devmesh.showTraces', 'devmesh.openDashboard', 'devmesh.explainRequest', 'devmesh.showRuleTraces', 'devmesh.openRule'];

async function until<T>(what: string, fn: () => T | undefined | false, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function api(): Promise<Api> {
  const ext = vscode.extensions.getExtension('devmesh.devmesh');
  assert.ok(ext, 'the extension devmesh.devmesh is installed');
  return (await ext.activate()) as Api;
}

const tests: [string, () => Promise<void>][] = [
  ['the extension activates on a workspace with a Mesh and registers every command', async () => {
    const ext = vscode.extensions.getExtension('devmesh.devmesh')!;
    await until('activation by workspaceContains', () => ext.isActive, 20_000);
    const all = await vscode.commands.getCommands(true);
    for (const c of COMMANDS) assert.ok(all.includes(c), `command ${c} is registered`);
  }],
  ['the language client publishes devmesh diagnostics for a broken policy file', async () => {
    const folder = vscode.workspace.workspaceFolders![0].uri;
    const broken = vscode.Uri.joinPath(folder, 'policies', 'broken.yaml');
    await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(broken));
    const diags = await until('diagnostics on broken.yaml', () => {
      const d = vscode.languages.getDiagnostics(broken).filter((x) => x.source === 'devmesh');
      return d.length ? d : undefined;
    }, 30_000);
    const msgs = diags.map((d) => `${d.range.start.line + 1}: ${d.message}`).join('\n');
    assert.ok(diags.some((d) => d.severity === vscode.DiagnosticSeverity.Error), `an error among:\n${msgs}`);
    assert.ok(diags.some((d) => /nosuchsubset|subset/i.test(d.message)), `the unknown subset is named:\n${msgs}`);
    // A YAML file that is not a policy gets nothing from us.
    const other = vscode.Uri.joinPath(folder, 'not-a-policy.yaml');
    await vscode.workspace.openTextDocument(other);
    await new Promise((r) => setTimeout(r, 1_000));
    assert.equal(vscode.languages.getDiagnostics(other).filter((x) => x.source === 'devmesh').length, 0);
    // devmesh up refuses a workspace with errors: the Start Mesh test removes the broken file.
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  }],
  ['Start Mesh runs devmesh up, and the tree shows services, workloads and their sidecars', async () => {
    const a = await api();
    const broken = vscode.Uri.joinPath(vscode.workspace.workspaceFolders![0].uri, 'policies', 'broken.yaml');
    await vscode.workspace.fs.delete(broken).then(undefined, () => undefined); // gone already when the diagnostics test ran
    // The editor may keep the closed document alive; the language server drops the deleted file all the same.
    await until('the language server to drop the broken policy\'s findings', () => vscode.languages.getDiagnostics(broken).filter((x) => x.source === 'devmesh').length === 0, 15_000);
    await vscode.commands.executeCommand('devmesh.start');
    await until('the mesh to run', () => a.mesh.state === 'running' && (a.mesh.live?.latest?.workloads.length ?? 0) > 0, 60_000)
      .catch((e: Error) => { throw new Error(`${e.message}; state ${a.mesh.state}; devmesh up said:\n${a.mesh.outputTail}`); });
    assert.ok(a.mesh.ownsMesh, 'the extension started this mesh');
    const controlPort = vscode.workspace.getConfiguration('devmesh').get<number>('controlPort', 0);
    if (controlPort > 0) assert.equal(a.mesh.session?.apiUrl, `http://127.0.0.1:${controlPort}`, 'devmesh.controlPort was passed as --control-port');
    const roots = a.tree.getChildren();
    const labels = roots.map((r) => String(a.tree.getTreeItem(r).label));
    for (const s of ['productpage', 'details', 'reviews', 'ratings', 'Active faults', 'Recent errors']) assert.ok(labels.includes(s), `root ${s} in ${labels.join(', ')}`);
    const reviews = roots[labels.indexOf('reviews')];
    const workloads = a.tree.getChildren(reviews).map((w) => String(a.tree.getTreeItem(w).label));
    assert.deepEqual(workloads.sort(), ['reviews-v1', 'reviews-v2', 'reviews-v3']);
    const v2 = a.tree.getChildren(reviews).find((w) => a.tree.getTreeItem(w).label === 'reviews-v2');
    const facts = a.tree.getChildren(v2).map((f) => { const ti = a.tree.getTreeItem(f); return `${ti.label}: ${ti.description}`; });
    assert.ok(facts.some((f) => /^sidecar: inbound \d+ · outbound \d+/.test(f)), facts.join('\n'));
    assert.ok(facts.includes('identity: spiffe://cluster.local/ns/default/sa/bookinfo-reviews'), facts.join('\n'));
    assert.ok(facts.some((f) => f.startsWith('health: sidecar up')), facts.join('\n'));
    assert.ok(facts.some((f) => f.startsWith('ejected: ')), facts.join('\n'));
  }],
  ['a runtime fault shows under Active faults, and Clear Faults removes it', async () => {
    const a = await api();
    const r = await a.mesh.client!.addFault({ service: 'reviews', workload: 'reviews-v2', abort: { httpStatus: 503, percentage: 100 } });
    assert.match(r.fault.description, /abort 503 \(100%\) on reviews workload reviews-v2/);
    await a.mesh.live!.refresh();
    const faultsRoot = () => a.tree.getChildren().find((x) => a.tree.getTreeItem(x).label === 'Active faults');
    const faults = a.tree.getChildren(faultsRoot()).map((f) => `${a.tree.getTreeItem(f).label}: ${a.tree.getTreeItem(f).description}`);
    assert.deepEqual(faults, ['reviews-v2: abort 503 100%']);
    await vscode.commands.executeCommand('devmesh.clearFaults');
    await a.mesh.live!.refresh();
    assert.deepEqual(a.tree.getChildren(faultsRoot()), []);
  }],
  ['code lenses over each rule count the real traffic of the running mesh, under the ids its sidecars count', async () => {
    const a = await api();
    const live = a.mesh.live!.latest as unknown as { ingress: { port: number } };
    const ok = await sendThroughIngress(live.ingress.port, 20);
    assert.ok(ok > 0, 'the demo answered through the ingress');
    // productpage calls reviews over HTTP and details over gRPC (CONNECT): each hop's counts arrive in its own telemetry batch.
    const counted = ['VirtualService/default/reviews/1', 'VirtualService/default/details/0', 'AuthorizationPolicy/default/details-viewer/0'];
    await until('the lenses\' counters to see the traffic', () => counted.every((id) => a.lenses.current?.rules.some((r) => r.rule === id && r.requests > 0)), 30_000);
    const folder = vscode.workspace.workspaceFolders![0].uri;
    const lensesOf = async (rel: string) => {
      const uri = vscode.Uri.joinPath(folder, 'policies', rel);
      await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(uri));
      const lenses = await vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', uri);
      return lenses.filter((l) => l.command?.command === 'devmesh.showRuleTraces')
        .map((l) => ({ line: l.range.start.line + 1, rule: String(l.command!.arguments![0]), title: l.command!.title }));
    };
    const routing = await lensesOf('routing.yaml');
    const at = (rule: string) => routing.find((l) => l.rule === rule);
    // The default route of reviews (http[1], line 20) took every request; the jason rule (http[0], line 12) none.
    assert.equal(at('VirtualService/default/reviews/1')?.line, 20, JSON.stringify(routing));
    assert.match(at('VirtualService/default/reviews/1')!.title, /req\/min · 0 % errors · p99 [\d.]+ ms · \d+ in 10 minutes/);
    assert.equal(at('VirtualService/default/reviews/0')?.line, 12);
    assert.match(at('VirtualService/default/reviews/0')!.title, /no request matched in the last 10 minutes/);
    assert.match(at('VirtualService/default/details/0')!.title, /req\/min/);
    const security = await lensesOf('security.yaml');
    const details = security.find((l) => l.rule === 'AuthorizationPolicy/default/details-viewer/0');
    assert.ok(details, JSON.stringify(security));
    assert.match(details.title, /req\/min · 0 % errors/);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  }],
  ['Show Topology opens the webview panel', async () => {
    await vscode.commands.executeCommand('devmesh.showTopology');
    await until('the topology tab', () => vscode.window.tabGroups.all.flatMap((g) => g.tabs).some((t) => t.label === 'DevMesh Topology'));
  }],
  ['Explain Request shows the walk beside the policies, with links that open each deciding rule at its line', async () => {
    const folder = vscode.workspace.workspaceFolders![0].uri;
    const routing = vscode.Uri.joinPath(folder, 'policies', 'routing.yaml');
    await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(routing));
    const shownDoc = await vscode.commands.executeCommand<{ uri?: vscode.Uri; error?: string }>('devmesh.explainRequest',
      { from: 'productpage-v1', method: 'GET', url: 'http://reviews:9080/reviews/0', headers: { 'end-user': 'jason' } });
    assert.equal(shownDoc?.error, undefined);
    const uri = shownDoc!.uri!;
    const shown = vscode.window.activeTextEditor!;
    assert.equal(shown.document.uri.toString(), uri.toString());
    assert.equal(shown.viewColumn, vscode.ViewColumn.Two, 'beside the policy file');
    const text = shown.document.getText();
    assert.match(text, /devmesh explain --from productpage-v1 GET http:\/\/reviews:9080\/reviews\/0 -H 'end-user: jason'/);
    assert.match(text, /rule 0 .*matched/);
    assert.match(text, /reviews-v2/);
    const links = await vscode.commands.executeCommand<vscode.DocumentLink[]>('vscode.executeLinkProvider', uri);
    const rule0 = links.find((l) => l.target?.path.endsWith('/policies/routing.yaml') && l.target.fragment === 'L12,7');
    assert.ok(rule0, `a link to routing.yaml:12:7 among ${links.map((l) => l.target?.toString()).join(', ')}`);
    await vscode.commands.executeCommand('vscode.open', rule0.target);
    await until('routing.yaml opened at the rule', () => {
      const e = vscode.window.activeTextEditor;
      return e && e.document.uri.path.endsWith('/policies/routing.yaml') && e.selection.active.line === 11 ? e : undefined;
    }, 10_000).catch((e: Error) => { throw new Error(`${e.message}: active ${vscode.window.activeTextEditor?.document.uri.toString()} line ${vscode.window.activeTextEditor?.selection.active.line}`); });
    // An unsaved edit to the rule redraws the open explanation: jason no longer matches rule 0, the default route takes him to v1.
    const editor = vscode.window.activeTextEditor!;
    const at = editor.document.getText().indexOf('exact: jason');
    assert.ok(at > 0, 'the jason match in routing.yaml');
    const edit = new vscode.WorkspaceEdit();
    edit.replace(editor.document.uri, new vscode.Range(editor.document.positionAt(at), editor.document.positionAt(at + 'exact: jason'.length)), 'exact: jane');
    assert.ok(await vscode.workspace.applyEdit(edit));
    const redrawn = await until('the explanation redrawn from the edited buffer', () => {
      const t = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString())?.getText();
      return t && t !== text && /reviews-v1/.test(t) ? t : undefined;
    }, 15_000);
    assert.doesNotMatch(redrawn, /rule 0 .*matched/, redrawn);
    await vscode.commands.executeCommand('workbench.action.files.revert');
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  }],
  ['Explain Request of a gRPC call takes the app\'s gRPC status as an assumption: UNAVAILABLE is retried by the default policy', async () => {
    const shownDoc = await vscode.commands.executeCommand<{ uri?: vscode.Uri; error?: string }>('devmesh.explainRequest',
      { from: 'productpage-v1', method: 'GRPC', url: 'details:9080/bookinfo.details.v1.Details/GetDetails', headers: {}, appGrpcStatus: 14 });
    assert.equal(shownDoc?.error, undefined);
    const text = vscode.workspace.textDocuments.find((d) => d.uri.toString() === shownDoc!.uri!.toString())!.getText();
    assert.match(text, /^# devmesh explain --from productpage-v1 grpc details:9080\/bookinfo\.details\.v1\.Details\/GetDetails --app-grpc-status UNAVAILABLE$/m);
    assert.match(text, /200 grpc-status 14 UNAVAILABLE from details-v1 .*after 3 attempts/);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  }],
  ['Open Rule (the topology edge panel\'s rule links) opens the policy file at the rule the sidecars counted', async () => {
    const opened = await vscode.commands.executeCommand<{ uri?: vscode.Uri; line?: number; error?: string }>('devmesh.openRule', 'VirtualService/default/reviews/1');
    assert.equal(opened?.error, undefined);
    const e = vscode.window.activeTextEditor!;
    assert.ok(e.document.uri.path.endsWith('/policies/routing.yaml'), e.document.uri.toString());
    assert.equal(e.selection.active.line, 19, 'the default route of reviews (http[1]) starts on line 20');
    const missing = await vscode.commands.executeCommand<{ error?: string }>('devmesh.openRule', 'VirtualService/default/reviews/7');
    assert.match(missing?.error ?? '', /no policy file in this workspace holds the rule VirtualService\/default\/reviews\/7/);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  }],
  ['Stop Mesh stops the mesh the extension started', async () => {
    const a = await api();
    await vscode.commands.executeCommand('devmesh.stop');
    await until('the mesh to stop', () => a.mesh.state === 'stopped' && !a.mesh.ownsMesh, 20_000);
    const session = path.join(vscode.workspace.workspaceFolders![0].uri.fsPath, '.devmesh', 'session.json');
    await until('the session file to go', () => { try { require('node:fs').statSync(session); return false; } catch { return true; } }, 10_000);
  }],
];

/** What the outer test found missing in this build (DEVMESH_E2E_SKIP=lsp,mesh), with the reason. */
const skips = new Map((process.env.DEVMESH_E2E_SKIP ?? '').split(';').filter(Boolean).map((s) => s.split('=') as [string, string]));
const needs = (name: string): string | undefined =>
  /diagnostics|Explain Request|Open Rule/.test(name) ? 'lsp' : /Start Mesh|Stop Mesh|runtime fault|code lenses/.test(name) ? 'mesh' : undefined;

export async function run(): Promise<void> {
  let failed = 0;
  for (const [name, fn] of tests) {
    const t0 = Date.now();
    const need = needs(name);
    if (need && skips.has(need)) { console.log(`ok - ${name} # SKIP ${skips.get(need)}`); continue; }
    try {
      await fn();
      console.log(`ok - ${name} (${Date.now() - t0} ms)`);
    } catch (e) {
      failed++;
      console.log(`not ok - ${name}\n  ${(e instanceof Error ? e.stack ?? e.message : String(e)).split('\n').join('\n  ')}`);
    }
  }
  console.log(`${tests.length - failed}/${tests.length} extension-host tests passed`);
  if (failed) throw new Error(`${failed} extension-host test(s) failed`);
}
