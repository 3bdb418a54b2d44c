/** The DevMesh commands: palette, view titles and tree context menus all land here. */
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { createMeshFile } from './create-mesh';
import { clearFaults, injectFault } from './faults';
import { resolveCli } from './cli';
import { findMeshFiles, pickMeshFile } from './mesh-files';
import { sessionOf, type MeshController } from './mesh-controller';
import { TopologyPanel } from './topology-panel';
import type { MeshItem } from './tree-view';
import { unlessNotFound } from '../simulator/control/api/client';
import { waterfall } from '../simulator/commands/waterfall';

export interface CommandDeps {
  context: vscode.ExtensionContext;
  mesh: MeshController;
  output: vscode.OutputChannel;
  /** Starts the language client if it is not running (a command may be the first thing to activate us). */
  ensureLanguageClient: () => Promise<void>;
  /** Looks for Mesh files again and turns on what a Mesh needs (after Create Mesh File wrote one). */
  onMeshFiles: () => Promise<void>;
}

export function registerCommands(d: CommandDeps): vscode.Disposable[] {
  const { context, mesh, output } = d;
  const reg = (id: string, fn: (...args: never[]) => unknown) => vscode.commands.registerCommand(id, fn as (...args: unknown[]) => unknown);
  const noMesh = () => void vscode.window.showWarningMessage('DevMesh: no Mesh file (kind: Mesh, apiVersion devmesh.dev/v1alpha1) in this workspace. Set devmesh.meshFile or add a mesh.yaml.');

  return [
    reg('devmesh.start', async () => {
      const file = await pickMeshFile('Start which Mesh?');
      if (!file) return noMesh();
      await mesh.start(file);
    }),
    reg('devmesh.stop', async () => {
      if (mesh.ownsMesh || mesh.state === 'starting') return mesh.stop();
      if (!mesh.session) return void vscode.window.showInformationMessage('DevMesh: no mesh is running.');
      const ok = await vscode.window.showWarningMessage(`This mesh (pid ${mesh.session.pid}) was started outside VS Code. Stop it?`, { modal: true }, 'Stop');
      if (ok) await mesh.stop(true);
    }),
    reg('devmesh.restart', async () => {
      const file = mesh.meshFile ?? (await pickMeshFile('Restart which Mesh?'));
      if (!file) return noMesh();
      if (mesh.state !== 'stopped') await mesh.stop(true);
      await waitForSessionGone(file);
      await mesh.start(file);
    }),
    reg('devmesh.validate', async () => validate(d)),
    reg('devmesh.init', async () => { if (await createMeshFile(output)) await d.onMeshFiles(); }),
    reg('devmesh.showTopology', () => { TopologyPanel.show(context, mesh); }),
    reg('devmesh.refresh', () => mesh.live?.refresh()),
    reg('devmesh.injectFault', (item?: MeshItem) => injectFault(mesh, targetOf(item))),
    reg('devmesh.clearFaults', (item?: MeshItem) => clearFaults(mesh, item?.kind === 'fault' ? { service: item.fault.service, workload: item.fault.workload } : targetOf(item))),
    reg('devmesh.showTraces', async (arg?: MeshItem | string) => showTraces(mesh, arg)),
    // A rule's code lens: the recent traces that rule decided a hop of.
    reg('devmesh.showRuleTraces', async (rule?: string) => { if (rule) await showTraces(mesh, { rule }); }),
    reg('devmesh.copySpiffeId', async (item?: MeshItem) => {
      const id = item?.kind === 'workload' ? item.workload.spiffeId : item?.kind === 'fact' ? item.copy : undefined;
      if (!id) return;
      await vscode.env.clipboard.writeText(id);
      void vscode.window.setStatusBarMessage(`Copied ${id}`, 3_000);
    }),
    reg('devmesh.openDashboard', async () => {
      const s = mesh.session;
      if (!s) return void vscode.window.showWarningMessage('DevMesh: no mesh is running. Run "DevMesh: Start Mesh" first.');
      if (!s.dashboardUrl) return void vscode.window.showWarningMessage(`DevMesh: this mesh (${s.apiUrl}) does not serve the dashboard; it needs a newer devmesh.`);
      await vscode.env.openExternal(vscode.Uri.parse(s.dashboardUrl, true));
    }),
    reg('devmesh.showOutput', () => output.show()),
  ];
}

