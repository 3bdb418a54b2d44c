/** The defensive accessors of plain.ts, and the string values of a map. */
import { obj } from './plain';

export { arr, num, obj, str } from './plain';

/** The string values of a map (labels, annotations, selectors). */
export function strings(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(obj(v))) if (x !== null && x !== undefined) out[k] = String(x);
  return out;
}
