/**
 * Request paths normalized before authorization, as Envoy does ahead of its
 * RBAC filter (Istio's pathNormalization, here its strictest form
 * DECODE_AND_MERGE_SLASHES), so that spelling a path differently cannot slip
 * past a policy: `/admin/../admin`, `/%2e%2e/admin`, `//admin`, `/admin/./`,
 * `/admin%2Fx` and `\admin` all become the path the app will resolve.
 *
 * 1. percent-decode unreserved characters (ALPHA DIGIT - . _ ~) and `/` `\`
 *    (%2F, %5C); other escapes stay encoded with upper-case hex;
 * 2. `\` becomes `/` (Envoy's URL canonicalizer does the same);
 * 3. merge repeated slashes;
 * 4. remove `.` and `..` segments (RFC 3986 5.2.4); `..` never climbs above `/`.
 * Case is kept: Istio matches paths case-sensitively. The query is untouched.
 */

const UNRESERVED = /[A-Za-z0-9\-._~]/;

export function normalizePath(pathWithQuery: string): string {
  const q = pathWithQuery.indexOf('?');
  const raw = q < 0 ? pathWithQuery : pathWithQuery.slice(0, q);
  const query = q < 0 ? '' : pathWithQuery.slice(q);
  let path = decodeSafe(raw).replace(/\\/g, '/');
  if (!path.startsWith('/')) path = `/${path}`;
  path = path.replace(/\/{2,}/g, '/');
  return removeDotSegments(path) + query;
}

function decodeSafe(s: string): string {
  return s.replace(/%([0-9A-Fa-f]{2})/g, (_m, hex: string) => {
    const ch = String.fromCharCode(parseInt(hex, 16));
    if (UNRESERVED.test(ch) || ch === '/' || ch === '\\') return ch;
    return `%${hex.toUpperCase()}`;
  });
}

function removeDotSegments(path: string): string {
  const out: string[] = [];
  const segments = path.split('/').slice(1);
  segments.forEach((seg, i) => {
    const last = i === segments.length - 1;
    if (seg === '.') {
      if (last) out.push('');
    } else if (seg === '..') {
      out.pop();
      if (last) out.push('');
    } else out.push(seg);
  });
  return `/${out.join('/')}`;
}
