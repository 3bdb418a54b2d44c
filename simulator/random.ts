/**
 * Randomness that tests and benchmarks can replay, and that `devmesh
 * explain` can read as odds instead of rolling.
 *
 * Every random decision a sidecar makes (a weighted destination, a fault's
 * percentage, a mirror's percentage, a load-balancer draw) goes through
 * `weightedIndex`, `chance` or `uniformIndex` with the sidecar's random
 * source. A source that carries `odds` (explain's) is asked for the outcome
 * with the weights in hand instead of being drawn from, so explain runs the
 * very functions the sidecars run and learns their distribution: there is no
 * second copy of the weight or percentage logic anywhere.
 */

/** Math.random's shape: a number in [0, 1). */
export type RandomSource = () => number;

/** What an odds source answers instead of drawing: which outcome, given the relative weights of all of them. */
export interface Odds {
  /** `weights` are relative and non-negative, at least one above 0; returns the index of the outcome taken. */
  choose(weights: readonly number[], what: OddsKind): number;
  /** A draw that is not a choice between outcomes (a minted cookie value): the source says what it returns. */
  draw(what: string): number;
}

/** What a choice is about, for whoever reads the odds. */
export type OddsKind = 'weight' | 'percentage' | 'uniform';

export interface OddsSource extends RandomSource {
  readonly odds: Odds;
}

function oddsOf(random: RandomSource): Odds | undefined {
  return (random as Partial<OddsSource>).odds;
}

/**
 * The index picked with probability weights[i] / sum; -1 when no weight is
 * above 0. The one place a weighted choice is drawn.
 */
export function weightedIndex(weights: readonly number[], random: RandomSource, what: OddsKind = 'weight'): number {
  let total = 0;
  for (const w of weights) if (w > 0) total += w;
  if (total <= 0) return -1;
  const odds = oddsOf(random);
  if (odds) return odds.choose(weights.map((w) => (w > 0 ? w : 0)), what);
  let r = random() * total;
  for (let i = 0; i < weights.length; i++) {
    const w = weights[i];
    if (w <= 0) continue;
    if (r < w) return i;
    r -= w;
  }
  // Floating point left-over: the last outcome with weight.
  for (let i = weights.length - 1; i >= 0; i--) if (weights[i] > 0) return i;
  return -1;
}

/** Whether this request is in the chosen percentage (0-100). 100 always is, 0 never is (no draw wasted). */
export function chance(percent: number, random: RandomSource): boolean {
  if (percent >= 100) return true;
  if (percent <= 0) return false;
  const odds = oddsOf(random);
  if (odds) return odds.choose([100 - percent, percent], 'percentage') === 1;
  return random() * 100 < percent;
}

/** One of `n` outcomes, each as likely (n > 0). */
export function uniformIndex(n: number, random: RandomSource): number {
  const odds = oddsOf(random);
  if (odds) return odds.choose(new Array<number>(n).fill(1), 'uniform');
  return Math.floor(random() * n);
}

/** A number in [0, 1) that picks no outcome by itself (a value to mint); an odds source says what it is. */
export function draw(random: RandomSource, what: string): number {
  const odds = oddsOf(random);
  return odds ? odds.draw(what) : random();
}

/** A small seeded PRNG (mulberry32) for tests and reproducible runs. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
