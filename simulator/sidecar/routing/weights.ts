/**
 * Relative route weights, as Istio reads them today: a destination gets
 * weight / sum; weight 0 gets nothing; weights need not add up to 100. A lone
 * destination gets everything whatever its weight. When no destination
 * states a weight, they share equally.
 */
export interface Weighted {
  weight?: number;
}

export function pickWeighted<T extends Weighted>(items: readonly T[], random: () => number): T | undefined {
  if (items.length === 0) return undefined;
  if (items.length === 1) return items[0];
  const anyWeight = items.some((d) => d.weight !== undefined);
  const weightOf = (d: T) => (anyWeight ? Math.max(0, d.weight ?? 0) : 1);
  let total = 0;
  for (const d of items) total += weightOf(d);
  if (total <= 0) return undefined;
  let r = random() * total;
  for (const d of items) {
    const w = weightOf(d);
    if (w <= 0) continue;
    if (r < w) return d;
    r -= w;
  }
  // Floating point left-over: the last destination with weight.
  for (let i = items.length - 1; i >= 0; i--) if (weightOf(items[i]) > 0) return items[i];
  return undefined;
}
