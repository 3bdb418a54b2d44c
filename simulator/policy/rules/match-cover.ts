/**
 * Whether one HTTPMatchRequest takes every request another one would: each
 * condition of the broader match is implied by a condition of the narrower
 * one (a prefix of its prefix or exact value, the same regex, a subset of its
 * headers, labels and gateways, ...). Conservative: when in doubt, not
 * covered. Pure.
 */
import { arr, obj } from '../workspace-index';

type Match = Record<string, unknown>;

export function matchCovers(broad: Match, narrow: Match): boolean {
  for (const [key, value] of Object.entries(broad)) {
    if (key === 'name' || key === 'statPrefix' || value === undefined) continue;
    const other = narrow[key];
    switch (key) {
      case 'uri':
        if ((broad.ignoreUriCase ?? false) !== (narrow.ignoreUriCase ?? false) || !stringCovers(obj(value), other)) return false;
        break;
      case 'ignoreUriCase':
        break; // compared with uri
      case 'scheme': case 'method': case 'authority':
        if (!stringCovers(obj(value), other)) return false;
        break;
      case 'headers': case 'queryParams':
        for (const [name, m] of Object.entries(obj(value))) if (!stringCovers(obj(m), obj(other)[name])) return false;
        break;
      case 'withoutHeaders':
        for (const [name, m] of Object.entries(obj(value))) if (JSON.stringify(obj(other)[name]) !== JSON.stringify(m)) return false;
        break;
      case 'sourceLabels':
        for (const [k, v] of Object.entries(obj(value))) if (obj(other)[k] !== v) return false;
        break;
      case 'gateways': {
        const mine = arr(value);
        if (mine.length > 0 && (arr(other).length === 0 || !arr(other).every((g) => mine.includes(g)))) return false;
        break;
      }
      default:
        if (JSON.stringify(value) !== JSON.stringify(other)) return false;
    }
  }
  return true;
}

/** Whether a string match accepts every value another accepts. */
function stringCovers(broad: Record<string, any>, narrow: unknown): boolean {
  if (narrow === undefined || narrow === null) return false;
  const n = obj(narrow);
  if (typeof broad.exact === 'string') return n.exact === broad.exact;
  if (typeof broad.prefix === 'string') {
    const value = typeof n.exact === 'string' ? n.exact : n.prefix;
    return typeof value === 'string' && value.startsWith(broad.prefix);
  }
  if (typeof broad.regex === 'string') return n.regex === broad.regex;
  return Object.keys(broad).length === 0; // `{}`: present, whatever the value
}
