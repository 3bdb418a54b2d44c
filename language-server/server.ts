/**
 * The transport around the language service: LSP over stdio (any editor) or
 * Node IPC (the VS Code extension). It indexes the workspace folders at
 * start, keeps the index current from open buffers (unsaved text wins) and
 * file-change notifications, and publishes diagnostics for every file whose
 * findings changed — so editing a DestinationRule re-checks the
 * VirtualServices that use it.
 */
import { promises as fs } from 'node:fs';
import { PerformanceObserver } from 'node:perf_hooks';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  CodeActionKind, createConnection, DidChangeWatchedFilesNotification, FileChangeType, IPCMessageReader, IPCMessageWriter,
  ProposedFeatures, StreamMessageReader, StreamMessageWriter, TextDocuments, TextDocumentSyncKind,
  type Connection, type Diagnostic, type InitializeParams, type InitializeResult,
} from 'vscode-languageserver/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { Workspace } from '../simulator/policy';
import { collectPolicyFiles, readReferencedFile } from '../simulator/policy-files';
import { DestinationAtRequest, ExplainRequest, ExplainSourcesRequest, RuleSitesRequest } from './requests';
import { LanguageService } from './service';

/**
 * Diagnostics wait this long after a keystroke that follows another one
 * closely (a burst of typing is checked once, at its end). The first
 * keystroke after a pause is checked at once.
 */
export const DEBOUNCE_MS = 50;

const YAML = /\.ya?ml$/i;

/** DEVMESH_LSP_TRACE=1 logs parse and check times to stderr. */
const TRACE = process.env.DEVMESH_LSP_TRACE === '1';
if (TRACE) {
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) if (e.duration > 5) process.stderr.write(`devmesh lsp: gc ${((e as unknown as { detail?: { kind?: number } }).detail)?.kind ?? '?'} ${e.duration.toFixed(1)} ms\n`);
  }).observe({ entryTypes: ['gc'] });
}

export type Transport = 'stdio' | 'ipc';

export function createServerConnection(transport: Transport): Connection {
  if (transport === 'ipc') return createConnection(ProposedFeatures.all, new IPCMessageReader(process), new IPCMessageWriter(process));
  // Nothing else may write to stdout: it is the protocol channel.
  console.log = (...args: unknown[]) => process.stderr.write(args.map(String).join(' ') + '\n');
  process.stdin.on('end', () => process.exit(0));
  return createConnection(ProposedFeatures.all, new StreamMessageReader(process.stdin), new StreamMessageWriter(process.stdout));
}

