import type { DiagnosticCode, Severity } from '../diagnostics';
import type { Kind } from '../model';
import type { Path, PolicyDocument, SourceDocument } from '../source';
import type { WorkspaceIndex } from '../workspace-index';

export interface ReportOptions {
  /** Underline the key instead of the value. */
  part?: 'key' | 'value';
  severity?: Severity;
  /** Details for quick fixes. */
  data?: Record<string, unknown>;
}

export type Report = (doc: SourceDocument, path: Path, code: DiagnosticCode, message: string, options?: ReportOptions) => void;

/**
 * A check over the whole workspace at once, for findings that depend on the
 * order or the set of all documents (the first definition wins, duplicates).
 * Reads the index, reports findings, never does I/O.
 */
export interface WorkspaceRule {
  /** The codes this rule may report. */
  codes: readonly DiagnosticCode[];
  /**
   * The kinds of document the findings depend on (with Mesh when the rule
   * reads the default namespace), when not every kind: while the documents
   * of these kinds are the same, the findings are, and the rule does not run.
   */
  reads?: readonly Kind[];
  check(index: WorkspaceIndex, report: Report): void;
}

/**
 * A check of one document at a time, whose findings depend on that document
 * and on the cross-file facts it reads. The workspace remembers each
 * document's findings and checks the document again only when its text
 * changed or when the facts it read did: an edit to one VirtualService
 * re-checks that VirtualService, an edit to a DestinationRule re-checks the
 * VirtualServices that name its host.
 */
export interface DocumentRule<K extends Kind = Kind> {
  codes: readonly DiagnosticCode[];
  /** The kinds of document it checks, in this order. */
  kinds: readonly K[];
  /**
   * Every cross-file fact the rule may read, as one string (see WorkspaceIndex);
   * none when it reads nothing but the document. While it is unchanged, every
   * remembered finding holds.
   */
  facts?(index: WorkspaceIndex): string;
  /**
   * The facts that the findings for this one document read; asked only when
   * `facts` changed. Without it, a change of `facts` re-checks every document.
   */
  factsOf?(doc: PolicyDocument<K>, index: WorkspaceIndex): string;
  /** Reports findings on `doc` only. */
  check(doc: PolicyDocument<K>, index: WorkspaceIndex, report: Report): void;
}

export type Rule = WorkspaceRule | DocumentRule<any>;

export function isDocumentRule(rule: Rule): rule is DocumentRule<any> {
  return 'kinds' in rule;
}