function targetOf(item?: MeshItem): { service: string; workload?: string } | undefined {
  if (item?.kind === 'service') return { service: item.target };
  if (item?.kind === 'workload') return { service: item.service, workload: item.workload.name };
  return undefined;
}

async function waitForSessionGone(file: vscode.Uri): Promise<void> {
  for (let i = 0; i < 50 && sessionOf(file); i++) await new Promise((r) => setTimeout(r, 100));
}

/** `devmesh validate` over the Mesh's folder (or the workspace), printed to the output channel. */
async function validate(d: CommandDeps): Promise<void> {
  await d.ensureLanguageClient();
  const [mesh] = await findMeshFiles();
  const dir = mesh ? path.dirname(mesh.fsPath) : vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  if (!dir) return;
  const cli = resolveCli(d.context.extensionPath);
  d.output.appendLine(`devmesh: running ${cli.source}`);
  d.output.appendLine(`$ ${cli.describe} validate ${dir}`);
  const { code, stdout, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(cli.file, [...cli.args, 'validate', dir], { cwd: dir, env: { ...cli.env, NO_COLOR: '1' }, timeout: 60_000, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 2) : 0, stdout, stderr: stderr || (err && typeof err.code !== 'number' ? err.message : '') }));
  });
  d.output.append(stdout + stderr);
  const summary = stdout.trim().split('\n').pop() ?? '';
  if (code === 0) void vscode.window.showInformationMessage(`DevMesh: ${summary || 'no problems'}`);
  else if (code === 1) {
    const a = await vscode.window.showErrorMessage(`DevMesh: ${summary}`, 'Show Problems', 'Show Output');
    if (a === 'Show Problems') await vscode.commands.executeCommand('workbench.actions.view.problems');
    if (a === 'Show Output') d.output.show();
  } else void vscode.window.showErrorMessage(`DevMesh: devmesh validate could not run (${stderr.trim() || `exit ${code}`}); see the DevMesh output.`);
}

/** Recent traces (of a workload's service, with errors, or that a rule decided) in a quick pick; the chosen one opens as a text waterfall. */
async function showTraces(mesh: MeshController, arg?: MeshItem | string | { rule: string }): Promise<void> {
  const client = mesh.client;
  if (!client) return void vscode.window.showWarningMessage('DevMesh: no mesh is running. Run "DevMesh: Start Mesh" first.');
  try {
    let traceId = typeof arg === 'string' ? arg : undefined;
    if (!traceId) {
      const item = typeof arg === 'string' || (arg && 'rule' in arg) ? undefined : arg;
      const rule = arg && typeof arg === 'object' && 'rule' in arg ? arg.rule : undefined;
      const list = await unlessNotFound(client.traces({ service: item?.kind === 'workload' ? item.workload.service : undefined, errors: item?.kind === 'error', rule, limit: 50 }));
      if (list === undefined) return void vscode.window.showWarningMessage('DevMesh: this mesh\'s control API has no trace routes (GET /api/traces answered 404).');
      if (!list.traces.length) {
        return void vscode.window.showInformationMessage(rule
          ? `DevMesh: no sampled trace that ${rule} decided is in the trace store (it keeps the most recent ones).`
          : 'DevMesh: no traces yet; send some traffic through the ingress.');
      }
      const pick = await vscode.window.showQuickPick(list.traces.map((t) => ({
        label: t.root.name, description: `${t.durationMs.toFixed(1)} ms · ${t.spans} spans${t.errors ? ` · ${t.errors} error(s)` : ''}`,
        detail: `${t.traceId} · ${t.services.join(' -> ')}`, traceId: t.traceId,
      })), { placeHolder: rule ? `Recent traces ${rule} decided, newest first` : 'Recent traces, newest first', matchOnDetail: true });
      if (!pick) return;
      traceId = pick.traceId;
    }
    const trace = await unlessNotFound(client.trace(traceId));
    if (!trace) return void vscode.window.showWarningMessage(`DevMesh: trace ${traceId} is not in the mesh's trace store (it keeps the most recent ones).`);
    const doc = await vscode.workspace.openTextDocument({ language: 'plaintext', content: waterfall(trace.summary, trace.spans) + '\n' });
    await vscode.window.showTextDocument(doc, { preview: true });
  } catch (e) {
    void vscode.window.showErrorMessage(`DevMesh: could not read traces: ${e instanceof Error ? e.message : String(e)}`);
  }
}