export function startServer(connection: Connection, service = new LanguageService(new Workspace(), readReferencedFile)): void {
  const documents = new TextDocuments(TextDocument);
  const published = new Map<string, string>();
  const pending = new Set<string>();
  let folders: string[] = [];
  let watchRegistration = false;
  let timer: NodeJS.Timeout | undefined;
  let timerIsLeading = false;
  let lastChange = 0;
  // Until the folders are indexed, findings would be wrong (no Mesh yet): hold them.
  let indexed = false;

  connection.onInitialize((params: InitializeParams): InitializeResult => {
    folders = (params.workspaceFolders?.map((f) => f.uri) ?? (params.rootUri ? [params.rootUri] : []))
      .filter((u) => u.startsWith('file:'))
      .map((u) => fileURLToPath(u));
    watchRegistration = params.capabilities.workspace?.didChangeWatchedFiles?.dynamicRegistration === true;
    return {
      capabilities: {
        textDocumentSync: TextDocumentSyncKind.Incremental,
        completionProvider: { triggerCharacters: [':', ' ', '-', '/'], resolveProvider: false },
        hoverProvider: true,
        definitionProvider: true,
        referencesProvider: true,
        codeActionProvider: { codeActionKinds: [CodeActionKind.QuickFix] },
        documentSymbolProvider: true,
        foldingRangeProvider: true,
      },
      serverInfo: { name: 'devmesh' },
    };
  });

  connection.onInitialized(async () => {
    if (watchRegistration) {
      await connection.client.register(DidChangeWatchedFilesNotification.type, { watchers: [{ globPattern: '**/*.{yaml,yml}' }] });
    }
    const started = performance.now();
    const files = await indexFolders(folders);
    connection.console.info(`devmesh: indexed ${files} YAML files in ${Math.round(performance.now() - started)} ms`);
    indexed = true;
    flush();
  });

  /** Reads every YAML file under the folders; an open buffer keeps its unsaved text. */
  async function indexFolders(roots: string[]): Promise<number> {
    if (roots.length === 0) return 0;
    let files: string[] = [];
    try {
      files = await collectPolicyFiles(roots);
    } catch (err) {
      connection.console.warn(`devmesh: cannot index ${roots.join(', ')}: ${(err as Error).message}`);
      return 0;
    }
    await Promise.all(files.map(async (f) => {
      const uri = pathToFileURL(f).href;
      if (documents.get(uri)) return;
      try {
        service.setFile(uri, await fs.readFile(f, 'utf8'));
      } catch {
        // Vanished or unreadable between listing and reading: the watcher will tell us if it comes back.
      }
    }));
    return files.length;
  }

  documents.onDidChangeContent((e) => {
    const started = performance.now();
    if (service.setFile(e.document.uri, e.document.getText())) schedule(e.document.uri);
    if (TRACE) process.stderr.write(`devmesh lsp: parsed ${e.document.uri} in ${(performance.now() - started).toFixed(1)} ms\n`);
  });

  documents.onDidClose(async (e) => {
    // Closing without saving: the file on disk is the truth again.
    const uri = e.document.uri;
    const text = await readUri(uri);
    if (text === undefined) service.removeFile(uri);
    else service.setFile(uri, text);
    schedule(uri);
  });

  connection.onDidChangeWatchedFiles(async (params) => {
    for (const change of params.changes) {
      if (!YAML.test(change.uri)) continue;
      if (change.type === FileChangeType.Deleted) {
        // Gone from disk, so gone from the mesh `devmesh up` would read — even when an editor still holds
        // its closed or deleted buffer (typing in it again brings it back through didChange).
        service.removeFile(change.uri);
      } else if (documents.get(change.uri)) {
        continue;
      } else {
        const text = await readUri(change.uri);
        if (text === undefined) service.removeFile(change.uri);
        else service.setFile(change.uri, text);
      }
      schedule(change.uri);
    }
  });

  function schedule(uri: string): void {
    pending.add(uri);
    if (!indexed) return;
    const now = performance.now();
    const quiet = now - lastChange >= DEBOUNCE_MS;
    lastChange = now;
    if (timer) {
      if (!timerIsLeading) {
        clearTimeout(timer);
        timer = setTimeout(flush, DEBOUNCE_MS);
      }
      return;
    }
    timerIsLeading = quiet;
    timer = setTimeout(flush, quiet ? 0 : DEBOUNCE_MS);
  }

  /** Re-checks the workspace and publishes the files whose diagnostics changed, the edited ones first. */
  function flush(): void {
    timer = undefined;
    const started = performance.now();
    const byFile = service.diagnosticsByFile();
    const first = [...pending].filter((u) => byFile.has(u) || published.has(u));
    pending.clear();
    const send = (uri: string, diagnostics: Diagnostic[]) => {
      const key = JSON.stringify(diagnostics);
      if ((published.get(uri) ?? '[]') === key) return;
      if (diagnostics.length) published.set(uri, key);
      else published.delete(uri);
      void connection.sendDiagnostics({ uri, diagnostics });
    };
    for (const uri of first) send(uri, byFile.get(uri) ?? []);
    for (const [uri, diagnostics] of byFile) send(uri, diagnostics);
    // Files that left the workspace (deleted) lose their diagnostics.
    for (const uri of [...published.keys()]) if (!byFile.has(uri)) send(uri, []);
    if (TRACE) process.stderr.write(`devmesh lsp: checked ${byFile.size} files in ${(performance.now() - started).toFixed(1)} ms\n`);
  }

  connection.onCompletion((p) => service.completion(p.textDocument.uri, p.position));
  connection.onHover((p) => service.hover(p.textDocument.uri, p.position));
  connection.onDefinition((p) => service.definition(p.textDocument.uri, p.position));
  connection.onReferences((p) => service.references(p.textDocument.uri, p.position, p.context.includeDeclaration));
  connection.onCodeAction((p) => service.codeActions(p.textDocument.uri, p.range));
  connection.onDocumentSymbol((p) => service.documentSymbols(p.textDocument.uri));
  connection.onFoldingRanges((p) => service.foldingRanges(p.textDocument.uri));
  // devmesh's own requests (the VS Code extension's code lenses, live hover and Explain Request); any client may send them.
  connection.onRequest(RuleSitesRequest, (p) => service.ruleSites(p.uri));
  connection.onRequest(DestinationAtRequest, (p) => service.destinationAt(p.uri, p.position));
  connection.onRequest(ExplainSourcesRequest, () => service.explainSources());
  connection.onRequest(ExplainRequest, (p) => service.explain(p, (uri) => displayUri(uri, folders)));

  documents.listen(connection);
  connection.listen();
}

/** A file as the explain text names it: relative to the workspace folder that holds it, as the CLI names it relative to its cwd. */
export function displayUri(uri: string, folders: readonly string[]): string {
  if (!uri.startsWith('file:')) return uri;
  const file = fileURLToPath(uri);
  const folder = folders.find((f) => !path.relative(f, file).startsWith('..'));
  return folder ? path.relative(folder, file) : file;
}

async function readUri(uri: string): Promise<string | undefined> {
  if (!uri.startsWith('file:')) return undefined;
  try {
    return await fs.readFile(fileURLToPath(uri), 'utf8');
  } catch {
    return undefined;
  }
}

/** Parses the transport flags editors pass (`--stdio`, `--node-ipc`). */
export function transportFromArgs(argv: readonly string[]): Transport {
  return argv.includes('--node-ipc') ? 'ipc' : 'stdio';
}
