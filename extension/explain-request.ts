/**
 * DevMesh: Explain Request… — the request as inputs (the workload it leaves
 * from, method, URL, headers), then `devmesh explain`'s walk over the
 * workspace as the editor holds it (the language server runs it, so unsaved
 * edits count) shown beside the policy files as a read-only document; each
 * `file:line:col` in it is a link that opens that rule or policy there.
 */
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import { ExplainRequest, ExplainSourcesRequest, type ExplainParams } from '../language-server/requests';
import { grpcCall } from '../simulator/explain/grpcCall';
import { GRPC_STATUS, GRPC_STATUS_NAMES, grpcStatusName } from '../simulator/policy/grpc-status';

export const EXPLAIN_SCHEME = 'devmesh-explain';
const METHODS: vscode.QuickPickItem[] = [...['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'].map((label) => ({ label })), { label: 'GRPC', description: 'a gRPC call: host:port/package.Service/Method' }];
/** The app's gRPC status to assume, as `--app-grpc-status` takes it: unknown first. */
const APP_GRPC_STATUS: Array<vscode.QuickPickItem & { code?: number }> = [
  { label: '(unknown)', description: 'the app\'s answer is not assumed' },
  ...GRPC_STATUS_NAMES.map((name) => ({ label: name, description: String(GRPC_STATUS[name]), code: GRPC_STATUS[name] })),
];
const LOCATION = /(?<![\w/.-])([\w./-]+\.ya?ml):(\d+):(\d+)/g;

interface Shown { text: string; files: Record<string, string>; req: ExplainParams }

/**
 * The explain documents: their text, the URI of each file their text names,
 * and the request each explains, so that an edit to a policy (saved or not)
 * redraws every explanation still open from the new walk.
 */
export class ExplainDocuments implements vscode.TextDocumentContentProvider, vscode.DocumentLinkProvider, vscode.Disposable {
  private readonly docs = new Map<string, Shown>();
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;
  private n = 0;
  private redraw?: ReturnType<typeof setTimeout>;
  private redrawing: Promise<void> = Promise.resolve();
  /** Explanations added whose documents are still being opened: a redraw in between must not take them for closed ones. */
  private readonly opening = new Set<string>();

  add(title: string, shown: Shown): vscode.Uri {
    const uri = vscode.Uri.from({ scheme: EXPLAIN_SCHEME, path: `/${title.replace(/[/\\]/g, '∕')} (${++this.n})` });
    this.docs.set(uri.toString(), shown);
    this.opening.add(uri.toString());
    return uri;
  }

  /** The document of `add`'s explanation is open (or failed to open): from now on a redraw that finds it closed forgets it. */
  opened(uri: vscode.Uri): void { this.opening.delete(uri.toString()); }

  /** A policy changed: walk each open explanation's request again, once typing pauses. */
  policiesChanged(client: () => LanguageClient | undefined): void {
    if (!this.docs.size) return;
    clearTimeout(this.redraw);
    this.redraw = setTimeout(() => { this.redrawing = this.redrawing.then(() => this.redrawOpen(client())); }, 300);
  }

  private async redrawOpen(client: LanguageClient | undefined): Promise<void> {
    if (!client) return;
    const open = new Set(vscode.workspace.textDocuments.map((d) => d.uri.toString()));
    for (const [key, shown] of [...this.docs]) {
      if (this.opening.has(key)) continue;
      if (!open.has(key)) { this.docs.delete(key); continue; }
      const answer = await client.sendRequest(ExplainRequest, shown.req).catch((e: Error) => ({ ok: false as const, message: e.message }));
      const next = answer.ok ? { text: explanationText(shown.req, answer), files: answer.files, req: shown.req }
        : { ...shown, text: `${headOf(shown.req)}# cannot explain it over the policies as they are now: ${answer.message}\n` };
      if (next.text === shown.text || !this.docs.has(key)) continue;
      this.docs.set(key, next);
      this.changed.fire(vscode.Uri.parse(key));
    }
  }

  dispose(): void { clearTimeout(this.redraw); this.changed.dispose(); }

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.docs.get(uri.toString())?.text ?? 'This explanation is gone (the window was reloaded); run DevMesh: Explain Request… again.\n';
  }

  provideDocumentLinks(document: vscode.TextDocument): vscode.DocumentLink[] {
    const shown = this.docs.get(document.uri.toString());
    if (!shown) return [];
    const links: vscode.DocumentLink[] = [];
    for (let i = 0; i < document.lineCount; i++) {
      const text = document.lineAt(i).text;
      for (const m of text.matchAll(LOCATION)) {
        const file = shown.files[m[1]];
        if (!file) continue;
        const target = vscode.Uri.parse(file).with({ fragment: `L${m[2]},${m[3]}` });
        const link = new vscode.DocumentLink(new vscode.Range(i, m.index!, i, m.index! + m[0].length), target);
        link.tooltip = `Open ${m[1]} at line ${m[2]}`;
        links.push(link);
      }
    }
    return links;
  }
}

/** The command line the explanation mirrors (a gRPC call as `grpc host:port/...`, with the assumptions it makes). */
const headOf = (req: ExplainParams): string => {
  const grpc = req.method.toUpperCase() === 'GRPC';
  const assumed = `${req.appStatus !== undefined ? ` --app-status ${req.appStatus}` : ''}${req.appGrpcStatus !== undefined ? ` --app-grpc-status ${grpcStatusName(req.appGrpcStatus)}` : ''}`;
  return `# devmesh explain --from ${req.from} ${grpc ? 'grpc' : req.method} ${req.url}${Object.entries(req.headers).map(([k, v]) => ` -H '${k}: ${v}'`).join('')}${assumed}\n`;
};

