import type { DiagnosticCode } from '../diagnostics';
import type { Kind } from '../model';
import type { PolicyDocument } from '../source';
import type { Report, Rule } from './rule';

/**
 * A rule whose findings for a document depend on that document alone. Its
 * findings are remembered per document: a document of an unchanged file is
 * the same object from one check to the next, so a keystroke re-checks only
 * the documents of the edited file (the language server checks on every one).
 */
export function eachDocument<K extends Kind>(
  kind: K,
  codes: readonly DiagnosticCode[],
  check: (doc: PolicyDocument<K>, report: Report) => void,
): Rule {
  const memo = new WeakMap<PolicyDocument, Parameters<Report>[]>();
  return {
    codes,
    check(index, report) {
      for (const doc of index.byKind[kind] as PolicyDocument<K>[]) {
        let found = memo.get(doc);
        if (!found) {
          const recorded: Parameters<Report>[] = [];
          check(doc, (...args) => { recorded.push(args); });
          memo.set(doc, (found = recorded));
        }
        for (const args of found) report(...args);
      }
    },
  };
}
