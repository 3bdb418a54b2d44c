import type { DiagnosticCode } from '../diagnostics';
import type { Kind } from '../model';
import type { PolicyDocument } from '../source';
import type { DocumentRule, Report } from './rule';

/**
 * A rule whose findings for a document depend on that document alone: the
 * workspace re-checks only the documents of the edited file (the language
 * server checks on every keystroke).
 */
export function eachDocument<K extends Kind>(
  kind: K,
  codes: readonly DiagnosticCode[],
  check: (doc: PolicyDocument<K>, report: Report) => void,
): DocumentRule<K> {
  return { codes, kinds: [kind], check: (doc, _index, report) => check(doc, report) };
}
