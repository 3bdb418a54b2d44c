/**
 * Istio durations: Go's `time.ParseDuration` syntax as Istio accepts it in
 * YAML (`1.5s`, `300ms`, `1m`, `1h30m`, `250us`). No spaces, no sign, a unit
 * on every number.
 */
const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/y;

/** Milliseconds, or undefined when the text is not a valid duration. */
export function parseDuration(text: string): number | undefined {
  if (typeof text !== 'string' || text.length === 0) return undefined;
  if (text === '0') return 0;
  let total = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < text.length) {
    const start = PART.lastIndex;
    const m = PART.exec(text);
    if (!m || m.index !== start) return undefined;
    total += Number(m[1]) * UNIT_MS[m[2]];
  }
  return total;
}

/** Why a duration is invalid, phrased as a fix, or undefined when it is valid. */
export function durationProblem(text: string): string | undefined {
  if (parseDuration(text) !== undefined) return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(seconds?|secs?|minutes?|mins?|hours?|milliseconds?|millis)\s*$/i.exec(text);
  if (m) {
    const unit = m[2].toLowerCase();
    const short = unit.startsWith('milli') ? 'ms' : unit.startsWith('m') ? 'm' : unit.startsWith('h') ? 'h' : 's';
    return `write it as "${m[1]}${short}"`;
  }
  if (/^\d+(\.\d+)?$/.test(text)) return `add a unit, e.g. "${text}s" or "${text}ms"`;
  return 'use a number with a unit, e.g. "1.5s", "300ms", "1m" or "1h30m"';
}

/** Milliseconds as Istio writes a duration: `7s`, `1.5s`, `300ms`, `2m`, `1h`. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 100 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
