/**
 * The odds that a route timeout passes while a request waits between its
 * attempts. Envoy's route timeout bounds every attempt and every backoff
 * between them; each backoff is a fully jittered draw, uniform in
 * [0, ceiling) (retryPolicy.ts backoffMs). The walk knows the time the
 * attempts take (the app's assumed delay, the per-try timeouts): what is
 * left to chance is the sum of the draws, a sum of independent uniforms whose
 * distribution has a closed form (the Irwin-Hall distribution generalized to
 * unequal widths): P(S <= x) = sum over subsets J of the widths of
 * (-1)^|J| (x - sum_J c)_+^n / (n! prod c).
 */

/** The probability that `fixedMs` plus one uniform draw in [0, c) per ceiling reaches `deadlineMs`. */
export function pastDeadline(fixedMs: number, ceilings: readonly number[], deadlineMs: number): number {
  const x = deadlineMs - fixedMs;
  const widths = ceilings.filter((c) => c > 0);
  if (x <= 0) return 1;
  const total = widths.reduce((a, c) => a + c, 0);
  if (x >= total) return 0;
  const n = widths.length;
  let denominator = 1;
  for (let i = 0; i < n; i++) denominator *= (i + 1) * widths[i];
  let below = 0;
  for (let mask = 0; mask < 1 << n; mask++) {
    let shift = 0;
    let size = 0;
    for (let i = 0; i < n; i++) if (mask & (1 << i)) { shift += widths[i]; size++; }
    if (x > shift) below += (size % 2 ? -1 : 1) * (x - shift) ** n;
  }
  return Math.min(1, Math.max(0, 1 - below / denominator));
}
