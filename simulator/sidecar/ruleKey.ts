/**
 * `VirtualService/default/reviews/1`: the id per-rule counters, spans and the
 * editor's code lenses share. A VirtualService's tcp[] and tls[] rules name
 * their list (`VirtualService/default/tcp-echo/tcp/0`), so they never share
 * an id with the http[] rule of the same index. No imports but types, so the
 * topology page's bundle checks a rule id with the same grammar the sidecars
 * write it in.
 */
import type { RuleRef } from '../control/api/contract';

/** Kind/namespace/name/[tcp|tls/]index, as ruleKey writes it. */
export const RULE_KEY = /^([A-Za-z]+)\/([^/\s]+)\/([^/\s]+)\/(?:(tcp|tls)\/)?(\d+)$/;

export function ruleKey(r: RuleRef): string {
  return r.section ? `${r.kind}/${r.namespace}/${r.name}/${r.section}/${r.rule}` : `${r.kind}/${r.namespace}/${r.name}/${r.rule}`;
}

export function parseRuleKey(key: string): RuleRef | undefined {
  const m = RULE_KEY.exec(key);
  if (!m) return undefined;
  const ref: RuleRef = { kind: m[1], namespace: m[2], name: m[3], rule: Number(m[5]) };
  if (m[4]) ref.section = m[4] as 'tcp' | 'tls';
  return ref;
}
