/**
 * Finding the Mesh file: the `devmesh.meshFile` setting, else every
 * `mesh.yaml` (and `*.mesh.yaml`) in the workspace whose content really is a
 * `kind: Mesh` — the activation event matches a file name, this checks the kind.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { readSettings } from './settings';

import { isMeshText } from './text';

async function isMeshFile(uri: vscode.Uri): Promise<boolean> {
  try {
    const bytes = await vscode.workspace.fs.readFile(uri);
    return isMeshText(new TextDecoder().decode(bytes.subarray(0, 64 * 1024)));
  } catch {
    return false;
  }
}

export async function findMeshFiles(): Promise<vscode.Uri[]> {
  const configured = readSettings().meshFile;
  const folder = vscode.workspace.workspaceFolders?.[0];
  if (configured && folder) {
    const uri = path.isAbsolute(configured) ? vscode.Uri.file(configured) : vscode.Uri.joinPath(folder.uri, configured);
    return (await isMeshFile(uri)) ? [uri] : [];
  }
  const found = await vscode.workspace.findFiles('**/{mesh.yaml,mesh.yml,*.mesh.yaml}', '**/{node_modules,.git,out,dist}/**', 50);
  const meshes: vscode.Uri[] = [];
  for (const uri of found.sort((a, b) => a.fsPath.length - b.fsPath.length || a.fsPath.localeCompare(b.fsPath))) {
    if (await isMeshFile(uri)) meshes.push(uri);
  }
  return meshes;
}

/** A YAML file on disk: where policies (and Mesh files) live. */
export function isYamlFile(uri: vscode.Uri): boolean {
  return uri.scheme === 'file' && /\.ya?ml$/i.test(uri.path);
}

/** The Mesh file to act on: the only one, or the user's pick among several. */
export async function pickMeshFile(prompt = 'Which Mesh?'): Promise<vscode.Uri | undefined> {
  const files = await findMeshFiles();
  if (files.length <= 1) return files[0];
  const pick = await vscode.window.showQuickPick(files.map((f) => ({ label: vscode.workspace.asRelativePath(f), uri: f })), { placeHolder: prompt });
  return pick?.uri;
}
