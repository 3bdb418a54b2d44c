/**
 * A trace as a terminal waterfall: one line per span, indented under its
 * parent, with a bar placed on the trace's time axis. Pure: spans in, text out.
 *
 *   trace 4bf92f3577b34da6a3ce929d0e0e4736  8.4 ms  6 spans  (productpage, reviews, ratings)
 *     0.0 ms |##########################| 8.4 ms  istio-ingressgateway  client  GET productpage.default.svc.cluster.local:9080/productpage 200
 *     0.9 ms |  ######################  | 7.1 ms    productpage-v1  server  GET ... 200
 */
import type { SpanRecord, TraceSummary } from '../control/api/contract';

export interface WaterfallOptions { width?: number; color?: boolean }

const fmt = (ms: number) => (ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2));

/** Depth-first order from the roots, children by start time; spans whose parent is absent are roots. */
export function treeOrder(spans: readonly SpanRecord[]): Array<{ span: SpanRecord; depth: number }> {
  const ids = new Set(spans.map((s) => s.spanId));
  const children = new Map<string, SpanRecord[]>();
  const roots: SpanRecord[] = [];
  for (const s of spans) {
    if (s.parentSpanId && ids.has(s.parentSpanId) && s.parentSpanId !== s.spanId) {
      const list = children.get(s.parentSpanId) ?? [];
      list.push(s);
      children.set(s.parentSpanId, list);
    } else roots.push(s);
  }
  const byStart = (a: SpanRecord, b: SpanRecord) => a.start - b.start;
  const out: Array<{ span: SpanRecord; depth: number }> = [];
  const seen = new Set<string>();
  const visit = (s: SpanRecord, depth: number) => {
    if (seen.has(s.spanId)) return;
    seen.add(s.spanId);
    out.push({ span: s, depth });
    for (const c of (children.get(s.spanId) ?? []).sort(byStart)) visit(c, depth + 1);
  };
  for (const r of roots.sort(byStart)) visit(r, 0);
  return out;
}

export function waterfall(summary: TraceSummary, spans: readonly SpanRecord[], o: WaterfallOptions = {}): string {
  const width = o.width ?? 30;
  const red = (t: string) => (o.color ? `\x1b[31m${t}\x1b[0m` : t);
  const dim = (t: string) => (o.color ? `\x1b[2m${t}\x1b[0m` : t);
  const total = Math.max(summary.durationMs, 0.001);
  const lines = [`trace ${summary.traceId}  ${fmt(summary.durationMs)} ms  ${summary.spans} spans${summary.errors ? red(`  ${summary.errors} error(s)`) : ''}  (${summary.services.join(', ')})`];
  for (const { span: s, depth } of treeOrder(spans)) {
    const offset = s.start - summary.start;
    const from = Math.min(width - 1, Math.floor((offset / total) * width));
    const len = Math.max(1, Math.min(width - from, Math.round((s.durationMs / total) * width)));
    const bar = ' '.repeat(from) + '#'.repeat(len) + ' '.repeat(width - from - len);
    const a = s.attributes;
    const status = String(a['http.response.status_code'] ?? '');
    const flags = a.response_flags && a.response_flags !== '-' ? ` ${a.response_flags}` : '';
    const extra = [a['devmesh.retry.attempt'] && Number(a['devmesh.retry.attempt']) > 1 ? `attempt ${a['devmesh.retry.attempt']}` : '', a['devmesh.fault.injected'] && a['devmesh.fault.injected'] !== 'none' ? `fault ${a['devmesh.fault.injected']}` : '', a['devmesh.mtls'] ? 'mTLS' : ''].filter(Boolean).join(', ');
    const text = `${'  '.repeat(depth)}${s.workload}  ${s.kind}  ${a['http.request.method'] ?? ''} ${s.name}  ${status}${flags}`;
    lines.push(`  ${fmt(offset).padStart(7)} ms |${bar}| ${fmt(s.durationMs).padStart(7)} ms  ${s.error ? red(text) : text}${extra ? dim(`  [${extra}]`) : ''}`);
  }
  return lines.join('\n');
}
