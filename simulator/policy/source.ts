/**
 * Source files -> positioned policy documents. A file may hold several YAML
 * documents (`---`); each one that declares a mesh kind becomes a
 * `PolicyDocument` that keeps its parsed `yaml` Document, so every node of the
 * model can be traced back to its exact range in the text.
 */
import * as jsyaml from 'js-yaml';
import { isMap, isPair, isScalar, isSeq, parseAllDocuments, parseDocument, type Document, type Node, type Pair } from 'yaml';
import { diagnostic, type Diagnostic, type Range } from './diagnostics';
import { classify, type Classification } from './kinds';
import type { Kind, Resource } from './model';

export type Path = readonly (string | number)[];

export interface PolicyDocument<K extends Kind = Kind> {
  file: string;
  /** Position of the document within its file, counting every document. */
  index: number;
  kind: K;
  apiVersion: string;
  /** metadata.name, or '' when missing (a diagnostic says so). */
  name: string;
  /** metadata.namespace as written; undefined means "the Mesh's namespace". */
  namespace: string | undefined;
  /** The document as plain data. Shape is checked by the schema, not guaranteed. */
  value: Resource<K>;
  /** Range of the whole document in the file. */
  readonly range: Range;
  /** The parsed YAML with positions (built on first use). */
  readonly yaml: Document.Parsed;
}

export interface SourceFile {
  file: string;
  text: string;
  /** Offsets where each line starts; line n (0-based) starts at lineStarts[n]. */
  lineStarts: number[];
  documents: PolicyDocument[];
  /** Syntax and classification findings of this file alone. */
  diagnostics: Diagnostic[];
}

/** Quick pre-check: a file that never mentions a mesh API group is not ours. */
const MESH_API_HINT = /(devmesh\.dev|istio\.io)\//;
const YAML_OPTIONS = { prettyErrors: false, uniqueKeys: true, strict: true } as const;

/**
 * The positioned parse of a file, made only when a position is asked for.
 * Reading values with js-yaml is about ten times faster than building the
 * positioned tree; most files of a workspace are clean and never need one.
 */
class LazyYaml {
  private docs: Document.Parsed[] | undefined;
  private segments: [number, number][] | null | undefined;
  constructor(private readonly text: string) {}

  get documents(): Document.Parsed[] {
    this.docs ??= parseAllDocuments(this.text, YAML_OPTIONS) as Document.Parsed[];
    return Array.isArray(this.docs) ? this.docs : [];
  }

  /** The document at `index`, checked against what js-yaml saw there. */
  document(index: number, kind: string, name: string): Document.Parsed {
    const same = (d: Document.Parsed | undefined) => {
      const c = d?.contents;
      const metadata = isMap(c) ? c.get('metadata') : undefined;
      return isMap(c) && String(c.get('kind')) === kind && String((isMap(metadata) ? metadata.get('name') : undefined) ?? '') === name;
    };
    if (!this.docs) {
      const alone = this.alone(index);
      if (same(alone)) return alone!;
    }
    const docs = this.documents;
    if (same(docs[index])) return docs[index];
    return docs.find(same) ?? docs[index] ?? docs[docs.length - 1];
  }

  /**
   * Document `index` parsed on its own, with the same offsets as in the file:
   * the text before it is blanked (newlines kept) and the text after it is
   * left out. When one document of a file has a finding, only that one pays
   * for the positioned parse. Undefined when the file's documents cannot be
   * told apart by their `---` lines alone (directives, `...` end markers).
   */
  private alone(index: number): Document.Parsed | undefined {
    if (this.segments === undefined) this.segments = documentSegments(this.text);
    const segment = this.segments?.[index];
    if (!segment) return undefined;
    const [start, end] = segment;
    const doc = parseDocument(this.text.slice(0, start).replace(/[^\n]/g, ' ') + this.text.slice(start, end), YAML_OPTIONS);
    return doc as Document.Parsed;
  }
}

/**
 * Where each document of a file starts and ends, as js-yaml and `yaml` count
 * them: a `---` line starts a document; text before the first one is a
 * document only if it holds more than blank lines and comments.
 */