/** The document's text: the command it mirrors, the verdict, then the walk. */
function explanationText(req: ExplainParams, answer: { answered: boolean; text: string }): string {
  return headOf(req)
    + `# over the workspace as the editor holds it (unsaved edits included, redrawn as you edit); ${answer.answered ? 'the mesh would answer it' : 'the mesh would REFUSE it'}. Ctrl+click a file:line:col to open it.\n\n`
    + answer.text;
}

/** Asks for what the arguments do not give; undefined when the user cancels. */
async function askRequest(client: LanguageClient, given: Partial<ExplainParams>): Promise<ExplainParams | undefined> {
  let from = given.from;
  if (!from) {
    const sources = await client.sendRequest(ExplainSourcesRequest, {});
    if (!sources.length) { void vscode.window.showWarningMessage('DevMesh: no Mesh file in this workspace names a workload to send the request from.'); return undefined; }
    from = (await vscode.window.showQuickPick(sources.map((s) => ({ label: s.name, description: s.description })), { title: 'Explain Request (1/4)', placeHolder: 'The request leaves from which workload\'s sidecar?' }))?.label;
    if (!from) return undefined;
  }
  const method = given.method ?? (await vscode.window.showQuickPick(METHODS, { title: 'Explain Request (2/4)', placeHolder: 'Method (GRPC for a gRPC call)' }))?.label;
  if (!method) return undefined;
  // A gRPC call has one step more: the app's gRPC status to assume.
  const grpc = method.toUpperCase() === 'GRPC';
  const step = (n: number) => (grpc ? `Explain gRPC call (${n}/5)` : `Explain Request (${n}/4)`);
  const url = given.url ?? (await vscode.window.showInputBox(grpc
    ? {
      title: step(3), prompt: 'The call as host:port/package.Service/Method', placeHolder: 'details:9080/bookinfo.details.v1.Details/GetDetails',
      validateInput: (v) => { const c = grpcCall(v.trim()); return 'error' in c ? c.error.replace(/^grpc /, '') : undefined; },
    }
    : {
      title: step(3), prompt: 'The URL as the caller writes it', value: 'http://', placeHolder: 'http://reviews:9080/reviews/0',
      validateInput: (v) => (/^https?:\/\/[^/\s]+/.test(v.trim()) ? undefined : 'Write http://host[:port]/path, e.g. http://reviews:9080/reviews/0'),
    }))?.trim();
  if (!url) return undefined;
  let headers = given.headers;
  if (!headers) {
    headers = {};
    for (let i = 1; i <= 20; i++) {
      const h = await vscode.window.showInputBox({
        title: `${step(4)}: header ${i}`, prompt: 'A header as name: value (cookie: user=jason for a cookie); leave empty to explain the request',
        placeHolder: 'end-user: jason',
        validateInput: (v) => (!v.trim() || /^[^:\s]+\s*:/.test(v) ? undefined : 'Write a header as name: value'),
      });
      if (h === undefined) return undefined;
      if (!h.trim()) break;
      const colon = h.indexOf(':');
      const name = h.slice(0, colon).trim().toLowerCase();
      headers[name] = name === 'cookie' && headers.cookie ? `${headers.cookie}; ${h.slice(colon + 1).trim()}` : h.slice(colon + 1).trim();
    }
  }
  let appGrpcStatus = given.appGrpcStatus;
  if (grpc && appGrpcStatus === undefined && !('appGrpcStatus' in given)) {
    const picked = await vscode.window.showQuickPick(APP_GRPC_STATUS, {
      title: `${step(5)}: the app's gRPC status`, placeHolder: 'Assume the app answers the call with this status (UNAVAILABLE: the retries on unavailable are predicted)', matchOnDescription: true,
    });
    if (!picked) return undefined;
    appGrpcStatus = picked.code;
  }
  return { from, method: method.toUpperCase(), url, headers, ...(given.appStatus !== undefined ? { appStatus: given.appStatus } : {}), ...(appGrpcStatus !== undefined ? { appGrpcStatus } : {}) };
}

/**
 * The command. Arguments (from a test, a keybinding or another extension)
 * fill the inputs they give; the rest are asked. Returns the document shown,
 * or what went wrong (also shown to the user); nothing when the user cancelled.
 */
export async function explainRequestCommand(docs: ExplainDocuments, client: LanguageClient | undefined, given: Partial<ExplainParams> = {}): Promise<{ uri?: vscode.Uri; error?: string } | undefined> {
  const fail = (error: string) => { void vscode.window.showErrorMessage(`DevMesh: ${error}`); return { error }; };
  if (!client) return fail('the language server is not running, and it runs the explain walk; see the DevMesh output.');
  const req = await askRequest(client, given);
  if (!req) return undefined;
  const answer = await client.sendRequest(ExplainRequest, req);
  if (!answer.ok) return fail(`cannot explain ${req.method} ${req.url}: ${answer.message}`);
  const host = req.url.replace(/^https?:\/\//, '');
  const uri = docs.add(`Explain ${req.method} ${host} from ${req.from}`, { text: explanationText(req, answer), files: answer.files, req });
  // Its own language: word wrap on by default (configurationDefaults), so every file:line:col stays in view.
  try {
    const doc = await vscode.languages.setTextDocumentLanguage(await vscode.workspace.openTextDocument(uri), 'devmesh-explain');
    await vscode.window.showTextDocument(doc, { viewColumn: vscode.ViewColumn.Beside, preview: false, preserveFocus: false });
  } finally {
    docs.opened(uri);
  }
  return { uri };
}
