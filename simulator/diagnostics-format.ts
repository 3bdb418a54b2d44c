/**
 * Diagnostics at the terminal edge: offsets become 1-based line:column, and
 * the output is either grouped text or a JSON array.
 */
import * as path from 'node:path';
import { offsetToPosition, type Diagnostic, type DiagnosticCode, type Workspace } from './policy';

export interface LocatedDiagnostic {
  file: string;
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
  severity: Diagnostic['severity'];
  code: DiagnosticCode;
  message: string;
}

/** One diagnostic with 1-based line:column from its file's line starts (none known: the file's start). */
export function locate(d: Diagnostic, lineStarts: readonly number[] = [0], cwd = process.cwd()): LocatedDiagnostic {
  const start = offsetToPosition(lineStarts, d.range.start);
  const end = offsetToPosition(lineStarts, d.range.end);
  return {
    file: displayPath(d.file, cwd),
    line: start.line + 1,
    column: start.character + 1,
    endLine: end.line + 1,
    endColumn: end.character + 1,
    severity: d.severity,
    code: d.code,
    message: d.message,
  };
}

export function locateAll(ws: Workspace, diags: readonly Diagnostic[], cwd = process.cwd()): LocatedDiagnostic[] {
  return diags.map((d) => locate(d, ws.getSource(d.file)?.lineStarts, cwd));
}

export function displayPath(file: string, cwd: string): string {
  const rel = path.relative(cwd, file);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
}

const COLORS = { error: '\x1b[31m', warning: '\x1b[33m', info: '\x1b[36m', dim: '\x1b[2m', bold: '\x1b[1m', reset: '\x1b[0m' };

/** The one way a diagnostic is printed: `path:line:col: severity code: message`. */
export function formatDiagnostic(d: LocatedDiagnostic, color = false): string {
  const c = (k: keyof typeof COLORS, s: string) => (color ? COLORS[k] + s + COLORS.reset : s);
  return `${c('bold', `${d.file}:${d.line}:${d.column}`)}: ${c(d.severity, d.severity)} ${c('dim', d.code)}: ${d.message}`;
}

/** Every diagnostic as formatDiagnostic prints it, grouped by file, then a summary line. */
export function formatText(located: readonly LocatedDiagnostic[], fileCount: number, color = false): string {
  const c = (k: keyof typeof COLORS, s: string) => (color ? COLORS[k] + s + COLORS.reset : s);
  const lines: string[] = [];
  let current: string | undefined;
  for (const d of located) {
    if (d.file !== current) {
      if (current !== undefined) lines.push('');
      current = d.file;
    }
    lines.push(formatDiagnostic(d, color));
  }
  const count = (s: string) => located.filter((d) => d.severity === s).length;
  const errors = count('error');
  const warnings = count('warning');
  const infos = count('info');
  const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? '' : 's'}`;
  if (lines.length) lines.push('');
  const summary = `${plural(errors, 'error')}, ${plural(warnings, 'warning')}${infos ? `, ${plural(infos, 'note')}` : ''} in ${plural(fileCount, 'file')} checked`;
  lines.push(errors ? c('error', summary) : summary);
  return lines.join('\n') + '\n';
}
