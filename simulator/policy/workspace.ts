/**
 * A workspace of policy files, validated incrementally: each file is parsed
 * and schema-checked once per text it has had; per-document rules re-check a
 * document only when its text or the cross-file facts it read changed (see
 * rules/rule.ts); the few workspace-wide rules run over the index after a
 * change to the kinds of document they read. The CLI, the control plane and the language server all use this
 * one class.
 */
import { compareDiagnostics, diagnostic, type Diagnostic } from './diagnostics';
import { RULES, type Report } from './rules';
import type { Kind } from './model';
import { isDocumentRule, type DocumentRule, type Rule, type WorkspaceRule } from './rules/rule';
import { parseSource, rangeOf, type PolicyDocument, type SourceDocument, type SourceFile } from './source';
import { validateSchema } from './validate-schema';
import { WorkspaceIndex } from './workspace-index';

interface FileEntry {
  source: SourceFile;
  /** Syntax + schema diagnostics: a function of this file's text alone. */
  local: Diagnostic[];
}

/** What a per-document rule found in one document, and the facts it read then. */
interface Remembered {
  /** The rule's `facts` when these findings were last known to hold. */
  facts: string;
  /** The rule's `factsOf` this document, once it was needed (when the rule's facts changed). */
  own: string | undefined;
  found: Diagnostic[];
}

type Slots = (Remembered | undefined)[];

function sameDocuments(a: readonly PolicyDocument[], b: readonly PolicyDocument[]): boolean {
  return a.length === b.length && a.every((doc, i) => doc === b[i]);
}

/** Shared by every document without findings, so remembering nothing allocates nothing. */
const NONE: Diagnostic[] = [];

export class Workspace {
  private readonly files = new Map<string, FileEntry>();
  private cachedIndex: WorkspaceIndex | undefined;
  private cachedSemantic: Diagnostic[] | undefined;
  private cachedDiagnostics: Diagnostic[] | undefined;
  /** Per document, per rule (by its place in RULES): the findings of per-document rules. */
  private readonly remembered = new WeakMap<PolicyDocument, Slots>();
  /** Per rule: its `facts` at the last check, kept as one string object so documents compare by reference. */
  private readonly lastFacts: (string | undefined)[] = [];
  /** Per workspace rule that reads only some kinds: the documents of its last run and what it found. */
  private readonly lastRuns: ({ inputs: (readonly PolicyDocument[])[]; found: Diagnostic[] } | undefined)[] = [];
  /** The index of the last check: the one every remembered finding with the last facts holds in. */
  private lastIndex: WorkspaceIndex | undefined;

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

  /** Every reference document (Kubernetes objects, Istio kinds devmesh does not simulate), in file order. */
  references(): SourceDocument[] {
    return [...this.files.values()].flatMap((f) => f.source.references);
  }

  /**
   * The index over every policy document. Rules read documents that may have
   * schema errors (so one typo does not hide every cross-file finding); they
   * use the defensive accessors of workspace-index.ts.
   */
  get index(): WorkspaceIndex {
    this.cachedIndex ??= new WorkspaceIndex(this.documents(), this.references());
    return this.cachedIndex;
  }

  /** Every diagnostic of every file, sorted by file and position. */
  diagnostics(): Diagnostic[] {
    if (!this.cachedDiagnostics) {
      const all = [...this.files.values()].flatMap((f) => f.local);
      all.push(...this.semantic());
      this.cachedDiagnostics = all.sort(compareDiagnostics);
    }
    // A copy: callers may sort or filter what they get.
    return [...this.cachedDiagnostics];
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
    const slots = new Map<Kind, Slots[]>();
    RULES.forEach((rule: Rule, r) => {
      try {
        if (isDocumentRule(rule)) this.checkDocuments(rule, r, index, slots, out);
        else if (rule.reads) this.checkUnlessSame(rule, r, index, out);
        else rule.check(index, report);
      } catch (err) {
        // A rule bug must never take the validator (or a running mesh) down with it.
        const first = index.docs[0];
        if (first) out.push(diagnostic('internal-error', first.file, first.range, `a check (${rule.codes.join(', ')}) failed on this input: ${(err as Error).message}; please report it`));
      }
    });
    this.lastIndex = index;
    this.cachedSemantic = out;
    return out;
  }

