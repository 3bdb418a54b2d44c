/**
 * `devmesh traces [traceId] [-f mesh.yaml] [--service S] [--errors] [--min-duration MS] [--limit N] [--json]`:
 * recent traces of the running mesh as terminal waterfalls (newest first),
 * or one trace by id.
 */
import type { Command } from 'commander';
import type { SpanRecord } from '../telemetry-protocol';
import type { TraceSummary } from '../control/telemetry/traceStore';
import { MeshClientError, meshClient } from './meshClient';
import { waterfall } from './waterfall';

interface Opts { file: string; service?: string; errors?: boolean; minDuration?: string; limit: string; json?: boolean }

export function register(program: Command, setExit: (code: number) => void): void {
  program
    .command('traces [traceId]')
    .description('show recent traces of the running mesh as waterfalls (or one trace by id)')
    .option('-f, --file <mesh.yaml>', 'the Mesh file of the running mesh', 'mesh.yaml')
    .option('--service <name>', 'only traces that touch this service (or workload)')
    .option('--errors', 'only traces with a failed span (5xx, reset)')
    .option('--min-duration <ms>', 'only traces at least this long')
    .option('--limit <n>', 'how many traces', '5')
    .option('--json', 'print the spans as JSON')
    .action(async (traceId: string | undefined, opts: Opts) => { setExit(await traces(traceId, opts)); });
}

async function traces(traceId: string | undefined, o: Opts): Promise<number> {
  try {
    const client = meshClient(o.file);
    const color = process.stdout.isTTY === true && !process.env.NO_COLOR;
    let ids: string[];
    if (traceId) ids = [traceId];
    else {
      const q = new URLSearchParams({ limit: o.limit });
      if (o.service) q.set('service', o.service);
      if (o.errors) q.set('errors', 'true');
      if (o.minDuration) q.set('minDuration', o.minDuration);
      const list = await client.get<{ traces: TraceSummary[] }>(`/api/traces?${q}`);
      if (list.traces.length === 0) {
        process.stdout.write('no traces match (send some requests through the mesh first)\n');
        return 0;
      }
      ids = list.traces.map((t) => t.traceId);
    }
    const out: string[] = [];
    const all: unknown[] = [];
    for (const id of ids) {
      const t = await client.get<{ summary: TraceSummary; spans: SpanRecord[] }>(`/api/traces/${encodeURIComponent(id)}`);
      all.push(t);
      out.push(waterfall(t.summary, t.spans, { color }));
    }
    process.stdout.write(o.json ? JSON.stringify(all, null, 2) + '\n' : out.join('\n\n') + '\n');
    return 0;
  } catch (e) {
    if (!(e instanceof MeshClientError)) throw e;
    process.stderr.write(`devmesh traces: ${e.message}\n`);
    return 1;
  }
}
