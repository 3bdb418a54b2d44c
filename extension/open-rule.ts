/**
 * DevMesh: Open Rule — a rule id as the sidecars count it (the topology's
 * edge panel lists them) opened at its line in the policy file that holds
 * it. The language server knows each file's rule sites (the same ids as the
 * code lenses), so the file is found by asking it about the workspace's
 * policy files rather than by parsing YAML here.
 */
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import { RuleSitesRequest } from '../language-server/requests';
import { isYamlFile } from './mesh-files';

/** Where the rule is, or what went wrong (also shown to the user). */
export async function openRule(client: LanguageClient | undefined, rule: string): Promise<{ uri?: vscode.Uri; line?: number; error?: string }> {
  const fail = (error: string) => { void vscode.window.showWarningMessage(`DevMesh: ${error}`); return { error }; };
  if (!client) return fail('the language server is not running, and it finds the rule; see the DevMesh output.');
  // Open buffers first (unsaved rules count), then the workspace's YAML files.
  const open = vscode.workspace.textDocuments.map((d) => d.uri).filter(isYamlFile);
  const found = await vscode.workspace.findFiles('**/*.{yaml,yml}', '**/{node_modules,.devmesh,.git}/**', 2_000);
  const seen = new Set<string>();
  for (const uri of [...open, ...found]) {
    if (seen.has(uri.toString())) continue;
    seen.add(uri.toString());
    const sites = await client.sendRequest(RuleSitesRequest, { uri: uri.toString() }).catch(() => []);
    const site = sites.find((s) => s.rule === rule);
    if (!site) continue;
    const at = new vscode.Position(site.range.start.line, site.range.start.character);
    await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(uri), { selection: new vscode.Range(at, at), preview: false });
    return { uri, line: at.line };
  }
  return fail(`no policy file in this workspace holds the rule ${rule} (it may have been removed since the mesh counted it).`);
}
