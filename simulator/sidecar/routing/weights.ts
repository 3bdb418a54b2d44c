/**
 * Relative route weights, as Istio reads them today: a destination gets
 * weight / sum; weight 0 gets nothing; weights need not add up to 100. A lone
 * destination gets everything whatever its weight. When no destination
 * states a weight, they share equally.
 */
import { weightedIndex, type RandomSource } from '../../random';

export interface Weighted {
  weight?: number;
}

/** Each destination's relative weight as the pick reads it (explain shows them as percentages). */
export function effectiveWeights(items: readonly Weighted[]): number[] {
  if (items.length === 1) return [1];
  const anyWeight = items.some((d) => d.weight !== undefined);
  return items.map((d) => (anyWeight ? Math.max(0, d.weight ?? 0) : 1));
}

export function pickWeighted<T extends Weighted>(items: readonly T[], random: RandomSource): T | undefined {
  if (items.length === 0) return undefined;
  if (items.length === 1) return items[0];
  const i = weightedIndex(effectiveWeights(items), random);
  return i < 0 ? undefined : items[i];
}
