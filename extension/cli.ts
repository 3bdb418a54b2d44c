/**
 * The `devmesh` the extension runs (chosen by cli-choice.ts), as a command:
 * JavaScript entries run with the editor's own Node — in desktop VS Code the
 * extension host is Electron, and ELECTRON_RUN_AS_NODE makes it plain Node,
 * for the CLI and for the sidecars and `node` apps it starts in turn.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { chooseCli } from './cli-choice';
import { readSettings } from './settings';

export interface CliCommand {
  file: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  /** The command as the output channel shows it. */
  describe: string;
  /** Which devmesh this is and why it was chosen, for the output channel. */
  source: string;
}

export function resolveCli(extensionPath: string): CliCommand {
  const choice = chooseCli({
    cliPath: readSettings().cliPath,
    workspaceFolders: (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath),
    extensionPath,
    exists: existsSync,
    packageOf: (dir) => { try { return JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')); } catch { return undefined; } },
  });
  if (!choice.js) return { file: choice.file, args: choice.args, env: process.env, describe: choice.file, source: choice.source };
  return { file: process.execPath, args: [choice.file, ...choice.args], env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' }, describe: choice.file, source: choice.source };
}
