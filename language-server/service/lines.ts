/**
 * A tolerant, line-based reading of block YAML, for text that is being typed
 * and often does not parse: which document the cursor is in, the path of map
 * keys and sequence items that leads to it, and the keys already present in
 * the block around it. It follows indentation the way a person reads it, so
 * `host: |` or a half-typed key on its own line still has a path.
 */

export type Segment = string | number;

export interface LineTokens {
  /** Offset where the line starts. */
  start: number;
  /** Text of the line without its newline. */
  text: string;
  /** Columns of the `- ` markers at the start of the line (`- - x` has two). */
  dashes: number[];
  /** A `key:` on this line, after the dashes. */
  key?: { text: string; col: number; end: number };
  /** The text after `key:` (comment stripped, trimmed), and its column. */
  value?: { text: string; col: number };
  /** Text that is not a key (a scalar item, or a key being typed), and its column. */
  scalar?: { text: string; col: number };
  /** Blank or comment only. */
  empty: boolean;
}

const KEY = /^("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^\s#'"{}[\],:][^#{}[\],:]*?|[^\s#'"{}[\],:]?)\s*:(?=\s|$)/;

export function tokenizeLine(text: string, start: number): LineTokens {
  const line: LineTokens = { start, text, dashes: [], empty: false };
  let i = 0;
  while (i < text.length && text[i] === ' ') i++;
  while (text[i] === '-' && (i + 1 === text.length || text[i + 1] === ' ')) {
    line.dashes.push(i);
    i++;
    while (text[i] === ' ') i++;
  }
  const rest = stripComment(text.slice(i));
  if (rest.trim() === '') {
    line.empty = line.dashes.length === 0;
    return line;
  }
  const m = KEY.exec(rest);
  if (m && m[1].length > 0) {
    const raw = m[1].trim();
    line.key = { text: unquote(raw), col: i, end: i + m[1].trimEnd().length };
    const after = rest.slice(m[0].length);
    const lead = after.length - after.trimStart().length;
    line.value = { text: after.trim(), col: i + m[0].length + lead };
  } else {
    line.scalar = { text: rest.trimEnd(), col: i };
  }
  return line;
}

/** Removes a trailing `# comment` (a `#` at the start or after a space, outside quotes). */
export function stripComment(s: string): string {
  let quote: string | undefined;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === '"' || c === '\'') {
      quote = c;
    } else if (c === '#' && (i === 0 || s[i - 1] === ' ' || s[i - 1] === '\t')) {
      return s.slice(0, i);
    }
  }
  return s;
}

export function unquote(s: string): string {
  if (s.length >= 2 && ((s[0] === '"' && s.endsWith('"')) || (s[0] === '\'' && s.endsWith('\'')))) return s.slice(1, -1);
  return s;
}

/** The lines of one YAML document of a file (between `---` markers). */
export interface DocLines {
  lines: LineTokens[];
  /** Offset range of the document's text. */
  start: number;
  end: number;
}

/** Splits a text into lines and finds the document (`---`-separated) that holds `offset`. */
export function documentAt(text: string, offset: number): DocLines & { cursorLine: number } {
  const all = splitLines(text);
  let c = 0;
  while (c + 1 < all.length && all[c + 1].start <= offset) c++;
  let first = 0;
  for (let i = c - 1; i >= 0; i--) if (isDocMarker(all[i].text)) { first = i + 1; break; }
  let last = all.length - 1;
  for (let i = c + 1; i < all.length; i++) if (isDocMarker(all[i].text)) { last = i - 1; break; }
  const lines = all.slice(first, last + 1).map((l) => tokenizeLine(l.text, l.start));
  const start = lines[0]?.start ?? offset;
  const lastLine = lines[lines.length - 1];
  return { lines, start, end: lastLine ? lastLine.start + lastLine.text.length : offset, cursorLine: c - first };
}

