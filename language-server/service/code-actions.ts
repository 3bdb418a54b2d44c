/**
 * Quick fixes, built from the `data` the validator attaches to its
 * diagnostics: rename a misspelled field or enum value, drop `spiffe://`,
 * point an unknown host at the nearest Mesh service, add a missing subset to
 * its DestinationRule, create the DestinationRule when there is none, or
 * turn a prefix rewrite that doubles a slash into a uriRegexRewrite.
 */
import { isMap, isScalar, isSeq, type Node } from 'yaml';
import { CodeActionKind, type CodeAction, type TextEdit, type WorkspaceEdit } from 'vscode-languageserver';
import { API_VERSIONS, locate, type Diagnostic, type PolicyDocument, type Workspace } from '../../simulator/policy';
import { closest } from '../../simulator/policy/suggest';
import { toLspDiagnostic } from './diagnostics';
import { fqdnIn, serviceByFqdn } from './mesh-facts';
import { toLspRange } from './positions';

export function codeActions(ws: Workspace, file: string, range: { start: number; end: number }, diagnostics: readonly Diagnostic[]): CodeAction[] {
  const source = ws.getSource(file);
  if (!source) return [];
  const out: CodeAction[] = [];
  const hit = diagnostics.filter((d) => d.file === file && d.range.start <= range.end && d.range.end >= range.start);
  for (const d of hit) {
    const lsp = toLspDiagnostic(source, d);
    const fix = (title: string, edit: WorkspaceEdit, isPreferred = true) =>
      out.push({ title, kind: CodeActionKind.QuickFix, diagnostics: [lsp], isPreferred, edit });
    const replace = (text: string): WorkspaceEdit => ({ changes: { [file]: [{ range: lsp.range, newText: requote(source.text.slice(d.range.start, d.range.end), text) }] } });
    const data = d.data ?? {};
    switch (d.code) {
      case 'unknown-field':
        if (typeof data.suggestion === 'string') fix(`Change "${data.field}" to "${data.suggestion}"`, replace(data.suggestion));
        break;
      case 'bad-enum':
        if (typeof data.suggestion === 'string') fix(`Change to "${data.suggestion}"`, replace(data.suggestion));
        break;
      case 'principal-format':
        if (typeof data.replacement === 'string') fix('Remove "spiffe://"', replace(data.replacement));
        break;
      case 'unknown-host': {
        const names = ws.index.mesh?.services.map((s) => s.name) ?? [];
        const guess = typeof data.host === 'string' ? closest(data.host.split('.')[0], names) : undefined;
        if (guess) fix(`Change to "${guess}"`, replace(guess));
        break;
      }
      case 'rewrite-double-slash': {
        const edit = typeof data.regex === 'string' && typeof data.rewrite === 'string' ? regexRewriteEdit(source, d.range.start, Number(data.rule), data.regex, data.rewrite) : undefined;
        if (edit) fix(`Strip the prefix with uriRegexRewrite "${data.regex}" -> "${data.rewrite}"`, { changes: { [file]: [edit] } });
        break;
      }
      case 'unknown-subset': {
        const host = String(data.host ?? '');
        const subset = String(data.subset ?? '');
        const ruleRef = data.destinationRule as { file: string; name: string } | undefined;
        const rule = ruleRef && ws.index.byKind.DestinationRule.find((r) => r.file === ruleRef.file && r.name === ruleRef.name);
        const labels = subsetLabels(ws, host, subset);
        if (rule) {
          const edit = addSubsetEdit(ws, rule, subset, labels);
          if (edit) fix(`Add subset "${subset}" to DestinationRule "${rule.name}"`, { changes: { [rule.file]: [edit] } });
        } else if (host) {
          const text = source.text;
          const body = [
            `${text.length === 0 || text.endsWith('\n') ? '' : '\n'}---`,
            `apiVersion: ${API_VERSIONS.DestinationRule[0]}`,
            'kind: DestinationRule',
            'metadata:',
            `  name: ${host.split('.')[0]}`,
            'spec:',
            `  host: ${host}`,
            '  subsets:',
            `    - name: ${subset}`,
            '      labels:',
            ...Object.entries(labels).map(([k, v]) => `        ${k}: ${v}`),
            '',
          ].join('\n');
          const end = toLspRange(source, { start: text.length, end: text.length });
          fix(`Create DestinationRule for "${host}" with subset "${subset}"`, { changes: { [file]: [{ range: end, newText: body }] } });
        }
        break;
      }
    }
  }
  return out;
}

