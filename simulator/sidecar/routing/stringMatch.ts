/**
 * Istio's StringMatch compiled once per snapshot into a predicate.
 * `regex` is a full match, as Envoy's RE2 `safe_regex` is (Istio anchors
 * nothing, Envoy matches the whole value). An empty match `{}` means
 * "present", which is how Istio reads `headers: { x-foo: {} }`.
 */
import type { StringMatch } from '../../policy/model';

export type ValueMatcher = (value: string | undefined) => boolean;

export function compileStringMatch(m: StringMatch, ignoreCase = false): ValueMatcher {
  if (m.exact !== undefined) {
    const want = ignoreCase ? m.exact.toLowerCase() : m.exact;
    return ignoreCase ? (v) => v !== undefined && v.toLowerCase() === want : (v) => v === want;
  }
  if (m.prefix !== undefined) {
    const want = ignoreCase ? m.prefix.toLowerCase() : m.prefix;
    return ignoreCase ? (v) => v !== undefined && v.toLowerCase().startsWith(want) : (v) => v !== undefined && v.startsWith(want);
  }
  if (m.regex !== undefined) {
    const re = compileFullRegex(m.regex, ignoreCase);
    return (v) => v !== undefined && re.test(v);
  }
  return (v) => v !== undefined;
}

/** Throws a readable error for a regex JavaScript cannot compile (the snapshot is then rejected). */
export function compileFullRegex(source: string, ignoreCase = false): RegExp {
  try {
    return new RegExp(`^(?:${source})$`, ignoreCase ? 'i' : '');
  } catch (err) {
    throw new Error(`invalid regex ${JSON.stringify(source)}: ${(err as Error).message}`);
  }
}
