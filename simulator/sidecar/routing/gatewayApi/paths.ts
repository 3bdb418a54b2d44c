/**
 * Gateway API path semantics, pure. `PathPrefix` matches whole path
 * segments — `/abc` (or `/abc/`) matches `/abc`, `/abc/` and `/abc/def`,
 * never `/abcd` — where a VirtualService prefix matches characters; and
 * `ReplacePrefixMatch` replaces the matched segments, as the Gateway API's
 * table for HTTPPathModifier says (`/foo/bar` with prefix `/foo` and `/xyz`
 * or `/xyz/` gives `/xyz/bar`; with `/` or `""`, `/bar`).
 */

/** The prefix without its trailing `/` (`/` itself becomes ``). */
function bare(prefix: string): string {
  return prefix.endsWith('/') ? prefix.replace(/\/+$/, '') : prefix;
}

export function pathPrefixMatches(prefix: string, path: string): boolean {
  const p = bare(prefix);
  if (p === '') return path.startsWith('/');
  return path === p || path.startsWith(`${p}/`);
}

/** Replaces the segments `prefix` matched in `path` (without query) by `replacement`. */
export function replacePrefixMatch(path: string, prefix: string, replacement: string): string {
  const rest = path.slice(bare(prefix).length);
  const out = bare(replacement) + rest;
  if (out === '') return '/';
  return out.startsWith('/') ? out : `/${out}`;
}

/** `/a/b?x=1` -> [`/a/b`, `?x=1`]. */
export function splitQuery(pathWithQuery: string): [string, string] {
  const q = pathWithQuery.indexOf('?');
  return q < 0 ? [pathWithQuery, ''] : [pathWithQuery.slice(0, q), pathWithQuery.slice(q)];
}
