/**
 * The extension's pure text helpers (no `vscode` import, so unit tests run
 * them in plain Node): is a file a Mesh, and a trace drawn as text.
 */
const MESH_KIND = /^kind:\s*["']?Mesh["']?\s*(#.*)?$/m;
const MESH_API = /^apiVersion:\s*["']?devmesh\.dev\//m;

/** A `kind: Mesh` document of devmesh's API group: the activation event matched the file name, this checks the content. */
export function isMeshText(text: string): boolean {
  return MESH_KIND.test(text) && MESH_API.test(text);
}

export interface SpanRow { name: string; kind?: string; workload: string; start: number; durationMs: number; error: boolean }

/** A trace as text: one line per span, offset and duration as a bar on a 50-column scale. */
export function waterfall(traceId: string, spans: SpanRow[]): string {
  if (!spans.length) return `trace ${traceId}: no spans\n`;
  const t0 = Math.min(...spans.map((s) => s.start));
  const total = Math.max(...spans.map((s) => s.start - t0 + s.durationMs), 0.001);
  const width = 50;
  const lines = spans.map((s) => {
    const off = Math.round(((s.start - t0) / total) * width);
    const len = Math.max(1, Math.round((s.durationMs / total) * width));
    const bar = ' '.repeat(off) + (s.error ? '!' : '=').repeat(Math.min(len, width - off || 1));
    return `${bar.padEnd(width)} | ${(s.start - t0).toFixed(1).padStart(7)} ms +${s.durationMs.toFixed(1).padStart(7)} ms  ${(s.kind ?? '').padEnd(6)} ${s.workload.padEnd(22)} ${s.name}${s.error ? '  ERROR' : ''}`;
  });
  return `trace ${traceId}  (${total.toFixed(1)} ms, ${spans.length} spans)\n\n${lines.join('\n')}\n`;
}
