/**
 * The devmesh language service: document text and a workspace in, LSP
 * results out. No transport and no file system here (see ../server.ts);
 * every answer comes from the policy core in simulator/policy/ — the same
 * parser, schema and rules as `devmesh validate`.
 */
import type {
  CodeAction, CompletionItem, Diagnostic as LspDiagnostic, DocumentSymbol, FoldingRange, Hover, Location, Position, Range as LspRange,
} from 'vscode-languageserver';
import { compareDiagnostics, jwksFileDiagnostics, Workspace, type Diagnostic, type ReadFile } from '../../simulator/policy';
import { codeActions } from './code-actions';
import { complete } from './completion';
import { toLspDiagnostic } from './diagnostics';
import { hover } from './hover';
import { destinationAt, type DestinationInfo } from './destinations';
import { explainInWorkspace, explainSources, type ExplainAnswer, type ExplainParams, type ExplainSource } from './explain';
import { definition, references } from './navigation';
import { documentSymbols, foldingRanges } from './outline';
import { toOffset } from './positions';
import { ruleSites, type RuleSite } from './rule-sites';

export type { DestinationInfo, ExplainAnswer, ExplainParams, ExplainSource, RuleSite };

export class LanguageService {
  /**
   * @param readFile reads the files policies name (JWKS files) for their
   *   diagnostics; the transport passes one that reads the disk.
   */
  constructor(readonly workspace: Workspace = new Workspace(), private readonly readFile?: ReadFile) {}

  /** Adds or replaces a file's text (an open buffer or a file on disk). False when unchanged. */
  setFile(uri: string, text: string): boolean {
    return this.workspace.setFile(uri, text);
  }

  removeFile(uri: string): boolean {
    return this.workspace.removeFile(uri);
  }

  /** The validator's findings per file, in LSP form; every file of the workspace has an entry. */
  diagnosticsByFile(): Map<string, LspDiagnostic[]> {
    const out = new Map<string, LspDiagnostic[]>();
    for (const [file, diags] of this.findingsByFile()) {
      const source = this.workspace.getSource(file);
      out.set(file, source ? diags.map((d) => toLspDiagnostic(source, d)) : []);
    }
    return out;
  }

  /** The findings of one file, as the validator reports them (offsets). */
  policyDiagnostics(uri: string): Diagnostic[] {
    return this.findingsByFile().get(uri) ?? [];
  }

  /** The validator's findings, plus those about the JWKS files policies name (read fresh: they change outside the editor too). */
  private findingsByFile(): Map<string, Diagnostic[]> {
    const byFile = this.workspace.diagnosticsByFile();
    if (!this.readFile) return byFile;
    for (const d of jwksFileDiagnostics(this.workspace.index, this.readFile)) {
      const list = byFile.get(d.file);
      if (list) list.push(d);
    }
    for (const list of byFile.values()) list.sort(compareDiagnostics);
    return byFile;
  }

  completion(uri: string, position: Position): CompletionItem[] {
    const source = this.workspace.getSource(uri);
    return source ? complete(this.workspace.index, source, toOffset(source, position)) : [];
  }

  hover(uri: string, position: Position): Hover | null {
    const source = this.workspace.getSource(uri);
    return source ? hover(this.workspace.index, source, toOffset(source, position)) : null;
  }

  definition(uri: string, position: Position): Location[] {
    const source = this.workspace.getSource(uri);
    return source ? definition(this.workspace, uri, toOffset(source, position)) : [];
  }

  references(uri: string, position: Position, includeDeclaration = true): Location[] {
    const source = this.workspace.getSource(uri);
    return source ? references(this.workspace, uri, toOffset(source, position), includeDeclaration) : [];
  }

  codeActions(uri: string, range: LspRange): CodeAction[] {
    const source = this.workspace.getSource(uri);
    if (!source) return [];
    const offsets = { start: toOffset(source, range.start), end: toOffset(source, range.end) };
    return codeActions(this.workspace, uri, offsets, this.policyDiagnostics(uri));
  }

  documentSymbols(uri: string): DocumentSymbol[] {
    const source = this.workspace.getSource(uri);
    return source ? documentSymbols(source) : [];
  }

  foldingRanges(uri: string): FoldingRange[] {
    const source = this.workspace.getSource(uri);
    return source ? foldingRanges(source) : [];
  }

  /** Every rule of the file the sidecars count, with its id and where it is written (the code lenses). */
  ruleSites(uri: string): RuleSite[] {
    const source = this.workspace.getSource(uri);
    return source ? ruleSites(this.workspace.index, source) : [];
  }

  /** The route destination under the cursor and the workloads it selects (the live hover's static half). */
  destinationAt(uri: string, position: Position): DestinationInfo | null {
    const source = this.workspace.getSource(uri);
    return (source && destinationAt(this.workspace.index, source, toOffset(source, position))) ?? null;
  }

  explainSources(): ExplainSource[] {
    return explainSources(this.workspace);
  }

  /** The explain walk over the workspace as the editor holds it; `display` names a file in the text. */
  explain(p: ExplainParams, display: (uri: string) => string = (u) => u): ExplainAnswer {
    const errors = [...this.findingsByFile().values()].flat().filter((d) => d.severity === 'error');
    return explainInWorkspace(this.workspace, errors, p, display);
  }
}