export function splitLines(text: string): { start: number; text: string }[] {
  const out: { start: number; text: string }[] = [];
  let start = 0;
  for (;;) {
    const nl = text.indexOf('\n', start);
    const end = nl === -1 ? text.length : nl;
    out.push({ start, text: text.slice(start, end).replace(/\r$/, '') });
    if (nl === -1) break;
    start = nl + 1;
  }
  return out;
}

function isDocMarker(line: string): boolean {
  return /^---(\s|$)/.test(line) || /^\.\.\.(\s|$)/.test(line);
}

/** Top-level `key: value` of a document, e.g. kind and apiVersion. */
export function topLevelValue(doc: DocLines, key: string): string | undefined {
  for (const l of doc.lines) {
    if (l.key && l.key.col === 0 && l.dashes.length === 0 && l.key.text === key) return unquote(l.value?.text ?? '') || undefined;
  }
  return undefined;
}

/**
 * The path of the block that encloses column `col` on line `lineIndex`,
 * read upward by indentation: each nearer line with a smaller indentation is
 * a parent (a `key:` or a `- ` item).
 */
export function parentPath(doc: DocLines, lineIndex: number, col: number, startsWithDash = false): { path: Segment[] } {
  const path: Segment[] = [];
  let limit = col;
  // A sequence may sit at the same indentation as the key that owns it (`hosts:` / `- a`).
  let afterDash = startsWithDash;
  for (let i = lineIndex - 1; i >= 0 && limit > 0; i--) {
    const l = doc.lines[i];
    if (l.empty) continue;
    // Candidates on this line, innermost (rightmost) first.
    if (l.key && (l.key.col < limit || (afterDash && l.key.col === limit && !l.value?.text))) {
      path.unshift(l.key.text);
      limit = l.key.col;
      afterDash = false;
    }
    for (let d = l.dashes.length - 1; d >= 0; d--) {
      const dc = l.dashes[d];
      if (dc < limit) {
        path.unshift(itemIndex(doc, i, dc));
        limit = dc;
        afterDash = true;
      }
    }
    if (!l.key && !l.dashes.length && l.scalar && l.scalar.col < limit) limit = l.scalar.col; // a stray scalar: stop climbing past it
  }
  return { path };
}

/** Which item of its sequence the `- ` at column `dc` on line `lineIndex` is. */
export function itemIndex(doc: DocLines, lineIndex: number, dc: number): number {
  let n = 0;
  for (let i = lineIndex - 1; i >= 0; i--) {
    const l = doc.lines[i];
    if (l.empty) continue;
    const first = l.dashes[0] ?? l.key?.col ?? l.scalar?.col ?? 0;
    if (l.dashes.includes(dc)) {
      n++;
      continue;
    }
    if (first < dc || (first === dc && l.key)) break;
  }
  return n;
}

/**
 * The entries of the block mapping that holds keys at column `col` around
 * line `lineIndex`: sibling keys with their values as written.
 */
export function siblings(doc: DocLines, lineIndex: number, col: number): Map<string, string> {
  const out = new Map<string, string>();
  const firstCol = (l: LineTokens) => l.dashes[0] ?? l.key?.col ?? l.scalar?.col ?? 0;
  for (let i = lineIndex; i >= 0; i--) {
    const l = doc.lines[i];
    if (l.empty) continue;
    if (l.key?.col === col) {
      out.set(l.key.text, unquote(l.value?.text ?? ''));
      if (l.dashes.length > 0) break; // `- key:` opens this mapping
      continue;
    }
    if (i !== lineIndex && firstCol(l) <= col) break;
  }
  for (let i = lineIndex + 1; i < doc.lines.length; i++) {
    const l = doc.lines[i];
    if (l.empty) continue;
    if (l.key?.col === col && l.dashes.length === 0) {
      out.set(l.key.text, unquote(l.value?.text ?? ''));
      continue;
    }
    if (firstCol(l) <= col) break;
  }
  return out;
}
