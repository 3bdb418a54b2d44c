/**
 * Where the cursor is, in the policy language's terms: the document and its
 * kind, the path of keys leading to the cursor, whether a key or a value is
 * being typed, the word to replace, and the keys around it. Built from the
 * text alone with the line reader, so it works while the YAML is broken.
 */
import { isMap, isScalar, isSeq, type Document, type Node } from 'yaml';
import { classify, type Kind } from '../../simulator/policy';
import { documentAt, itemIndex, parentPath, siblings, tokenizeLine, topLevelValue, type DocLines, type Segment } from './lines';

export interface CursorContext {
  doc: DocLines & { cursorLine: number };
  kind?: Kind;
  apiVersion?: string;
  /** metadata.namespace as written in the document, if any. */
  namespace?: string;
  /**
   * `key`: a key of the mapping at `path` is being typed (or the cursor is on
   * an empty line of it); `value`: the value at `path` (its last segment is the key
   * or the sequence index).
   */
  position: 'key' | 'value';
  path: Segment[];
  /** What has been typed of the word so far. */
  prefix: string;
  /** Offsets of the text a completion replaces. */
  replace: { start: number; end: number };
  /** Keys of the mapping that holds the cursor, with their values as written. */
  siblings: Map<string, string>;
  /** Column of the key being typed (or of the key whose value is typed). */
  column: number;
  /** A space must be inserted before a value (the cursor is right after `key:`). */
  needsSpace: boolean;
}

const WORD = /[A-Za-z0-9_.\-/*:]/;

export function cursorContext(text: string, offset: number): CursorContext | undefined {
  const doc = documentAt(text, offset);
  const line = doc.lines[doc.cursorLine];
  if (!line) return undefined;
  const col = offset - line.start;
  const before = tokenizeLine(line.text.slice(0, col), line.start);
  const kindText = topLevelValue(doc, 'kind');
  const apiVersion = topLevelValue(doc, 'apiVersion');
  const cls = classify(apiVersion, kindText);
  const base = { doc, kind: cls.kind, apiVersion, namespace: metadataNamespace(doc) };

  const firstCol = before.dashes[0] ?? before.key?.col ?? before.scalar?.col ?? col;
  const outer = parentPath(doc, doc.cursorLine, firstCol, before.dashes.length > 0).path;
  const withDashes = (upTo: number): Segment[] => {
    const p = [...outer];
    for (const d of before.dashes) if (d < upTo) p.push(itemIndex(doc, doc.cursorLine, d));
    return p;
  };

  if (before.key && col >= before.key.end + 1) {
    // `key: <value being typed>`
    const keyCol = before.key.col;
    const path: Segment[] = [...withDashes(keyCol), before.key.text];
    let valueStart = before.value && before.value.text ? line.start + before.value.col : offset;
    let prefix = before.value?.text ?? '';
    if (prefix.startsWith('{')) return undefined; // flow mappings are not completed
    if (prefix.startsWith('[')) {
      // A flow sequence: complete its current item.
      const cut = Math.max(prefix.lastIndexOf('['), prefix.lastIndexOf(','));
      const item = prefix.slice(cut + 1);
      const lead = item.length - item.trimStart().length;
      prefix = item.trimStart();
      valueStart = line.start + (before.value?.col ?? col) + cut + 1 + lead;
      path.push(0);
    }
    if (prefix.startsWith('"') || prefix.startsWith('\'')) {
      prefix = prefix.slice(1);
      valueStart++;
    }
    let end = offset;
    while (end < line.start + line.text.length && WORD.test(text[end]) && text[end] !== ':') end++;
    return {
      ...base,
      position: 'value',
      path,
      prefix,
      replace: { start: valueStart, end },
      siblings: siblings(doc, doc.cursorLine, keyCol),
      column: keyCol,
      needsSpace: text[offset - 1] === ':',
    };
  }

  // A key being typed, a sequence item, or an empty line.
  const wordCol = before.scalar?.col ?? col;
  const path = withDashes(wordCol + 1);
  const prefix = before.scalar?.text ?? '';
  const start = line.start + (before.scalar ? before.scalar.col : col);
  let end = offset;
  while (end < line.start + line.text.length && WORD.test(text[end]) && text[end] !== ':') end++;
  return {
    ...base,
    position: 'key',
    path,
    prefix,
    replace: { start, end },
    siblings: siblings(doc, doc.cursorLine, wordCol),
    column: wordCol,
    needsSpace: false,
  };
}

function metadataNamespace(doc: DocLines): string | undefined {
  let inMetadata = false;
  for (const l of doc.lines) {
    if (l.empty) continue;
    if (l.key?.col === 0) inMetadata = l.key.text === 'metadata';
    else if (inMetadata && l.key?.text === 'namespace' && l.value?.text) return l.value.text.replace(/^["']|["']$/g, '');
  }
  return undefined;
}

// ---------- the parsed document, when there is one ----------

export interface AstHit {
  path: Segment[];
  /** The cursor is on a key (not its value). */
  onKey: boolean;
  node?: Node;
}

/** The path of the key or value under `offset` in a parsed YAML document (flow style included). */
export function astPathAt(doc: Document.Parsed, offset: number): AstHit | undefined {
  const path: Segment[] = [];
  let node: unknown = doc.contents;
  const within = (n: unknown) => {
    const r = (n as Node | null)?.range;
    return !!r && offset >= r[0] && offset <= r[1];
  };
  for (let guard = 0; guard < 64; guard++) {
    if (isMap(node)) {
      let next: unknown;
      for (const pair of node.items) {
        if (within(pair.key)) {
          path.push(isScalar(pair.key) ? String(pair.key.value) : '?');
          return { path, onKey: true, node: pair.key as Node };
        }
        if (pair.value && within(pair.value)) {
          path.push(isScalar(pair.key) ? String(pair.key.value) : '?');
          next = pair.value;
          break;
        }
      }
      if (next === undefined) return path.length ? { path, onKey: false, node: node as Node } : undefined;
      node = next;
    } else if (isSeq(node)) {
      const i = node.items.findIndex((item) => within(item));
      if (i < 0) return { path, onKey: false, node: node as Node };
      path.push(i);
      node = node.items[i];
    } else {
      return { path, onKey: false, node: node as Node };
    }
  }
  return undefined;
}
