/**
 * Istio's `headers.request` / `headers.response` operations: `set` overwrites,
 * `add` appends (a second value, as Envoy's append), `remove` deletes.
 * Applied in the order Envoy applies them: remove, then set, then add... Istio
 * documents no order between them, so we pick the one that lets a rule both
 * remove and re-set a header.
 */
import type { HeaderOperations } from '../../policy/model';

export type HeaderMap = Record<string, string | string[] | number | undefined>;

export function applyHeaderOps(headers: HeaderMap, ops: HeaderOperations | undefined): void {
  if (!ops) return;
  for (const name of ops.remove ?? []) delete headers[name.toLowerCase()];
  for (const [name, value] of Object.entries(ops.set ?? {})) headers[name.toLowerCase()] = value;
  for (const [name, value] of Object.entries(ops.add ?? {})) {
    const key = name.toLowerCase();
    const prev = headers[key];
    if (prev === undefined) headers[key] = value;
    else headers[key] = Array.isArray(prev) ? [...prev, value] : [String(prev), value];
  }
}
