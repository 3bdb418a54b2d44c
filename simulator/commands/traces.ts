/**
 * `devmesh traces [traceId] [-f mesh.yaml] [--service S] [--errors] [--min-duration MS] [--limit N] [--json]`:
 * recent traces of the running mesh as terminal waterfalls (newest first),
 * or one trace by id.
 */
import type { Command } from 'commander';
import type { Trace } from '../control/api/contract';
import { MeshClientError, onMesh } from './meshClient';
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
    const color = process.stdout.isTTY === true && !process.env.NO_COLOR;
    const all = await onMesh(o.file, async (client) => {
      const ids = traceId ? [traceId]
        : (await client.traces({ service: o.service, errors: o.errors, minDurationMs: o.minDuration ? Number(o.minDuration) : undefined, limit: Number(o.limit) })).traces.map((t) => t.traceId);
      const traces: Trace[] = [];
      for (const id of ids) traces.push(await client.trace(id));
      return traces;
    });
    if (all.length === 0) {
      process.stdout.write('no traces match (send some requests through the mesh first)\n');
      return 0;
    }
    process.stdout.write(o.json ? JSON.stringify(all, null, 2) + '\n' : all.map((t) => waterfall(t.summary, t.spans, { color })).join('\n\n') + '\n');
    return 0;
  } catch (e) {
    if (!(e instanceof MeshClientError)) throw e;
    process.stderr.write(`devmesh traces: ${e.message}\n`);
    return 1;
  }
}