  /**
   * Runs a per-document rule where its remembered findings may no longer
   * hold: on new documents (an edited file's), and, when the cross-file facts
   * the rule reads changed, on the documents whose own facts changed.
   */
  private checkDocuments(rule: DocumentRule, r: number, index: WorkspaceIndex, slotsByKind: Map<Kind, Slots[]>, out: Diagnostic[]): void {
    const previous = this.lastFacts[r];
    let facts = rule.facts?.(index) ?? '';
    if (facts === previous) facts = previous;
    else this.lastFacts[r] = facts;
    const factsOf = rule.factsOf;
    let found = NONE;
    // Ranges are located once, when the finding is made: the document's text does not change under it.
    const report: Report = (d, path, code, message, options) => {
      if (found === NONE) found = [];
      found.push(diagnostic(code, d.file, rangeOf(d, path, options?.part), message, { severity: options?.severity, data: options?.data }));
    };
    for (const kind of rule.kinds) {
      const docs = index.byKind[kind];
      let kindSlots = slotsByKind.get(kind);
      if (!kindSlots) slotsByKind.set(kind, (kindSlots = docs.map((doc) => this.slots(doc))));
      for (let i = 0; i < docs.length; i++) {
        const doc = docs[i];
        const slots = kindSlots[i];
        let memo = slots[r];
        if (memo && memo.facts !== facts) {
          // The facts changed since these findings were made; they still hold if the document's own facts did not.
          // A document's own facts are stated only now, under the index its findings were last known to hold in.
          const before = !factsOf ? undefined
            : memo.own ?? (memo.facts === previous && this.lastIndex ? factsOf(doc, this.lastIndex) : undefined);
          const now = before === undefined ? undefined : factsOf!(doc, index);
          if (now !== undefined && now === before) {
            memo.facts = facts;
            memo.own = now;
          } else {
            memo = undefined;
          }
        }
        if (!memo) {
          found = NONE;
          rule.check(doc, index, report);
          slots[r] = memo = { facts, own: undefined, found };
        }
        if (memo.found !== NONE) out.push(...memo.found);
      }
    }
  }

  /** Runs a workspace rule that reads only some kinds, unless their documents are the ones of its last run. */
  private checkUnlessSame(rule: WorkspaceRule, r: number, index: WorkspaceIndex, out: Diagnostic[]): void {
    const inputs = rule.reads!.map((kind) => index.byKind[kind] as readonly PolicyDocument[]);
    const last = this.lastRuns[r];
    if (!last || !inputs.every((docs, k) => sameDocuments(docs, last.inputs[k]))) {
      const found: Diagnostic[] = [];
      this.lastRuns[r] = undefined; // if the rule throws, nothing is remembered
      rule.check(index, (d, path, code, message, options) => {
        found.push(diagnostic(code, d.file, rangeOf(d, path, options?.part), message, { severity: options?.severity, data: options?.data }));
      });
      this.lastRuns[r] = { inputs, found };
    }
    out.push(...this.lastRuns[r]!.found);
  }

  /** The remembered findings of a document, one slot per rule. */
  private slots(doc: PolicyDocument): Slots {
    let slots = this.remembered.get(doc);
    if (!slots) this.remembered.set(doc, (slots = new Array<Remembered | undefined>(RULES.length).fill(undefined)));
    return slots;
  }

  private invalidate(): void {
    this.cachedIndex = undefined;
    this.cachedSemantic = undefined;
    this.cachedDiagnostics = undefined;
  }
}
