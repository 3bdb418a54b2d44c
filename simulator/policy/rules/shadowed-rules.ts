import { eachDocument } from './per-document';
import type { Rule } from './rule';
import { arr, obj } from '../workspace-index';
import { matchCovers } from './match-cover';

/**
 * The first matching rule wins, for http, tcp and tls rules alike. A rule
 * after a catch-all rule (no match, or an empty one) can never apply, nor can
 * a rule whose every match repeats an earlier one (IST0130); a match that
 * repeats an earlier one is ineffective (IST0131), and so is an http match
 * that an earlier, broader one covers (a prefix of its prefix, the same
 * method and headers or fewer conditions).
 */
export const shadowedRules: Rule = eachDocument('VirtualService', ['shadowed-rule', 'ineffective-match'], (vs, report) => {
  const spec = obj(vs.value.spec);
  for (const proto of ['http', 'tcp', 'tls'] as const) {
    const earlier = new Map<string, number>();
    /** Every match seen so far, for the covering check (http only). */
    const seen: { rule: number; match: number; value: Record<string, unknown> }[] = [];
    let catchAll: number | undefined;
    arr(spec[proto]).forEach((raw, i) => {
      const path = ['spec', proto, i];
      const matches = arr(obj(raw).match).map(obj);
      if (catchAll !== undefined) {
        report(vs, path, 'shadowed-rule',
          `${proto} rule ${i} is never used: rule ${catchAll} has no match conditions and takes every ${proto === 'http' ? 'request' : 'connection'} first; move this rule above it (IST0130)`);
        return;
      }
      if (matches.length === 0 || matches.some((m) => Object.keys(m).filter((k) => k !== 'name').length === 0)) catchAll = i;
      const keys = matches.map(canonical);
      let repeated = 0;
      keys.forEach((k, j) => {
        const dup = earlier.get(k) ?? (keys.indexOf(k) < j ? i : undefined);
        if (dup !== undefined) {
          repeated++;
          report(vs, [...path, 'match', j], 'ineffective-match', `match ${j} of ${proto} rule ${i} repeats a match of rule ${dup}, which takes those ${proto === 'http' ? 'requests' : 'connections'} first; remove it (IST0131)`);
          return;
        }
        if (proto !== 'http') return;
        const cover = seen.find((s) => matchCovers(s.value, matches[j]));
        if (cover) {
          report(vs, [...path, 'match', j], 'ineffective-match',
            `match ${j} of http rule ${i} is never used: match ${cover.match} of rule ${cover.rule} is broader and takes every request it would (IST0131); move the narrower match first`);
        }
        seen.push({ rule: i, match: j, value: matches[j] });
      });
      if (matches.length > 0 && repeated === matches.length) {
        report(vs, [...path, 'match'], 'shadowed-rule',
          `${proto} rule ${i} is never used: every match repeats one of an earlier rule, which comes first; change the match or remove the rule (IST0130)`, { part: 'key' });
      }
      keys.forEach((k) => { if (!earlier.has(k)) earlier.set(k, i); });
    });
  }
});

/**
 * A stable text form of a match, ignoring its name and key order. Memoised on
 * the match object: documents of unchanged files keep their objects between
 * validations, so each match is serialised once.
 */
const canonicalCache = new WeakMap<object, string>();
function canonical(m: Record<string, unknown>): string {
  let text = canonicalCache.get(m);
  if (text === undefined) {
    const { name: _name, ...rest } = m;
    text = JSON.stringify(sortKeys(rest));
    canonicalCache.set(m, text);
  }
  return text;
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') {
    return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]));
  }
  return v;
}
