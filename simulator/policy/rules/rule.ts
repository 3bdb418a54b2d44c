import type { DiagnosticCode, Severity } from '../diagnostics';
import type { Path, PolicyDocument } from '../source';
import type { WorkspaceIndex } from '../workspace-index';

export interface ReportOptions {
  /** Underline the key instead of the value. */
  part?: 'key' | 'value';
  severity?: Severity;
  /** Details for quick fixes. */
  data?: Record<string, unknown>;
}

export type Report = (doc: PolicyDocument, path: Path, code: DiagnosticCode, message: string, options?: ReportOptions) => void;

/** A cross-file semantic check: reads the index, reports findings, never does I/O. */
export interface Rule {
  /** The codes this rule may report. */
  codes: readonly DiagnosticCode[];
  check(index: WorkspaceIndex, report: Report): void;
}
