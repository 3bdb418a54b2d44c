/** The validator's diagnostics as LSP diagnostics: offsets become ranges here, codes and fix data are kept. */
import { DiagnosticSeverity, type Diagnostic as LspDiagnostic } from 'vscode-languageserver';
import { type Diagnostic, type SourceFile } from '../../simulator/policy';
import { toLspRange } from './positions';

const SEVERITY = { error: DiagnosticSeverity.Error, warning: DiagnosticSeverity.Warning, info: DiagnosticSeverity.Information } as const;

export function toLspDiagnostic(source: Pick<SourceFile, 'lineStarts'>, d: Diagnostic): LspDiagnostic {
  return {
    range: toLspRange(source, d.range),
    severity: SEVERITY[d.severity],
    code: d.code,
    source: 'devmesh',
    message: d.message,
    ...(d.data ? { data: d.data } : {}),
  };
}
