/**
 * Request paths normalized as Envoy's HTTP connection manager does before
 * any filter or route sees them, per Istio's meshConfig.pathNormalization
 * (istio/istio@release-1.30 pilot/pkg/networking/core/listener_builder.go:339-353;
 * istio/api mesh/v1alpha1/config.proto ProxyPathNormalization). The result
 * is what routing matches, what AuthorizationPolicy checks and what goes
 * upstream, on every listener (outbound, inbound, ingress).
 *
 * - NONE: the path as received.
 * - BASE (Istio's default, Envoy's normalize_path, RFC 3986): percent-decode
 *   unreserved characters (ALPHA DIGIT - . _ ~), other escapes keep their
 *   encoding with upper-case hex; `\` becomes `/`; `.` and `..` segments are
 *   removed (`..` never climbs above `/`). Repeated slashes stay: `//admin`
 *   is not `/admin`, and a prefix rewrite's `//items` reaches the app.
 * - MERGE_SLASHES: BASE, then repeated slashes merged.
 * - DECODE_AND_MERGE_SLASHES: `%2F`/`%5C` decoded first (UNESCAPE_AND_FORWARD), then MERGE_SLASHES.
 * Case is kept: Istio matches paths case-sensitively. The query is untouched.
 */
import type { PathNormalization } from '../../policy/defaults';

const UNRESERVED = /[A-Za-z0-9\-._~]/;

export function normalizePath(pathWithQuery: string, mode: PathNormalization): string {
  if (mode === 'NONE') return pathWithQuery;
  const q = pathWithQuery.indexOf('?');
  const raw = q < 0 ? pathWithQuery : pathWithQuery.slice(0, q);
  // Most paths have nothing to normalize: no escape, backslash, dot segment or (when merging) double slash.
  if (raw.startsWith('/') && !/[%\\]|\/\.|\.$/.test(raw) && (mode === 'BASE' || !raw.includes('//'))) return pathWithQuery;
  const query = q < 0 ? '' : pathWithQuery.slice(q);
  let path = decodeSafe(raw, mode === 'DECODE_AND_MERGE_SLASHES').replace(/\\/g, '/');
  if (!path.startsWith('/')) path = `/${path}`;
  path = removeDotSegments(path);
  if (mode === 'MERGE_SLASHES' || mode === 'DECODE_AND_MERGE_SLASHES') path = path.replace(/\/{2,}/g, '/');
  return path + query;
}

function decodeSafe(s: string, slashes: boolean): string {
  return s.replace(/%([0-9A-Fa-f]{2})/g, (_m, hex: string) => {
    const ch = String.fromCharCode(parseInt(hex, 16));
    if (UNRESERVED.test(ch) || (slashes && (ch === '/' || ch === '\\'))) return ch;
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
