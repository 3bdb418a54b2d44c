export interface BenchRow {
  what: string;
  value: string;
  target: string;
  ratio: string;
}

export interface BenchResult {
  name: string;
  rows: BenchRow[];
  notes?: string[];
  /** Free-form Markdown (several tables); printed instead of the one-table layout. */
  markdown?: string;
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx];
}

export function markdownTable(result: BenchResult): string {
  if (result.markdown !== undefined) return result.markdown;
  const lines = [`| ${result.name} | figure | target | ratio |`, '| --- | --- | --- | --- |'];
  for (const r of result.rows) lines.push(`| ${r.what} | ${r.value} | ${r.target} | ${r.ratio} |`);
  for (const n of result.notes ?? []) lines.push('', n);
  return lines.join('\n');
}
