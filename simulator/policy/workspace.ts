/**
 * A workspace of policy files, validated incrementally: each file is parsed
 * and schema-checked once per text it has had; the cross-file rules run over
 * the whole index after any change (they are linear and cheap). The CLI, the
 * control plane and the language server all use this one class.
 */
import { compareDiagnostics, diagnostic, type Diagnostic } from './diagnostics';
import { RULES, type Report } from './rules';
import { parseSource, rangeOf, type PolicyDocument, type SourceFile } from './source';
import { validateSchema } from './validate-schema';
import { WorkspaceIndex } from './workspace-index';

interface FileEntry {
  source: SourceFile;
  /** Syntax + schema diagnostics: a function of this file's text alone. */
  local: Diagnostic[];
}

export class Workspace {
  private readonly files = new Map<string, FileEntry>();
  private cachedIndex: WorkspaceIndex | undefined;
  private cachedSemantic: Diagnostic[] | undefined;

  /** Adds or replaces a file. Returns false when the text did not change. */
  setFile(file: string, text: string): boolean {
    const old = this.files.get(file);
    if (old && old.source.text === text) return false;
    const source = parseSource(file, text);
    const local = [...source.diagnostics];
    for (const doc of source.documents) {
      local.push(...validateSchema(doc));
    }
    this.files.set(file, { source, local });
    this.invalidate();
    return true;
  }

  removeFile(file: string): boolean {
    const had = this.files.delete(file);
    if (had) this.invalidate();
    return had;
  }

  hasFile(file: string): boolean {
    return this.files.has(file);
  }

  getSource(file: string): SourceFile | undefined {
    return this.files.get(file)?.source;
  }

  fileNames(): string[] {
    return [...this.files.keys()];
  }

  /** Every policy document, valid or not, in file order. */
  documents(): PolicyDocument[] {
    return [...this.files.values()].flatMap((f) => f.source.documents);
  }

  /**
   * The index over every policy document. Rules read documents that may have
   * schema errors (so one typo does not hide every cross-file finding); they
   * use the defensive accessors of workspace-index.ts.
   */
  get index(): WorkspaceIndex {
    this.cachedIndex ??= new WorkspaceIndex(this.documents());
    return this.cachedIndex;
  }

  /** Every diagnostic of every file, sorted by file and position. */
  diagnostics(): Diagnostic[] {
    const all = [...this.files.values()].flatMap((f) => f.local);
    all.push(...this.semantic());
    return all.sort(compareDiagnostics);
  }

  /** Diagnostics grouped by file; files without findings map to []. */
  diagnosticsByFile(): Map<string, Diagnostic[]> {
    const out = new Map<string, Diagnostic[]>([...this.files.keys()].map((f) => [f, []]));
    for (const d of this.diagnostics()) out.get(d.file)?.push(d);
    return out;
  }

  hasErrors(): boolean {
    return this.diagnostics().some((d) => d.severity === 'error');
  }

  private semantic(): Diagnostic[] {
    if (this.cachedSemantic) return this.cachedSemantic;
    const out: Diagnostic[] = [];
    const report: Report = (doc, path, code, message, options) => {
      out.push(diagnostic(code, doc.file, rangeOf(doc, path, options?.part), message, { severity: options?.severity, data: options?.data }));
    };
    const index = this.index;
    for (const rule of RULES) {
      try {
        rule.check(index, report);
      } catch (err) {
        // A rule bug must never take the validator (or a running mesh) down with it.
        const first = index.docs[0];
        if (first) out.push(diagnostic('internal-error', first.file, first.range, `a check (${rule.codes.join(', ')}) failed on this input: ${(err as Error).message}; please report it`));
      }
    }
    this.cachedSemantic = out;
    return out;
  }

  private invalidate(): void {
    this.cachedIndex = undefined;
    this.cachedSemantic = undefined;
  }
}
