import { eachDocument } from './per-document';
import type { Rule } from './rule';
import { arr, obj } from '../workspace-index';

/**
 * The first matching rule wins. A rule after a catch-all rule (no match, or an
 * empty match) can never apply, nor can a match identical to an earlier one
 * (IST0130, IST0131).
 */
export const shadowedRules: Rule = eachDocument('VirtualService', ['shadowed-rule', 'ineffective-match'], (vs, report) => {
  const rules = arr(obj(vs.value.spec).http);
  const earlier = new Map<string, number>();
  let catchAll: number | undefined;
  rules.forEach((raw, i) => {
    const matches = arr(obj(raw).match);
    if (catchAll !== undefined) {
      report(vs, ['spec', 'http', i], 'shadowed-rule',
        `http rule ${i} is never used: rule ${catchAll} has no match conditions and takes every request first; move this rule above it (IST0130)`);
      return;
    }
    if (matches.length === 0 || matches.some((m) => Object.keys(obj(m)).filter((k) => k !== 'name').length === 0)) {
      catchAll = i;
    }
    const keys = matches.map((m) => canonical(obj(m)));
    const unused = keys.filter((k) => earlier.has(k));
    if (matches.length > 0 && unused.length === matches.length) {
      report(vs, ['spec', 'http', i, 'match'], 'shadowed-rule',
        `http rule ${i} is never used: every match repeats one of rule ${earlier.get(keys[0])}, which comes first; change the match or remove the rule (IST0130)`, { part: 'key' });
    } else {
      keys.forEach((k, j) => {
        const dup = earlier.get(k);
        if (dup !== undefined || keys.indexOf(k) < j) {
          report(vs, ['spec', 'http', i, 'match', j], 'ineffective-match',
            `match ${j} of http rule ${i} duplicates a match of rule ${dup ?? i}; remove it (IST0131)`);
        }
      });
    }
    keys.forEach((k) => { if (!earlier.has(k)) earlier.set(k, i); });
  });
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
