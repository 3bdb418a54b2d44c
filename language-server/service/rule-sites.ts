/**
 * Where each rule the sidecars count is written: every VirtualService
 * http[]/tcp[]/tls[] rule, every HTTPRoute/GRPCRoute/TLSRoute/TCPRoute rule and every
 * AuthorizationPolicy rule of a file, with the id the sidecars count it
 * under (decisions.ts ruleKey, fed the same kind, resolved namespace, name,
 * index and list as the route tables' origins), so the editor's code lenses
 * and `GET /api/rules` meet on one id.
 */
import type { Range as LspRange } from 'vscode-languageserver';
import { rangeOf, type PolicyDocument, type SourceFile, type WorkspaceIndex } from '../../simulator/policy';
import { ruleKey, type RuleRef } from '../../simulator/sidecar/decisions';
import { toLspRange } from './positions';

export interface RuleSite {
  /** The id `GET /api/rules` and `/api/traces?rule=` use. */
  rule: string;
  ref: RuleRef;
  /** The rule's item in its list: the lens sits on its first line. */
  range: LspRange;
}

/** The lists of rules each kind has, as the route tables and the authorization filter index them. */
const RULE_LISTS: Partial<Record<string, ReadonlyArray<{ field: string; section?: 'tcp' | 'tls' }>>> = {
  VirtualService: [{ field: 'http' }, { field: 'tcp', section: 'tcp' }, { field: 'tls', section: 'tls' }],
  HTTPRoute: [{ field: 'rules' }],
  GRPCRoute: [{ field: 'rules' }],
  // As the ingress compiles them into tls[] / tcp[] rules (routing/gatewayApi/l4.ts): the section names the list.
  TLSRoute: [{ field: 'rules', section: 'tls' }],
  TCPRoute: [{ field: 'rules', section: 'tcp' }],
  AuthorizationPolicy: [{ field: 'rules' }],
};

export function ruleSites(index: WorkspaceIndex, source: SourceFile): RuleSite[] {
  const out: RuleSite[] = [];
  for (const doc of source.documents) {
    const lists = RULE_LISTS[doc.kind];
    if (!lists || !doc.name) continue;
    for (const { field, section } of lists) {
      const rules = specOf(doc)?.[field];
      if (!Array.isArray(rules)) continue;
      rules.forEach((_, i) => {
        const ref: RuleRef = { kind: doc.kind, namespace: index.namespaceOf(doc), name: doc.name, rule: i };
        if (section) ref.section = section;
        out.push({ rule: ruleKey(ref), ref, range: toLspRange(source, rangeOf(doc, ['spec', field, i])) });
      });
    }
  }
  return out.sort((a, b) => a.range.start.line - b.range.start.line);
}

function specOf(doc: PolicyDocument): Record<string, unknown> | undefined {
  const spec = (doc.value as { spec?: unknown }).spec;
  return spec && typeof spec === 'object' && !Array.isArray(spec) ? spec as Record<string, unknown> : undefined;
}
