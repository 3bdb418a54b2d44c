/**
 * Istio's `percentage` (0-100, decimal), drawn once per decision from the
 * injected random source — the one place a probability is applied, as
 * toxiproxy applies `toxicity` centrally (an odds source is asked instead,
 * see random.ts). Absent means 0: a fault without a percentage affects no
 * request (Istio's current semantics).
 */
import type { Percent } from '../../policy/model';
import { chance, type RandomSource } from '../../random';

/** The percentage as a number in [0, 100]; `fallback` when absent. */
export function percentOf(p: Percent | number | undefined, fallback: number): number {
  const v = typeof p === 'number' ? p : p?.value;
  if (typeof v !== 'number' || !Number.isFinite(v)) return fallback;
  return Math.min(100, Math.max(0, v));
}

/** Whether this request is in the chosen percentage. 100 always is, 0 never is (no draw wasted). */
export function chosen(percent: number, random: RandomSource): boolean {
  return chance(percent, random);
}
