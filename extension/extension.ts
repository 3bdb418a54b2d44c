/**
 * DevMesh for VS Code. activate() only wires the parts together; each part
 * lives in its own file and every disposable goes into context.subscriptions.
 * Closing the window (deactivate) stops a mesh this window started.
 */
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import { registerCommands } from './commands';
import { DestinationHoverProvider } from './destination-hover';
import { EXPLAIN_SCHEME, ExplainDocuments, explainRequestCommand } from './explain-request';
import type { ExplainParams } from '../language-server/requests';
import { RULE_ID } from '../webview/protocol';
import { openRule } from './open-rule';
import { startLanguageClient } from './language-client';
import { MeshController } from './mesh-controller';
import { findMeshFiles, isYamlFile } from './mesh-files';
import { createStatusBar } from './status-bar';
import { registerTopologySerializer } from './topology-panel';
import { MeshTreeProvider } from './tree-view';
import { RuleLensProvider } from './rule-lenses';

let mesh: MeshController | undefined;
let client: LanguageClient | undefined;

/** What the integration tests reach through `extension.exports`. */
export interface DevmeshApi {
  mesh: MeshController;
  tree: MeshTreeProvider;
  languageClient: () => LanguageClient | undefined;
  lenses: RuleLensProvider;
}

export async function activate(context: vscode.ExtensionContext): Promise<DevmeshApi> {
  const output = vscode.window.createOutputChannel('DevMesh');
  mesh = new MeshController(output, context.extensionPath);
  const tree = new MeshTreeProvider(mesh);
  let starting: Promise<void> | undefined;
  // Lenses ask the language server where the rules are: they redraw once it runs.
  const ensureLanguageClient = () => (starting ??= startLanguageClient(context, output).then((c) => { client = c; lenses.redraw(); }, (e: unknown) => {
    output.appendLine(`devmesh: language server failed to start: ${e instanceof Error ? e.message : String(e)}`);
  }));

  // The activation event matched a file name; only a real Mesh turns the rest on (also once one is created).
  let watching = false;
  const onMeshFiles = async () => {
    const meshes = await findMeshFiles();
    await vscode.commands.executeCommand('setContext', 'devmesh.hasMesh', meshes.length > 0);
    if (meshes.length === 0 || watching) return;
    watching = true;
    void ensureLanguageClient();
    for (const m of meshes) if (await mesh!.attach(m)) break;
    // A mesh started later in a terminal is picked up when it writes its session file.
    const watcher = vscode.workspace.createFileSystemWatcher('**/.devmesh/session.json');
    const onSession = (uri: vscode.Uri) => {
      if (mesh && mesh.state === 'stopped') {
        const meshFile = meshes.find((m) => vscode.Uri.joinPath(m, '..', '.devmesh', 'session.json').fsPath === uri.fsPath);
        if (meshFile) void mesh.attach(meshFile);
      }
    };
    // File events can be late or coalesced (and .devmesh may be excluded from watching): a slow poll backs them up.
    const poll = setInterval(() => {
      if (mesh?.state === 'stopped') void (async () => { for (const m of meshes) if (await mesh!.attach(m)) break; })();
    }, 3_000);
    context.subscriptions.push(watcher, watcher.onDidCreate(onSession), watcher.onDidChange(onSession), { dispose: () => clearInterval(poll) });
  };
  // The editor's view of the running mesh's rules and destinations, and Explain Request.
  const languageClient = () => client;
  const lenses = new RuleLensProvider(mesh, languageClient);
  const explainDocs = new ExplainDocuments();
  const yaml = [{ scheme: 'file', language: 'yaml' }];
  const policyWatcher = vscode.workspace.createFileSystemWatcher('**/*.{yaml,yml}');
  const onPolicyFile = () => explainDocs.policiesChanged(languageClient);

  // A mesh.yaml written later (by hand, or by Create Mesh File) turns it on too.
  const meshFileWatcher = vscode.workspace.createFileSystemWatcher('**/{mesh.yaml,mesh.yml,*.mesh.yaml}');

  context.subscriptions.push(
    output, mesh, tree,
    vscode.window.createTreeView('devmesh.mesh', { treeDataProvider: tree, showCollapseAll: true }),
    createStatusBar(mesh),
    registerTopologySerializer(context, mesh),
    ...registerCommands({ context, mesh, output, ensureLanguageClient, onMeshFiles }),
    { dispose: () => void client?.stop() },
    lenses,
    vscode.languages.registerCodeLensProvider(yaml, lenses),
    vscode.languages.registerHoverProvider(yaml, new DestinationHoverProvider(mesh, languageClient)),
    explainDocs,
    vscode.workspace.registerTextDocumentContentProvider(EXPLAIN_SCHEME, explainDocs),
    // Policies edited in a buffer, or changed on disk: open explanations are walked again.
    vscode.workspace.onDidChangeTextDocument((e) => { if (e.contentChanges.length && isYamlFile(e.document.uri)) explainDocs.policiesChanged(languageClient); }),
    policyWatcher, policyWatcher.onDidChange(onPolicyFile), policyWatcher.onDidCreate(onPolicyFile), policyWatcher.onDidDelete(onPolicyFile),
    vscode.languages.registerDocumentLinkProvider({ scheme: EXPLAIN_SCHEME }, explainDocs),
    vscode.commands.registerCommand('devmesh.openRule', async (rule?: string) => {
      if (typeof rule !== 'string' || !RULE_ID.test(rule)) return { error: 'DevMesh: Open Rule takes a rule id such as VirtualService/default/reviews/0.' };
      await ensureLanguageClient();
      return openRule(client, rule);
    }),
    vscode.commands.registerCommand('devmesh.explainRequest', async (given?: Partial<ExplainParams>) => {
      await ensureLanguageClient();
      return explainRequestCommand(explainDocs, client, given);
    }),
    meshFileWatcher, meshFileWatcher.onDidCreate(() => void onMeshFiles()), meshFileWatcher.onDidChange(() => void onMeshFiles()),
  );

  await vscode.commands.executeCommand('setContext', 'devmesh.state', 'stopped');
  await onMeshFiles();
  return { mesh, tree, languageClient, lenses };
}

export async function deactivate(): Promise<void> {
  await Promise.all([mesh?.shutdown(), client?.stop()]);
}
