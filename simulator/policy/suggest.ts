/** "Did you mean ...?" — the nearest candidate by edit distance, when it is near enough. */
export function closest(word: string, candidates: readonly string[], caseInsensitive = false): string | undefined {
  const norm = (s: string) => (caseInsensitive ? s.toLowerCase() : s);
  const w = norm(word);
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const n = norm(c);
    if (n === w) return c;
    const d = editDistance(w, n);
    if (d < bestDistance) {
      bestDistance = d;
      best = c;
    }
  }
  // Allow about one typo per four characters, and at least one.
  const budget = Math.max(1, Math.floor(word.length / 4));
  return bestDistance <= budget || (best && norm(best).startsWith(w) && w.length >= 3) ? best : undefined;
}

/** Damerau-Levenshtein distance (optimal string alignment). */
export function editDistance(a: string, b: string): number {
  const m = a.length;
  const n = b.length;
  const d: number[][] = Array.from({ length: m + 1 }, (_, i) => [i, ...new Array<number>(n).fill(0)]);
  for (let j = 1; j <= n; j++) d[0][j] = j;
  for (let i = 1; i <= m; i++) {
    for (let j = 1; j <= n; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[m][n];
}
