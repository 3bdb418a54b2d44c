/**
 * Envoy matches regexes with RE2, which has no backtracking features. A
 * pattern that only JavaScript understands would be accepted locally and
 * rejected by Istio, so we flag those, and compile RE2 patterns to JavaScript
 * for the data plane (full-string match, as Envoy's safe_regex does).
 */

const UNSUPPORTED: { re: RegExp; what: string }[] = [
  { re: /\(\?=/, what: 'lookahead (?=...)' },
  { re: /\(\?!/, what: 'negative lookahead (?!...)' },
  { re: /\(\?<=/, what: 'lookbehind (?<=...)' },
  { re: /\(\?<!/, what: 'negative lookbehind (?<!...)' },
  { re: /\(\?>/, what: 'atomic group (?>...)' },
  { re: /\\[1-9]/, what: 'backreference \\1' },
  { re: /\\k</, what: 'named backreference \\k<...>' },
  { re: /(?:[*+?}])\+/, what: 'possessive quantifier' },
  { re: /\(\?\(/, what: 'conditional (?(...)' },
  { re: /\\Z/, what: '\\Z (RE2 has \\z)' },
];

/** What keeps a pattern from compiling in RE2 (or at all), or undefined when it is fine. */
export function re2Problem(pattern: string): string | undefined {
  const stripped = stripEscapedBackslashes(pattern);
  for (const u of UNSUPPORTED) {
    if (u.re.test(stripped)) return `RE2 does not support ${u.what}`;
  }
  try {
    toJsRegExp(pattern);
  } catch (err) {
    return (err as Error).message.replace(/^Invalid regular expression: /, '');
  }
  return undefined;
}

/** Compiles an RE2 pattern to an anchored JavaScript RegExp (full match). */
export function toJsRegExp(pattern: string, extraFlags = ''): RegExp {
  let body = pattern;
  let flags = extraFlags;
  // Leading inline flags such as (?i) or (?is): JavaScript wants them as RegExp flags.
  const lead = /^\(\?([imsU]+)\)/.exec(body);
  if (lead) {
    body = body.slice(lead[0].length);
    for (const f of lead[1]) if (f !== 'U' && !flags.includes(f)) flags += f;
  }
  body = body.replace(/\(\?P</g, '(?<').replace(/\\A/g, '^').replace(/\\z/g, '$');
  return new RegExp(`^(?:${body})$`, flags);
}

function stripEscapedBackslashes(p: string): string {
  return p.replace(/\\\\/g, '');
}
