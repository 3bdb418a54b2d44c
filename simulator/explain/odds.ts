/**
 * Runs a decision with odds instead of dice: every outcome it can reach, with
 * its probability. The decision is the sidecar's own function, given a random
 * source that carries `odds` (random.ts); each time it asks for a choice, the
 * explorer answers one branch and remembers the others, then runs it again
 * for each of them (depth first), so a choice between 3 destinations, then a
 * fault's percentage, gives 3 x 2 branches with their products as odds.
 * Branches with probability 0 are never taken, as the sidecar never takes them.
 */
import type { Odds, OddsKind, OddsSource, RandomSource } from '../random';

export interface Choice {
  what: OddsKind;
  /** The index taken, and the probability of taking it (its weight / the sum). */
  index: number;
  probability: number;
}

export interface Branch<T> {
  value: T;
  /** The product of the probabilities of its choices. */
  probability: number;
  choices: Choice[];
  /** Draws that chose no outcome (a minted cookie value), by what the decision said they were for. */
  draws: string[];
}

export class TooManyBranches extends Error {}

/**
 * Every branch of `run`, in the order of the choices' indices. `run` must be
 * deterministic apart from its random source (the sidecars' decisions are).
 */
export function explore<T>(run: (random: RandomSource) => T, maxBranches = 4096): Branch<T>[] {
  const out: Branch<T>[] = [];
  // The choices forced on the next run: the branch being explored.
  let forced: number[] = [];
  for (;;) {
    const choices: Choice[] = [];
    const options: number[][] = [];
    const draws: string[] = [];
    const odds: Odds = {
      choose(weights, what) {
        const depth = choices.length;
        const total = weights.reduce((a, w) => a + (w > 0 ? w : 0), 0);
        const open = weights.map((w, i) => (w > 0 ? i : -1)).filter((i) => i >= 0);
        const index = depth < forced.length ? forced[depth] : open[0];
        choices.push({ what, index, probability: weights[index] / total });
        options.push(open);
        return index;
      },
      draw(what) {
        draws.push(what);
        return 0;
      },
    };
    const source = Object.assign(() => {
      throw new Error('a decision drew a number where it should ask for odds (random.ts)');
    }, { odds }) as OddsSource;
    const value = run(source);
    out.push({ value, probability: choices.reduce((p, c) => p * c.probability, 1), choices, draws });
    if (out.length > maxBranches) throw new TooManyBranches(`more than ${maxBranches} outcomes`);
    // Backtrack: the deepest choice with an option left after the one taken.
    let depth = choices.length - 1;
    while (depth >= 0) {
      const open = options[depth];
      const next = open[open.indexOf(choices[depth].index) + 1];
      if (next !== undefined) {
        forced = [...choices.slice(0, depth).map((c) => c.index), next];
        break;
      }
      depth--;
    }
    if (depth < 0) return out;
  }
}

/** Branches with equal keys merged, their probabilities summed (first branch's value kept), most likely first. */
export function merge<T>(branches: ReadonlyArray<{ value: T; probability: number }>, key: (v: T) => string): Array<{ value: T; probability: number }> {
  const byKey = new Map<string, { value: T; probability: number }>();
  for (const b of branches) {
    const k = key(b.value);
    const had = byKey.get(k);
    if (had) had.probability += b.probability;
    else byKey.set(k, { value: b.value, probability: b.probability });
  }
  return [...byKey.values()].sort((a, b) => b.probability - a.probability);
}