/** Replaces `uri: /` of rule `rule`'s rewrite with `uriRegexRewrite: { match, rewrite }`, in the document at `offset`. */
function regexRewriteEdit(source: NonNullable<ReturnType<Workspace['getSource']>>, offset: number, rule: number, regex: string, rewrite: string): TextEdit | undefined {
  const doc = source.documents.find((x) => offset >= x.yaml.range[0] && offset <= x.yaml.range[2]);
  const rw = doc && locate(doc.yaml, ['spec', 'http', rule, 'rewrite']);
  if (!rw || rw.depth !== 4 || !isMap(rw.node)) return undefined;
  const pair = rw.node.items.find((p) => isScalar(p.key) && p.key.value === 'uri');
  const key = pair?.key as Node | undefined;
  const value = pair?.value as Node | undefined;
  if (!key?.range || !value?.range) return undefined;
  const quote = (v: string) => `'${v.replace(/'/g, "''")}'`;
  return { range: toLspRange(source, { start: key.range[0], end: value.range[1] }), newText: `uriRegexRewrite: { match: ${quote(regex)}, rewrite: ${quote(rewrite)} }` };
}

/** Keeps the quotes of the original text around a replacement. */
function requote(original: string, text: string): string {
  const q = original[0];
  return (q === '"' || q === '\'') && original.endsWith(q) && original.length >= 2 ? `${q}${text}${q}` : text;
}

/** Labels for a new subset: the label whose value is the subset's name on some workload of the host, else `version`. */
function subsetLabels(ws: Workspace, host: string, subset: string): Record<string, string> {
  const index = ws.index;
  const svc = serviceByFqdn(index, fqdnIn(index, host, undefined));
  for (const w of svc?.workloads ?? []) {
    for (const [k, v] of Object.entries(w.labels)) if (v === subset) return { [k]: v };
  }
  return { version: subset };
}

/** An edit that appends a subset entry after the last one of `spec.subsets` (or adds `subsets:` to the spec). */
function addSubsetEdit(ws: Workspace, rule: PolicyDocument, subset: string, labels: Record<string, string>): TextEdit | undefined {
  const source = ws.getSource(rule.file)!;
  const text = source.text;
  const columnOf = (offset: number) => offset - text.lastIndexOf('\n', offset - 1) - 1;
  const endOfLine = (offset: number) => {
    let p = offset;
    while (p > 0 && /\s/.test(text[p - 1])) p--;
    const nl = text.indexOf('\n', p);
    return nl === -1 ? text.length : nl;
  };
  const entry = (dash: number) => {
    const pad = ' '.repeat(dash);
    return [`\n${pad}- name: ${subset}`, `${pad}  labels:`, ...Object.entries(labels).map(([k, v]) => `${pad}    ${k}: ${v}`)].join('\n');
  };
  const subsets = locate(rule.yaml, ['spec', 'subsets']);
  const node = subsets.node as Node | undefined;
  if (subsets.depth === 2 && isSeq(node) && node.items.length > 0 && !node.flow) {
    const first = node.items[0] as Node;
    const last = node.items[node.items.length - 1] as Node;
    const dash = text.lastIndexOf('-', first.range![0]);
    const at = endOfLine(last.range![1]);
    return { range: toLspRange(source, { start: at, end: at }), newText: entry(columnOf(dash)) };
  }
  const spec = locate(rule.yaml, ['spec']);
  if (spec.depth === 1 && isMap(spec.node) && spec.node.items.length > 0 && subsets.depth < 2) {
    const firstKey = spec.node.items[0].key as Node;
    const col = columnOf(firstKey.range![0]);
    const at = endOfLine(spec.node.range![1]);
    return { range: toLspRange(source, { start: at, end: at }), newText: `\n${' '.repeat(col)}subsets:${entry(col + 2)}` };
  }
  return undefined;
}