function documentSegments(text: string): [number, number][] | null {
  if (/^(%|\.\.\.(?:[ \t]|\r?\n|$))/m.test(text)) return null;
  const starts = [...text.matchAll(/^---(?=[ \t]|\r?\n|$)/gm)].map((m) => m.index!);
  if (starts.length === 0 || /^[ \t]*[^\s#]/m.test(text.slice(0, starts[0]))) starts.unshift(0);
  return starts.map((start, i) => [start, starts[i + 1] ?? text.length]);
}

class LazyPolicyDocument<K extends Kind = Kind> implements PolicyDocument<K> {
  private parsed: Document.Parsed | undefined;
  constructor(
    readonly file: string,
    readonly index: number,
    readonly kind: K,
    readonly apiVersion: string,
    readonly name: string,
    readonly namespace: string | undefined,
    readonly value: Resource<K>,
    private readonly source: LazyYaml,
  ) {}

  get yaml(): Document.Parsed {
    this.parsed ??= this.source.document(this.index, this.kind, this.name);
    return this.parsed;
  }

  get range(): Range {
    return nodeRange(this.yaml.contents) ?? { start: this.yaml.range[0], end: this.yaml.range[1] };
  }
}

export function parseSource(file: string, text: string): SourceFile {
  const lineStarts = computeLineStarts(text);
  const out: SourceFile = { file, text, lineStarts, documents: [], diagnostics: [] };
  if (!MESH_API_HINT.test(text)) return out;

  let values: unknown[] | undefined = [];
  try {
    jsyaml.loadAll(text, (v) => values!.push(v), { schema: jsyaml.CORE_SCHEMA, json: false });
  } catch {
    values = undefined; // a syntax error: the positioned parser finds all of them, with ranges
  }
  if (!values) return parseWithPositions(out);

  const lazy = new LazyYaml(text);
  values.forEach((value, index) => {
    if (!isObject(value)) return;
    const cls = classify(typeof value.apiVersion === 'string' ? value.apiVersion : undefined, typeof value.kind === 'string' ? value.kind : undefined);
    if (cls.kind === undefined && !cls.istioGroup) return;
    if (cls.problem) {
      // Rare: take the positioned path for this file to report where.
      const doc = lazy.documents[index];
      if (doc) out.diagnostics.push(...classifyDiagnostics(file, doc, { ...classifyDocument(doc) }));
      return;
    }
    if (cls.kind === undefined) return;
    out.documents.push(documentOf(file, index, cls.kind, value, lazy));
  });
  return out;
}

function documentOf(file: string, index: number, kind: Kind, value: Record<string, any>, lazy: LazyYaml): PolicyDocument {
  const metadata = isObject(value.metadata) ? value.metadata : {};
  return new LazyPolicyDocument(
    file, index, kind, String(value.apiVersion ?? ''),
    typeof metadata.name === 'string' ? metadata.name : '',
    typeof metadata.namespace === 'string' ? metadata.namespace : undefined,
    value as unknown as Resource, lazy,
  );
}

/** The slow path, for files with syntax errors: every error with its range. */
function parseWithPositions(out: SourceFile): SourceFile {
  const { file, text } = out;
  const lazy = new LazyYaml(text);
  lazy.documents.forEach((doc, index) => {
    const range = nodeRange(doc.contents) ?? { start: doc.range[0], end: doc.range[1] };
    const cls = classifyDocument(doc);
    const ours = cls.kind !== undefined || cls.istioGroup;
    // Syntax errors are reported only for documents that look like mesh policies;
    // other YAML (CI files, Helm values) is left alone, even when broken.
    if (ours || (doc.errors.length > 0 && MESH_API_HINT.test(text.slice(range.start, range.end)))) {
      for (const e of doc.errors) out.diagnostics.push(yamlError(file, e.pos, e.message, e.code));
    }
    if (!ours) return;
    const classification = classifyDiagnostics(file, doc, cls);
    out.diagnostics.push(...classification);
    if (cls.kind === undefined || classification.some((d) => d.severity === 'error')) return;
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (err) {
      out.diagnostics.push(diagnostic('yaml-syntax', file, range, `cannot read this document: ${(err as Error).message}`));
      return;
    }
    if (isObject(value)) out.documents.push(documentOf(file, index, cls.kind, value, lazy));
  });
  return out;
}

interface DocClass extends Classification {
  apiVersionNode?: Node;
  kindNode?: Node;
}

function classifyDocument(doc: Document.Parsed): DocClass {
  const root = doc.contents;
  if (!isMap(root)) return { istioGroup: false };
  const apiVersionNode = root.get('apiVersion', true) as Node | undefined;
  const kindNode = root.get('kind', true) as Node | undefined;
  const apiVersion = isScalar(apiVersionNode) ? String(apiVersionNode.value) : undefined;
  const kind = isScalar(kindNode) ? String(kindNode.value) : undefined;
  return { ...classify(apiVersion, kind), apiVersionNode, kindNode };
}

function classifyDiagnostics(file: string, doc: Document.Parsed, cls: DocClass): Diagnostic[] {
  const whole = nodeRange(doc.contents) ?? { start: 0, end: 0 };
  if (cls.problem === 'missing-api-version') {
    return [diagnostic('missing-api-version', file, nodeRange(cls.kindNode) ?? whole,
      `${cls.kind} needs an apiVersion: add "apiVersion: ${cls.expected?.[0]}"`)];
  }
  if (cls.problem === 'unknown-api-version') {
    return [diagnostic('unknown-api-version', file, nodeRange(cls.apiVersionNode) ?? whole,
      `${cls.kind} is not served under this apiVersion; use one of ${cls.expected?.join(', ')}`,
      { data: { expected: cls.expected } })];
  }
  if (cls.problem === 'unsupported-kind') {
    return [diagnostic('not-simulated', file, nodeRange(cls.kindNode) ?? whole,
      `${cls.unsupportedKind} is not simulated by devmesh yet; this document is accepted but has no effect locally`)];
  }
  return [];
}

function yamlError(file: string, pos: [number, number], message: string, code: string): Diagnostic {
  const range = { start: pos[0], end: Math.max(pos[1], pos[0] + 1) };
  const firstLine = message.split('\n')[0];
  if (code === 'DUPLICATE_KEY') {
    return diagnostic('yaml-duplicate-key', file, range, `${firstLine}: remove or rename one of the two keys`);
  }
  return diagnostic('yaml-syntax', file, range, `YAML: ${firstLine}`);
}

// ---------- positions ----------

export function computeLineStarts(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return starts;
}

/** 0-based line and character (UTF-16 units, as LSP counts) of an offset. */
export function offsetToPosition(lineStarts: readonly number[], offset: number): { line: number; character: number } {
  let lo = 0;
  let hi = lineStarts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (lineStarts[mid] <= offset) lo = mid;
    else hi = mid - 1;
  }
  return { line: lo, character: offset - lineStarts[lo] };
}

export function positionToOffset(lineStarts: readonly number[], textLength: number, line: number, character: number): number {
  if (line >= lineStarts.length) return textLength;
  const start = lineStarts[Math.max(0, line)];
  const next = line + 1 < lineStarts.length ? lineStarts[line + 1] : textLength + 1;
  return Math.min(start + Math.max(0, character), next - 1, textLength);
}

export function nodeRange(node: unknown): Range | undefined {
  if (node && typeof node === 'object' && 'range' in node) {
    const r = (node as Node).range;
    if (r) return { start: r[0], end: r[1] };
  }
  return undefined;
}

// ---------- locating paths ----------

export interface Located {
  /** The key of the innermost pair found (absent for sequence items and the root). */
  key?: Range;
  /** The value at the path, when the whole path exists. */
  value?: Range;
  /** How many path segments were found; less than path.length when the path stops early. */
  depth: number;
  node?: Node;
}

/** Walks a path of map keys and sequence indexes through a YAML document. */
export function locate(doc: Document.Parsed, path: Path): Located {
  let node: unknown = doc.contents;
  let key: Range | undefined;
  let depth = 0;
  for (const seg of path) {
    if (isMap(node)) {
      const pair = node.items.find((p: Pair) => isScalar(p.key) && String(p.key.value) === String(seg));
      if (!pair) break;
      key = nodeRange(pair.key);
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number' && seg < node.items.length) {
      key = undefined;
      node = node.items[seg];
    } else {
      break;
    }
    depth++;
  }
  const found = depth === path.length;
  return { key, value: found ? nodeRange(node) : undefined, depth, node: isPair(node) ? undefined : (node as Node | undefined) };
}

/**
 * The best range to underline for a path: the key when asked (or when the value
 * is a large block), the value otherwise; falls back to the nearest ancestor.
 */
export function rangeOf(doc: PolicyDocument, path: Path, part: 'key' | 'value' = 'value'): Range {
  const loc = locate(doc.yaml, path);
  if (loc.depth === path.length) {
    if (part === 'key' && loc.key) return loc.key;
    if (loc.value && (isScalar(loc.node) || !loc.key)) return loc.value;
    return loc.key ?? loc.value ?? doc.range;
  }
  // Part of the path is missing: point at the deepest key that exists.
  if (loc.depth > 0) {
    const parent = locate(doc.yaml, path.slice(0, loc.depth));
    return parent.key ?? parent.value ?? doc.range;
  }
  return firstLine(doc);
}

/** The `kind: X` line, a natural anchor for document-level findings. */
export function firstLine(doc: PolicyDocument): Range {
  const loc = locate(doc.yaml, ['kind']);
  return loc.value ?? doc.range;
}

export function isObject(v: unknown): v is Record<string, any> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
