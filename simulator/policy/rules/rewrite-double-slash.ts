import { eachDocument } from './per-document';
import type { Rule } from './rule';
import { arr, obj, str } from '../workspace-index';

/**
 * `rewrite.uri` replaces the matched prefix verbatim (Envoy's prefix_rewrite,
 * pilot route.go:651): after `prefix: /api`, a rewrite ending in `/` turns
 * `/api/items` into `//items` — Envoy's route docs warn about exactly this
 * ("Pay careful attention to the use of trailing slashes"), istioctl does
 * not. The fix: match `/api/` (and `/api` itself with its own match), or
 * strip the prefix with `uriRegexRewrite` (`^/api/?` -> `/`), which the
 * quick fix writes when every match of the rule is a prefix.
 */
export const rewriteDoubleSlash: Rule = eachDocument('VirtualService', ['rewrite-double-slash'], (vs, report) => {
  arr(obj(vs.value.spec).http).forEach((r, i) => {
    const rule = obj(r);
    const uri = str(obj(rule.rewrite).uri);
    if (uri === undefined || !uri.endsWith('/')) return;
    const matches = arr(rule.match).map((m) => obj(obj(m).uri));
    const prefixes = matches.map((u) => str(u.prefix)).filter((p): p is string => p !== undefined);
    const doubling = [...new Set(prefixes.filter((p) => p !== '' && !p.endsWith('/')))];
    if (doubling.length === 0) return;
    const example = `${doubling[0]}/items`;
    const allPrefixes = matches.length > 0 && prefixes.length === matches.length;
    const regex = `^${doubling.length === 1 ? escapeRe2(doubling[0]) : `(?:${doubling.map(escapeRe2).join('|')})`}/?`;
    report(vs, ['spec', 'http', i, 'rewrite', 'uri'], 'rewrite-double-slash',
      `rewrite.uri "${uri}" replaces the matched prefix ${doubling.map((p) => `"${p}"`).join(', ')} verbatim, so ${example} reaches the app as ${uri}${'/items'} (Envoy's prefix_rewrite); `
      + `match "${doubling[0]}/" instead (with a separate match for "${doubling[0]}" itself), or use uriRegexRewrite { match: "${regex}", rewrite: "${uri}" }`,
      allPrefixes ? { data: { rule: i, regex, rewrite: uri } } : undefined);
  });
});

/** Escapes the characters RE2 reads as operators. */
function escapeRe2(s: string): string {
  return s.replace(/[\\^$.|?*+()[\]{}]/g, '\\$&');
}
