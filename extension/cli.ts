/**
 * Which `devmesh` to run: the `devmesh.cliPath` setting; the workspace's own
 * (its node_modules, or the workspace is devmesh itself); the one shipped
 * beside this extension when it was installed from source; else `devmesh` on PATH.
 * JavaScript entries run with the editor's own Node, so no Node install is needed.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { readSettings } from './settings';

export interface CliCommand {
  file: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  describe: string;
}

function nodeEntry(js: string): CliCommand {
  // In desktop VS Code the extension host is Electron; this makes it act as plain Node.
  return { file: process.execPath, args: [js], env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' }, describe: js };
}

function isDevmeshRepo(dir: string): boolean {
  try { return JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')).name === 'devmesh'; } catch { return false; }
}

export function resolveCli(extensionPath: string): CliCommand {
  const configured = readSettings().cliPath;
  if (configured) return configured.endsWith('.js') ? nodeEntry(configured) : { file: configured, args: [], env: process.env, describe: configured };
  for (const folder of vscode.workspace.workspaceFolders ?? []) {
    const dir = folder.uri.fsPath;
    const inModules = path.join(dir, 'node_modules', 'devmesh', 'bin', 'devmesh.js');
    if (existsSync(inModules)) return nodeEntry(inModules);
    if (isDevmeshRepo(dir) && existsSync(path.join(dir, 'out', 'simulator', 'cli.js'))) return nodeEntry(path.join(dir, 'bin', 'devmesh.js'));
  }
  if (existsSync(path.join(extensionPath, 'out', 'simulator', 'cli.js'))) return nodeEntry(path.join(extensionPath, 'bin', 'devmesh.js'));
  return { file: 'devmesh', args: [], env: process.env, describe: 'devmesh (PATH)' };
}
