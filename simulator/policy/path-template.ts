/**
 * Istio's path templates in AuthorizationPolicy `paths`/`notPaths` (Istio
 * 1.22+): a path with a `{*}` or `{**}` segment is an Envoy URI template
 * instead of an exact/prefix/suffix string. The proto comment of
 * `Operation.paths` in istio/api is the reference:
 *
 * - `{*}` is exactly one path segment (one or more characters, no `/`);
 * - `{**}` is zero or more characters including `/`, and no operator may
 *   follow it (literal segments may: `/foo/{**}/bar` is valid);
 * - an operator is a whole segment (`/foo/{*}.txt` is invalid), and a template
 *   has no `*`, `{` or `}` outside its operators;
 * - `{` and `}` are invalid outside an operator in every path, template or not
 *   (`/users/{id}` is not a named variable here).
 *
 * Matching follows the regex Envoy compiles a template to (uri_template_lib):
 * `{*}` -> `[pchar]+`, `{**}` -> `[pchar/]*`, the rest literal, anchored on
 * the whole path. So `/foo/{**}/` matches `/foo/bar/` and `/foo//` but not
 * `/foo/bar`, as the proto says; its further example `/foo/bar/baz.txt` does
 * not follow from that regex (the trailing `/` is literal) and is not matched
 * here. Pure: the validator and the sidecar's authz both use it.
 */

export const MATCH_ONE = '{*}';
export const MATCH_ANY = '{**}';

/** RFC 3986 pchar as Envoy's template parser accepts it in a literal: no `*`, `/`, `?`, `#`, `{`, `}`. */
const PCHAR = "a-zA-Z0-9\\-._~%!$&'()+,;:@=";
const LITERAL = new RegExp(`^[${PCHAR}]+$`);

/** Whether Istio reads this path as a template (it contains `{*}` or `{**}`). */
export function isPathTemplate(path: string): boolean {
  return path.includes(MATCH_ONE) || path.includes(MATCH_ANY);
}

/**
 * Why Istio would reject this path, in words that say how to fix it; or
 * undefined when it is fine (a valid template, or a plain path).
 */
export function pathTemplateProblem(path: string): string | undefined {
  const template = isPathTemplate(path);
  let anySeen = false;
  for (const segment of path.split('/')) {
    if (segment === MATCH_ONE || segment === MATCH_ANY) {
      if (anySeen) return `"${path}": ${MATCH_ANY} must be the last operator in a path template; no ${segment} may follow it (literal segments may)`;
      anySeen = segment === MATCH_ANY;
      continue;
    }
    if (/[{}]/.test(segment)) {
      return `"${path}": "{" and "}" are only allowed in the path template operators ${MATCH_ONE} (one segment) and ${MATCH_ANY} (any number of segments), each a whole segment; "${segment}" is not one (Istio has no named variables)`;
    }
    if (template && segment !== '' && !LITERAL.test(segment)) {
      return /\*/.test(segment)
        ? `"${path}": a path template cannot also use "*" (segment "${segment}"); write ${MATCH_ONE} for one segment or ${MATCH_ANY} for the rest of the path`
        : `"${path}": segment "${segment}" has characters a path template cannot match literally (allowed: letters, digits, -._~%!$&'()+,;:@=)`;
    }
  }
  return undefined;
}

const compiled = new Map<string, RegExp>();
const MAX_CACHED = 1_000;

/** The anchored regex Envoy compiles the template to. */
export function pathTemplateRegExp(template: string): RegExp {
  let re = compiled.get(template);
  if (re) return re;
  const source = template.split('/').map((segment) =>
    segment === MATCH_ONE ? `[${PCHAR}]+` : segment === MATCH_ANY ? `[${PCHAR}/]*` : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
  ).join('/');
  re = new RegExp(`^${source}$`);
  // Templates come from policies, so few; the bound only guards a pathological config.
  if (compiled.size >= MAX_CACHED) compiled.clear();
  compiled.set(template, re);
  return re;
}

/** Whether a (normalized, query-less) request path matches a template. */
export function matchesPathTemplate(template: string, path: string): boolean {
  return pathTemplateRegExp(template).test(path);
}
