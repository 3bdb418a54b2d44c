/**
 * Code lenses over every rule the sidecars count (VirtualService
 * http[]/tcp[]/tls[], HTTPRoute/GRPCRoute/TLSRoute/TCPRoute, AuthorizationPolicy rules) while a
 * mesh runs: requests per minute that matched, error share, p99 — or that no
 * request matched in the last 10 minutes. The language server says where the
 * rules are and under which id (devmesh/ruleSites, the sidecars' own ruleKey);
 * `GET /api/rules` says what they did. Refreshed when the mesh says something
 * changed (its event stream, through the live topology), never on a timer of
 * our own. With no mesh running, no lens at all: a lens that can only say
 * "not running" over every rule is noise; the files of another Mesh's folder
 * get none either (they are not the running mesh's rules).
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import type { RuleList } from '../simulator/control/api/contract';
import { RuleSitesRequest } from '../language-server/requests';
import type { MeshController } from './mesh-controller';
import { ruleLensTitle, ruleLensTooltip } from './rule-insight';

/** At most one /api/rules fetch per this long, however many events arrive. */
const MIN_REFRESH_MS = 1_000;

export class RuleLensProvider implements vscode.CodeLensProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeCodeLenses = this.changed.event;
  private rules: RuleList | undefined;
  private fetching = false;
  private lastFetch = 0;
  private pending: NodeJS.Timeout | undefined;
  private readonly sub: vscode.Disposable;

  constructor(private readonly mesh: MeshController, private readonly client: () => LanguageClient | undefined) {
    this.sub = mesh.onDidChange(() => this.refresh());
  }

  /** The counters the lenses show now (the integration tests read them). */
  get current(): RuleList | undefined { return this.rules; }

  /** Asks the editor for the lenses again (the language server just started). */
  redraw(): void { this.changed.fire(); }

  refresh(): void {
    if (this.mesh.state !== 'running' || !this.mesh.client) {
      if (this.rules) { this.rules = undefined; this.changed.fire(); }
      return;
    }
    if (this.fetching || this.pending) return;
    const wait = this.lastFetch + MIN_REFRESH_MS - Date.now();
    if (wait > 0) { this.pending = setTimeout(() => { this.pending = undefined; this.refresh(); }, wait); return; }
    this.fetching = true;
    this.lastFetch = Date.now();
    void this.mesh.client.rules().then((list) => {
      const before = this.rules ? JSON.stringify(this.rules.rules) : '';
      this.rules = list;
      if (JSON.stringify(list.rules) !== before) this.changed.fire();
    }, () => { /* an older control API (no /api/rules) or a mesh going away: keep what we had */ }).finally(() => { this.fetching = false; });
  }

  async provideCodeLenses(document: vscode.TextDocument): Promise<vscode.CodeLens[]> {
    const list = this.rules;
    const client = this.client();
    if (!list || !client || !this.inRunningMesh(document.uri)) return [];
    const sites = await client.sendRequest(RuleSitesRequest, { uri: document.uri.toString() });
    const byRule = new Map(list.rules.map((r) => [r.rule, r]));
    return sites.map((s) => {
      const stats = byRule.get(s.rule);
      const range = new vscode.Range(s.range.start.line, s.range.start.character, s.range.start.line, s.range.start.character);
      return new vscode.CodeLens(range, {
        title: ruleLensTitle(s.rule, list, stats),
        tooltip: ruleLensTooltip(s.rule, stats),
        command: 'devmesh.showRuleTraces',
        arguments: [s.rule],
      });
    });
  }

  private inRunningMesh(uri: vscode.Uri): boolean {
    const meshFile = this.mesh.meshFile;
    if (!meshFile || uri.scheme !== 'file') return false;
    return !path.relative(path.dirname(meshFile.fsPath), uri.fsPath).startsWith('..');
  }

  dispose(): void {
    this.sub.dispose();
    if (this.pending) clearTimeout(this.pending);
    this.changed.dispose();
  }
}
