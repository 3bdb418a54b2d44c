/**
 * Document symbols (resource -> top-level sections of spec -> rules and
 * entries) and folding ranges that follow resources and their blocks.
 */
import { kindName } from '../../simulator/policy/kinds';
import { isMap, isPair, isScalar, isSeq, type Node, type YAMLMap } from 'yaml';
import { SymbolKind, type DocumentSymbol, type FoldingRange } from 'vscode-languageserver';
import { offsetToPosition, type PolicyDocument, type SourceFile } from '../../simulator/policy';
import { toLspRange } from './positions';

export function documentSymbols(source: SourceFile): DocumentSymbol[] {
  return source.documents.map((doc) => {
    const start = doc.range.start;
    const whole = doc.range;
    const nameNode = (doc.yaml.getIn(['metadata', 'name'], true) ?? doc.yaml.get('kind', true)) as Node | undefined;
    const selection = nodeSpan(nameNode) ?? { start, end: start };
    const spec = doc.yaml.get('spec', true);
    return {
      name: doc.name || '(unnamed)',
      detail: kindName(doc.kind),
      kind: SymbolKind.Class,
      range: toLspRange(source, whole),
      selectionRange: toLspRange(source, clamp(selection, whole)),
      children: isMap(spec) ? sectionSymbols(source, doc, spec) : [],
    };
  });
}

function sectionSymbols(source: SourceFile, doc: PolicyDocument, spec: YAMLMap): DocumentSymbol[] {
  return spec.items.flatMap((pair) => {
    if (!isScalar(pair.key)) return [];
    const key = String(pair.key.value);
    const keySpan = nodeSpan(pair.key)!;
    const full = { start: keySpan.start, end: nodeSpan(pair.value)?.end ?? keySpan.end };
    const value = pair.value;
    const children: DocumentSymbol[] = isSeq(value)
      ? value.items.flatMap((item, i) => {
        const span = nodeSpan(item);
        if (!span) return [];
        const workloads: unknown = isMap(item) ? item.get('workloads', true) : undefined;
        const sub = isSeq(workloads) ? workloads.items : [];
        return [{
          name: itemName(doc, key, item, i),
          kind: key === 'services' || key === 'subsets' ? SymbolKind.Module : SymbolKind.Struct,
          range: toLspRange(source, span),
          selectionRange: toLspRange(source, { start: span.start, end: span.start }),
          children: sub.flatMap((w, j) => {
            const ws = nodeSpan(w);
            return ws ? [{ name: itemName(doc, 'workloads', w, j), kind: SymbolKind.Object, range: toLspRange(source, ws), selectionRange: toLspRange(source, { start: ws.start, end: ws.start }) }] : [];
          }),
        }];
      })
      : [];
    return [{ name: key, kind: SymbolKind.Field, range: toLspRange(source, full), selectionRange: toLspRange(source, keySpan), children }];
  });
}

/** A short name for a list entry: its `name`, or a summary of what it does. */
function itemName(doc: PolicyDocument, section: string, item: unknown, i: number): string {
  if (isScalar(item)) return String(item.value);
  if (!isMap(item)) return `#${i + 1}`;
  const js = item.toJSON() as Record<string, any>;
  if (typeof js.name === 'string') return js.name;
  if (section === 'http' || section === 'tcp') {
    const dests = (Array.isArray(js.route) ? js.route : []).map((r: any) => {
      const d = r?.destination ?? {};
      return `${d.host ?? '?'}${d.subset ? `:${d.subset}` : ''}${r?.weight !== undefined ? ` ${r.weight}%` : ''}`;
    });
    const what = dests.length ? `-> ${dests.join(', ')}` : js.redirect ? 'redirect' : js.directResponse ? `respond ${js.directResponse.status ?? ''}` : '';
    return `${section}[${i}]${js.match ? ' (match)' : ''} ${what}`.trim();
  }
  if (section === 'rules' && doc.kind === 'AuthorizationPolicy') return `rule ${i + 1}`;
  if (section === 'servers') return `port ${js.port?.number ?? '?'}`;
  return `#${i + 1}`;
}

export function foldingRanges(source: SourceFile): FoldingRange[] {
  const out: FoldingRange[] = [];
  const lineOf = (offset: number) => offsetToPosition(source.lineStarts, offset).line;
  const add = (start: number, end: number) => {
    const a = lineOf(start);
    const b = lineOf(Math.max(start, end - 1));
    if (b > a) out.push({ startLine: a, endLine: b });
  };
  for (const doc of source.documents) {
    add(doc.range.start, doc.range.end);
    const visit = (node: unknown, depth: number) => {
      if (depth > 12) return;
      if (isMap(node)) {
        for (const pair of node.items) {
          const k = nodeSpan(pair.key);
          const v = nodeSpan(pair.value);
          if (k && v && !(pair.value as Node & { flow?: boolean })?.flow && (isMap(pair.value) || isSeq(pair.value))) add(k.start, v.end);
          visit(pair.value, depth + 1);
        }
      } else if (isSeq(node)) {
        for (const item of node.items) {
          const s = nodeSpan(item);
          if (s && isMap(item)) add(s.start, s.end);
          visit(item, depth + 1);
        }
      } else if (isPair(node)) {
        visit(node.value, depth + 1);
      }
    };
    visit(doc.yaml.contents, 0);
  }
  return out;
}

function nodeSpan(node: unknown): { start: number; end: number } | undefined {
  const r = (node as Node | null | undefined)?.range;
  return r ? { start: r[0], end: r[1] } : undefined;
}

function clamp(inner: { start: number; end: number }, outer: { start: number; end: number }) {
  return inner.start >= outer.start && inner.end <= outer.end ? inner : { start: outer.start, end: outer.start };
}
