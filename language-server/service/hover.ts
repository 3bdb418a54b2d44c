/**
 * Hover: the documentation of the field under the cursor from the schema,
 * and for names (hosts, subsets, principals) what they resolve to in the
 * workspace: the Mesh service, its workloads and ports, the subset's labels.
 */
import { isScalar } from 'yaml';
import { MarkupKind, type Hover } from 'vscode-languageserver';
import { nodeRange, schemaAt, type PolicyDocument, type SourceFile, type WorkspaceIndex } from '../../simulator/policy';
import { astPathAt, cursorContext } from './cursor';
import type { Segment } from './lines';
import {
  fqdnIn, labelsText, parsePrincipal, principals, serviceByFqdn, serviceMarkdown, subsetsOf, subsetWorkloads, workloadLine,
} from './mesh-facts';
import { toLspRange } from './positions';
import { fieldMarkdown, isLabelMap } from './schema-docs';
import { valueAt } from './values';

export function policyDocumentAt(source: SourceFile, offset: number): PolicyDocument | undefined {
  return source.documents.find((d) => offset >= d.yaml.range[0] && offset <= d.yaml.range[2]);
}

export interface Target {
  doc?: PolicyDocument;
  kind: PolicyDocument['kind'];
  path: Segment[];
  onKey: boolean;
  /** The scalar under the cursor, when on a value. */
  value?: string;
  range?: { start: number; end: number };
  namespace?: string;
}

/** What is under the cursor: from the parsed document, or from the text while it does not parse. */
export function targetAt(source: SourceFile, offset: number): Target | undefined {
  const doc = policyDocumentAt(source, offset);
  if (doc) {
    const hit = astPathAt(doc.yaml, offset);
    if (!hit || hit.path.length === 0) return undefined;
    const scalar = isScalar(hit.node) ? hit.node : undefined;
    return {
      doc, kind: doc.kind, path: hit.path, onKey: hit.onKey,
      value: scalar && !hit.onKey && scalar.value !== null ? String(scalar.value) : undefined,
      range: nodeRange(hit.node), namespace: doc.namespace,
    };
  }
  const ctx = cursorContext(source.text, offset);
  if (!ctx?.kind) return undefined;
  const line = ctx.doc.lines[ctx.doc.cursorLine];
  if (ctx.position === 'key' && line.key) {
    return { kind: ctx.kind, path: [...ctx.path, line.key.text], onKey: true, range: { start: line.start + line.key.col, end: line.start + line.key.end } };
  }
  return undefined;
}

export function hover(index: WorkspaceIndex, source: SourceFile, offset: number): Hover | null {
  const t = targetAt(source, offset);
  if (!t) return null;
  const value = t.onKey ? undefined : describeValue(index, t);
  const field = describeField(t);
  const parts = [value, field].filter(Boolean);
  if (!parts.length) return null;
  return { contents: { kind: MarkupKind.Markdown, value: parts.join('\n\n---\n\n') }, range: t.range ? toLspRange(source, t.range) : undefined };
}

function describeField(t: Target): string | undefined {
  const key = [...t.path].reverse().find((s): s is string => typeof s === 'string');
  if (!key) return undefined;
  const keyIndex = t.path.lastIndexOf(key);
  const fieldPath = t.path.slice(0, keyIndex + 1);
  const parent = schemaAt(t.kind, fieldPath.slice(0, -1));
  if (isLabelMap(parent)) return `**${key}**: label\n\n${parent?.description ?? ''}`.trim();
  const schema = schemaAt(t.kind, fieldPath);
  return schema ? fieldMarkdown(key, schema, parent) : undefined;
}

function describeValue(index: WorkspaceIndex, t: Target): string | undefined {
  if (t.value === undefined) return undefined;
  const schema = schemaAt(t.kind, t.path);
  const documented = schema?.['x-enumDescriptions']?.[t.value];
  if (documented) return documented;
  switch (schema?.['x-ref']) {
    case 'host': {
      const fqdn = fqdnIn(index, t.value, t.namespace);
      const svc = serviceByFqdn(index, fqdn);
      if (!svc) return `\`${t.value}\` → \`${fqdn}\`: not a service of the Mesh`;
      const subsets = subsetsOf(index, fqdn);
      const extra = subsets.length ? `\n\nSubsets: ${subsets.map((s) => `\`${s.name}\` (${labelsText(s.labels)})`).join(', ')}` : '';
      return serviceMarkdown(svc) + extra;
    }
    case 'subset': {
      const host = t.doc ? valueAt(t.doc.value, [...t.path.slice(0, -1), 'host']) : undefined;
      if (typeof host !== 'string') return undefined;
      const fqdn = fqdnIn(index, host, t.namespace);
      const subset = subsetsOf(index, fqdn).find((s) => s.name === t.value);
      if (!subset) return `Subset \`${t.value}\` of \`${fqdn}\`: no DestinationRule defines it`;
      const workloads = subsetWorkloads(index, serviceByFqdn(index, fqdn), subset);
      return [
        `**${subset.name}** — subset of \`${fqdn}\` (DestinationRule \`${subset.rule.name}\`)`,
        '',
        `Labels: ${labelsText(subset.labels)}; selects ${workloads.length} workload${workloads.length === 1 ? '' : 's'}:`,
        ...workloads.map(workloadLine),
      ].join('\n');
    }
    case 'extensionProvider': {
      const p = index.mesh?.extensionProviders.find((x) => x.name === t.value);
      if (!p) return `Extension provider \`${t.value}\`: not defined in the Mesh's \`spec.extensionProviders\` (the policy denies what its rules match)`;
      if (p.kind === 'other') return `Extension provider \`${p.name}\`: not an external authorizer`;
      return `**${p.name}** — ${p.kind === 'http' ? 'HTTP' : 'gRPC'} external authorizer \`${p.service ?? '?'}:${p.port ?? '?'}\` (Mesh \`spec.extensionProviders\`)`;
    }
    case 'principal': {
      const p = parsePrincipal(t.value);
      const known = p && principals(index).find((x) => x.serviceAccount === p.serviceAccount && x.namespace === p.namespace);
      if (!known) return `Principal \`${t.value}\`: no workload of the Mesh runs with this identity`;
      return [`Principal of service account \`${known.serviceAccount}\` (SPIFFE \`spiffe://${known.principal}\`), workloads:`, ...known.workloads.map(workloadLine)].join('\n');
    }
  }
  return undefined;
}
