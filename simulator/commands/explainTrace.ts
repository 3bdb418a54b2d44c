/**
 * `devmesh explain --trace <id> [-f mesh.yaml] [-H 'name: value']`: what the
 * sidecars of a running mesh decided for one traced request, hop by hop (the
 * decision records in its spans, read through the one API client), beside
 * what the static walk predicts for the same request over the policies in
 * the Mesh's folder. A hop where no predicted outcome agrees is a bug report
 * in itself (or policies edited since the request): exit 1.
 */
import { MeshClientError, onMesh } from './meshClient';
import { snapshotOf, usage } from './explain';
import type { Trace } from '../control/api/contract';
import { judge, describeRecord } from '../explain/compare';
import { hopsOf, type TraceHop } from '../explain/trace';
import { ApiError } from '../control/api/client';
import type { MeshSnapshot } from '../protocol';
import type { Outcome } from '../explain/result';

const pct = (p: number) => `${Number((p * 100).toFixed(1))} %`;

interface HopReport {
  spanId: string;
  request: TraceHop['request'];
  status: number;
  flags: string;
  decided: { outbound: TraceHop['seen']['outbound']; inbound: Record<string, TraceHop['seen']['outbound'][]> };
  agrees: boolean;
  /** The predicted outcome that agrees, or the closest one and how it differs. */
  predicted?: Outcome;
  difference?: string;
  /** Why the walk could not be run for this hop (an unknown workload: the Mesh changed since). */
  problem?: string;
  /** Which policies the walk read: the config version the hop ran under, or the folder's now. */
  walkedOver: string;
}

export async function explainTrace(traceId: string, file: string, format: string, headers: Record<string, string>): Promise<number> {
  let trace: Trace;
  let hops: TraceHop[];
  // The config each hop was decided under, while the control plane keeps it.
  const configs = new Map<number, MeshSnapshot | undefined>();
  try {
    trace = await onMesh(file, async (client) => {
      const t = await client.trace(traceId);
      hops = hopsOf(t.spans, headers);
      for (const v of new Set(hops.map((h) => h.config).filter((v): v is number => v !== undefined))) {
        configs.set(v, await client.configVersion(v).catch((e: unknown) => { if (e instanceof ApiError && e.status === 404) return undefined; throw e; }));
      }
      return t;
    });
  } catch (e) {
    if (!(e instanceof MeshClientError)) throw e;
    return usage(e.message);
  }
  hops = hops!;
  const loaded = await snapshotOf(file);
  if ('errors' in loaded) return loaded.errors;
  const { explainRequest, ExplainUsageError } = await import('../explain/walk');
  if (hops.length === 0) return usage(`trace ${traceId} has no hop with decision records (${trace.spans.length} spans; sidecars record them since devmesh explain --trace came)`);
  const reports: HopReport[] = hops.map((h) => {
    const then = h.config === undefined ? undefined : configs.get(h.config);
    const base = {
      spanId: h.span.spanId, request: h.request, status: h.seen.status, flags: h.seen.flags,
      decided: { outbound: h.seen.outbound, inbound: Object.fromEntries(h.seen.inbound) },
      // Walked over the config in force when the request ran, else (no longer kept, or an older sidecar) the folder's policies now.
      walkedOver: then ? `config v${then.version}, in force when the request ran` : `the Mesh folder's policies now${h.config !== undefined ? ` (config v${h.config} is no longer kept)` : ''}`,
    };
    try {
      const walked = explainRequest(then ?? loaded.snapshot, h.request, { locate: loaded.locate });
      const j = judge(walked.outcomes, h.seen);
      return j.agrees ? { ...base, agrees: true, predicted: j.outcome } : { ...base, agrees: false, predicted: j.closest, difference: j.difference };
    } catch (e) {
      if (!(e instanceof ExplainUsageError)) throw e;
      return { ...base, agrees: false, problem: e.message };
    }
  });
  const agrees = reports.every((r) => r.agrees);
  process.stdout.write(format === 'json' ? JSON.stringify({ traceId, agrees, hops: reports }, null, 2) + '\n' : formatTrace(traceId, reports));
  return agrees ? 0 : 1;
}

function formatTrace(traceId: string, reports: HopReport[]): string {
  const out: string[] = [];
  const line = (label: string, text: string) => out.push(`${label.padEnd(12)}${text}`);
  const more = (text: string) => out.push(`${' '.repeat(12)}${text}`);
  const differ = reports.filter((r) => !r.agrees).length;
  line('Trace', `${traceId}: ${reports.length} hop${reports.length === 1 ? '' : 's'}, ${differ === 0 ? 'the walk agrees with every one' : `the walk differs at ${differ}`}`);
  reports.forEach((r, i) => {
    out.push('');
    const q = r.request;
    line(`Hop ${i + 1}`, `${q.from} -> ${q.method} ${q.url}: ${r.status || 'no response'}${r.flags !== '-' ? ` ${r.flags}` : ''}  (span ${r.spanId})`);
    const decided = [...r.decided.outbound, ...Object.values(r.decided.inbound).flat(2)];
    decided.forEach((d, k) => (k === 0 ? line('decided', describeRecord(d)) : more(describeRecord(d))));
    more(`walked over ${r.walkedOver}`);
    if (r.problem) line('predicted', `cannot walk it: ${r.problem}`);
    else if (r.agrees) line('predicted', `${r.predicted!.summary} (${pct(r.predicted!.probability)}): agrees`);
    else if (r.predicted) {
      line('predicted', `no outcome agrees; the closest, ${r.predicted.summary} (${pct(r.predicted.probability)}), differs in: ${r.difference}`);
      more(r.walkedOver.startsWith('config') ? '(the same policies and request the sidecars had: a bug in devmesh worth reporting with this output)' : '(policies edited since the request; else a bug in devmesh)');
    } else line('predicted', 'no outcome at all');
  });
  return out.join('\n') + '\n';
}
