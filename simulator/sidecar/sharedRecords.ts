/**
 * One decision record per distinct decision of a tables snapshot, shared by
 * every exchange that decided the same (issue 19). Under load nearly every
 * request of a route gets the same route, attempt, mTLS and authorization
 * records: made once, the access-log ring keeps no copy per row (fewer
 * objects for the GC to carry into old space), and a telemetry batch sends
 * each record once and names it by index (telemetry.ts).
 *
 * A record is found by the values it is made from, one Map level each
 * (strings the tables already hold, objects of the tables, numbers,
 * booleans): no key string is built per exchange. The key must say
 * everything the record holds, so two decisions with one key have equal
 * records. Shared records are frozen: one must never change under the rows
 * that name it.
 */
import type { DecisionRecord } from './decisions';
import type { MeshTables } from './tables';

/** Distinct records kept per tables at most; past it, records are made per exchange again (nothing is lost). */
const CAP = 1024;

interface Shared { size: number; root: Level }
type Level = Map<unknown, Level | DecisionRecord>;

const byTables = new WeakMap<MeshTables, Shared>();

/** The shared record of `key` under `t`, made by `make` (and frozen) the first time. */
export function sharedRecord<R extends DecisionRecord>(t: MeshTables, make: () => R, ...key: unknown[]): R {
  let shared = byTables.get(t);
  if (!shared) byTables.set(t, (shared = { size: 0, root: new Map() }));
  // Full: find what is there, add nothing (not even a level: a key of objects made per request must not grow it).
  const full = shared.size >= CAP;
  let level = shared.root;
  const last = key.length - 1;
  for (let i = 0; i < last; i++) {
    let next = level.get(key[i]) as Level | undefined;
    if (next === undefined) {
      if (full) return make();
      level.set(key[i], (next = new Map()));
    }
    level = next;
  }
  let r = level.get(key[last]) as R | undefined;
  if (r !== undefined) return r;
  r = make();
  if (full) return r;
  shared.size++;
  level.set(key[last], deepFreeze(r));
  return r;
}

function deepFreeze<T>(o: T): T {
  for (const v of Object.values(o as object)) if (typeof v === 'object' && v !== null) deepFreeze(v);
  return Object.freeze(o);
}
