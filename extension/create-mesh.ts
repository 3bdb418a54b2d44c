/**
 * DevMesh: Create Mesh File — `devmesh init` in the editor, with the same
 * code (simulator/init): the services the project declares (a Compose file, a
 * Procfile, package.json workspaces) in a pick list, or one typed as
 * name=port:command when it declares none; then mesh.yaml and the first
 * service's policies are written (an existing file only after the user says
 * Overwrite) and mesh.yaml opens.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { dnsLabel, findServices, parseServiceFlag, planInit, type Found, type FoundService } from '../simulator/init';
import { existingFiles, ignoreStateDir, projectOnDisk, writePlan } from '../simulator/init/disk';

/** Writes the files; resolves with mesh.yaml's URI, or undefined when the user cancelled. */
export async function createMeshFile(output: vscode.OutputChannel): Promise<vscode.Uri | undefined> {
  const folder = await chooseFolder();
  if (!folder) {
    void vscode.window.showWarningMessage('DevMesh: open a folder first; mesh.yaml goes into it.');
    return undefined;
  }
  const root = folder.uri.fsPath;
  const found = await chooseServices(findServices(projectOnDisk(root)));
  if (!found) return undefined;
  const plan = planInit(found, dnsLabel(path.basename(root), 'mesh'));
  const existing = existingFiles(root, plan);
  if (existing.length) {
    const ok = await vscode.window.showWarningMessage(`${existing.join(' and ')} ${existing.length > 1 ? 'exist' : 'exists'} already. Overwrite?`, { modal: true }, 'Overwrite');
    if (ok !== 'Overwrite') return undefined;
  }
  const written = writePlan(root, plan);
  const ignored = ignoreStateDir(root);
  output.appendLine(`devmesh init: wrote ${written.map((f) => path.relative(root, f)).join(', ')}${ignored ? '; added .devmesh/ to .gitignore' : ''}`);
  for (const n of plan.notes) output.appendLine(`  ${n.severity === 'warning' ? 'warning' : 'note'}: ${n.message}`);
  const meshFile = vscode.Uri.file(written[0]);
  await vscode.window.showTextDocument(meshFile);
  const names = plan.services.map((s) => s.name).join(', ');
  void vscode.window.showInformationMessage(`DevMesh: wrote mesh.yaml (${names}) and ${plan.files[1].path}.`, 'Start Mesh').then((a) => {
    if (a) void vscode.commands.executeCommand('devmesh.start');
  });
  return meshFile;
}

async function chooseFolder(): Promise<vscode.WorkspaceFolder | undefined> {
  const folders = vscode.workspace.workspaceFolders ?? [];
  if (folders.length <= 1) return folders[0];
  return vscode.window.showWorkspaceFolderPick({ placeHolder: 'Create mesh.yaml in which folder?' });
}

/** The found services, all picked at first; or, when there are none, one the user types. */
async function chooseServices(found: Found): Promise<Found | undefined> {
  if (found.services.length) {
    const items = found.services.map((s) => ({ label: s.name, description: describe(s), detail: `from ${s.origin}`, picked: true, service: s }));
    const picked = await vscode.window.showQuickPick(items, { canPickMany: true, title: 'DevMesh: Create Mesh File', placeHolder: 'The services to put in mesh.yaml' });
    return picked && picked.length ? { ...found, services: picked.map((p) => p.service) } : undefined;
  }
  const typed = await vscode.window.showInputBox({
    title: 'DevMesh: Create Mesh File',
    prompt: 'No services found in a Compose file, a Procfile or package.json start scripts. Name one as name=port:command (the command is optional), or leave it empty for a placeholder to edit.',
    placeHolder: 'api=3000:node server.js',
    validateInput: (v) => { if (!v.trim()) return undefined; try { parseServiceFlag(v); return undefined; } catch (e) { return e instanceof Error ? e.message : String(e); } },
  });
  if (typed === undefined) return undefined;
  return { ...found, services: typed.trim() ? [parseServiceFlag(typed)] : [] };
}

function describe(s: FoundService): string {
  const address = s.protocol === 'http' ? `http://${s.name}:${s.port}` : `${s.name}:${s.port} (${s.protocol})`;
  const runs = s.command ? s.command.join(' ') : s.image ? `image ${s.image}` : 'you run it';
  return `${address} — ${runs}`;
}
