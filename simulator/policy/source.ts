/**
 * Source files -> positioned policy documents. A file may hold several YAML
 * documents (`---`); each one that declares a mesh kind becomes a
 * `PolicyDocument` that keeps its parsed `yaml` Document, so every node of the
 * model can be traced back to its exact range in the text.
 */
import * as jsyaml from 'js-yaml';
import { Document as YamlDocument, isMap, isPair, isScalar, isSeq, parseAllDocuments, parseDocument, type Document, type Node, type Pair, type YAMLMap, type YAMLSeq } from 'yaml';
import { diagnostic, type Diagnostic, type Range } from './diagnostics';
import { classify, isReferenceKind, type Classification } from './kinds';
import type { Kind, Resource } from './model';

export type Path = readonly (string | number)[];

/**
 * A document of a source file that devmesh reads: a policy (below) or a
 * reference document — a Kubernetes or Gateway API object, or an Istio kind
 * devmesh does not simulate — that checks read as facts about the cluster.
 */
export interface SourceDocument {
  file: string;
  /** Position of the document within its file, counting every document. */
  index: number;
  /** Position inside the document's `items` when it is an item of a `kind: List`. */
  item?: number;
  kind: string;
  apiVersion: string;
  /** metadata.name, or '' when missing (a diagnostic says so). */
  name: string;
  /** metadata.namespace as written; undefined means "the Mesh's namespace". */
  namespace: string | undefined;
  /** The document as plain data. */
  value: Record<string, any>;
  /** Range of the whole document (or List item) in the file. */
  readonly range: Range;
  /** The parsed YAML with positions (built on first use); for a List item, a document whose contents is the item. */
  readonly yaml: Document.Parsed;
}

export interface PolicyDocument<K extends Kind = Kind> extends SourceDocument {
  kind: K;
  /** The document as plain data. Shape is checked by the schema, not guaranteed. */
  value: Resource<K>;
}

export interface SourceFile {
  file: string;
  text: string;
  /** Offsets where each line starts; line n (0-based) starts at lineStarts[n]. */
  lineStarts: number[];
  documents: PolicyDocument[];
  /** Kubernetes objects (TLS Secrets of Gateway listeners among them) and Istio kinds devmesh does not simulate, read by the checks that need them. */
  references: SourceDocument[];
  /** Syntax and classification findings of this file alone. */
  diagnostics: Diagnostic[];
}

