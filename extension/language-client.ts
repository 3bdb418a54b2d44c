/**
 * The language client: starts the bundled server (dist/language-server.js)
 * with the editor's own Node over IPC, for YAML files; the server leaves YAML
 * that is not a mesh policy alone. Its diagnostics carry the source
 * `devmesh`, so next to Red Hat's YAML extension each finding is shown once,
 * under a name that says who found it.
 */
import { existsSync } from 'node:fs';
import * as vscode from 'vscode';
import { LanguageClient, TransportKind, type LanguageClientOptions, type ServerOptions } from 'vscode-languageclient/node';

export const DIAGNOSTIC_SOURCE = 'devmesh';

export async function startLanguageClient(context: vscode.ExtensionContext, output: vscode.OutputChannel): Promise<LanguageClient | undefined> {
  const module = vscode.Uri.joinPath(context.extensionUri, 'dist', 'language-server.js').fsPath;
  if (!existsSync(module)) {
    output.appendLine(`devmesh: no language server at ${module}; policy diagnostics are off (run npm run build)`);
    return undefined;
  }
  const serverOptions: ServerOptions = {
    run: { module, transport: TransportKind.ipc },
    debug: { module, transport: TransportKind.ipc, options: { execArgv: ['--nolazy', '--inspect=6019'] } },
  };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [{ scheme: 'file', language: 'yaml' }],
    diagnosticCollectionName: DIAGNOSTIC_SOURCE,
    outputChannelName: 'DevMesh Language Server',
    synchronize: { fileEvents: vscode.workspace.createFileSystemWatcher('**/*.{yaml,yml}') },
    middleware: {
      handleDiagnostics: (uri, diagnostics, next) => {
        for (const d of diagnostics) d.source ||= DIAGNOSTIC_SOURCE;
        next(uri, diagnostics);
      },
    },
  };
  // The id `devmesh` makes the client read the `devmesh.trace.server` setting.
  const client = new LanguageClient('devmesh', 'DevMesh Language Server', serverOptions, clientOptions);
  await client.start();
  return client;
}
