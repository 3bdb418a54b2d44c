/** Offsets inside, LSP line/character at this edge. */
import type { Position, Range as LspRange } from 'vscode-languageserver';
import { offsetToPosition, positionToOffset, type Range, type SourceFile } from '../../simulator/policy';

export function toLspRange(source: Pick<SourceFile, 'lineStarts'>, range: Range): LspRange {
  return { start: offsetToPosition(source.lineStarts, range.start), end: offsetToPosition(source.lineStarts, range.end) };
}

export function toOffset(source: Pick<SourceFile, 'lineStarts' | 'text'>, position: Position): number {
  return positionToOffset(source.lineStarts, source.text.length, position.line, position.character);
}