/** Quick pre-check: a file that never mentions a mesh API group is not ours. */
const MESH_API_HINT = /(devmesh\.dev|istio\.io|gateway\.networking\.k8s\.io)\//;
/** ... unless it holds Kubernetes objects that checks read. */
const REFERENCE_HINT = /\bkind:\s*["']?(Namespace|Service|Pod|Secret|Node|Deployment|StatefulSet|DaemonSet|ReplicaSet|List)["']?\s*$/m;
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

  /** The document at `index` (or the `item` of the List there), checked against what js-yaml saw. */
  document(index: number, kind: string, name: string, item?: number): Document.Parsed {
    if (item !== undefined) {
      const list = this.top(index, (c) => String(c.get('kind')) === 'List');
      const items = isMap(list.contents) ? list.contents.get('items', true) : undefined;
      const node = isSeq(items) ? items.items[item] : undefined;
      return isMap(node) ? itemDocument(node) : list;
    }
    return this.top(index, (c) => {
      const metadata = c.get('metadata');
      return String(c.get('kind')) === kind && String((isMap(metadata) ? metadata.get('name') : undefined) ?? '') === name;
    });
  }

  private top(index: number, matches: (contents: YAMLMap) => boolean): Document.Parsed {
    const same = (d: Document.Parsed | undefined) => isMap(d?.contents) && matches(d.contents);
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

/**
 * A List item as a document of its own: its nodes keep their offsets in the
 * file, so every path inside it is located as in a document of its own.
 */
function itemDocument(node: YAMLMap): Document.Parsed {
  const doc = new YamlDocument(null) as unknown as Document.Parsed;
  doc.contents = node as Document.Parsed['contents'];
  const r = node.range ?? [0, 0, 0];
  (doc as { range: [number, number, number] }).range = [r[0], r[1], r[2]];
  return doc;
}

class LazyDocument implements SourceDocument {
  private parsed: Document.Parsed | undefined;
  constructor(
    readonly file: string,
    readonly index: number,
    readonly item: number | undefined,
    readonly kind: string,
    readonly apiVersion: string,
    readonly name: string,
    readonly namespace: string | undefined,
    readonly value: Record<string, any>,
    private readonly source: LazyYaml,
  ) {}

  get yaml(): Document.Parsed {
    this.parsed ??= this.source.document(this.index, this.kind, this.name, this.item);
    return this.parsed;
  }

  get range(): Range {
    return nodeRange(this.yaml.contents) ?? { start: this.yaml.range[0], end: this.yaml.range[1] };
  }
}

export function parseSource(file: string, text: string): SourceFile {
  const lineStarts = computeLineStarts(text);
  const out: SourceFile = { file, text, lineStarts, documents: [], references: [], diagnostics: [] };
  if (!MESH_API_HINT.test(text) && !REFERENCE_HINT.test(text)) return out;

  let values: unknown[] | undefined = [];
  try {
    jsyaml.loadAll(text, (v) => values!.push(v), { schema: jsyaml.CORE_SCHEMA, json: false });
  } catch {
    values = undefined; // a syntax error: the positioned parser finds all of them, with ranges
  }
  if (!values) return parseWithPositions(out);

  const lazy = new LazyYaml(text);
  values.forEach((value, index) => {
    eachResource(value, (resource, item) => {
      const cls = classify(str(resource.apiVersion), str(resource.kind));
      if (cls.problem) {
        // Rare: take the positioned path for this document to report where.
        const node = lazy.document(index, String(resource.kind), String(resource.metadata?.name ?? ''), item).contents;
        if (isMap(node)) out.diagnostics.push(...classifyDiagnostics(file, node, classifyNode(node)));
      }
      read(out, file, index, item, cls, resource, lazy);
    });
  });
  return out;
}

/** A document's resources: the items of a `kind: List`, or the document itself. */
function eachResource(value: unknown, visit: (resource: Record<string, any>, item: number | undefined) => void): void {
  if (!isObject(value)) return;
  if (value.kind === 'List' && Array.isArray(value.items)) {
    value.items.forEach((item: unknown, i: number) => { if (isObject(item)) visit(item, i); });
  } else {
    visit(value, undefined);
  }
}

/** Files a classified resource as a policy, a reference document, or nothing. */
function read(out: SourceFile, file: string, index: number, item: number | undefined, cls: Classification, value: Record<string, any>, lazy: LazyYaml): void {
  if (cls.kind !== undefined) {
    if (!cls.problem) out.documents.push(documentOf(file, index, item, cls.kind, value, lazy) as PolicyDocument);
  } else if (cls.problem === 'unsupported-kind' || isReferenceKind(str(value.apiVersion), str(value.kind))) {
    out.references.push(documentOf(file, index, item, String(value.kind), value, lazy));
  }
}

function documentOf(file: string, index: number, item: number | undefined, kind: string, value: Record<string, any>, lazy: LazyYaml): SourceDocument {
  const metadata = isObject(value.metadata) ? value.metadata : {};
  return new LazyDocument(
    file, index, item, kind, String(value.apiVersion ?? ''),
    typeof metadata.name === 'string' ? metadata.name : '',
    typeof metadata.namespace === 'string' ? metadata.namespace : undefined,
    value, lazy,
  );
}

/** The slow path, for files with syntax errors: every error with its range. */
function parseWithPositions(out: SourceFile): SourceFile {
  const { file, text } = out;
  const lazy = new LazyYaml(text);
  lazy.documents.forEach((doc, index) => {
    const root = doc.contents;
    const range = nodeRange(root) ?? { start: doc.range[0], end: doc.range[1] };
    const list = isMap(root) && String(root.get('kind')) === 'List' ? root.get('items', true) : undefined;
    const items = isSeq(list) ? (list as YAMLSeq).items : undefined;
    const nodes = items ? items.map((node, i) => [node, i] as const) : [[root, undefined] as const];
    const classes = nodes.map(([node]) => (isMap(node) ? classifyNode(node) : { istioGroup: false }));
    const ours = classes.some((cls) => cls.kind !== undefined || cls.istioGroup);
    // Syntax errors are reported only for documents that look like mesh policies;
    // other YAML (CI files, Helm values, broken Kubernetes manifests) is left alone.
    if (ours || (doc.errors.length > 0 && MESH_API_HINT.test(text.slice(range.start, range.end)))) {
      for (const e of doc.errors) out.diagnostics.push(yamlError(file, e.pos, e.message, e.code));
    }
    nodes.forEach(([node, item], i) => {
      const cls = classes[i];
      if (!isMap(node)) return;
      const classification = classifyDiagnostics(file, node, cls);
      out.diagnostics.push(...classification);
      if (classification.some((d) => d.severity === 'error') || (doc.errors.length > 0 && !ours)) return;
      let value: unknown;
      try {
        value = node.toJS(doc, { maxAliasCount: 100 });
      } catch (err) {
        out.diagnostics.push(diagnostic('yaml-syntax', file, nodeRange(node) ?? range, `cannot read this document: ${(err as Error).message}`));
        return;
      }
      if (isObject(value)) read(out, file, index, item, cls, value, lazy);
    });
  });
  return out;
}

interface DocClass extends Classification {
  apiVersionNode?: Node;
  kindNode?: Node;
}

function classifyNode(root: YAMLMap): DocClass {
  const apiVersionNode = root.get('apiVersion', true) as Node | undefined;
  const kindNode = root.get('kind', true) as Node | undefined;
  const apiVersion = isScalar(apiVersionNode) ? String(apiVersionNode.value) : undefined;
  const kind = isScalar(kindNode) ? String(kindNode.value) : undefined;
  return { ...classify(apiVersion, kind), apiVersionNode, kindNode };
}

function classifyDiagnostics(file: string, root: YAMLMap, cls: DocClass): Diagnostic[] {
  const whole = nodeRange(root) ?? { start: 0, end: 0 };
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
export function rangeOf(doc: SourceDocument, path: Path, part: 'key' | 'value' = 'value'): Range {
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
export function firstLine(doc: SourceDocument): Range {
  const loc = locate(doc.yaml, ['kind']);
  return loc.value ?? doc.range;
}

export function isObject(v: unknown): v is Record<string, any> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}
