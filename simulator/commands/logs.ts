/**
 * `devmesh logs [workload] [-f mesh.yaml] [--follow] [--limit N] [--json]`:
 * the sidecars' access logs kept by the running mesh, in Istio's text format
 * (or JSON), each line prefixed with the sidecar that wrote it. `--follow`
 * keeps printing new entries until Ctrl-C.
 */
import type { Command } from 'commander';
import { formatText } from '../sidecar/accessLog';
import type { StoredLogEntry } from '../control/api/contract';
import { MeshClientError, onMesh } from './meshClient';

interface Opts { file: string; follow?: boolean; limit: string; json?: boolean }

export function register(program: Command, setExit: (code: number) => void): void {
  program
    .command('logs [workload]')
    .description('print the access logs of the running mesh (one line per request per sidecar)')
    .option('-f, --file <mesh.yaml>', 'the Mesh file of the running mesh', 'mesh.yaml')
    .option('--follow', 'keep printing new entries until Ctrl-C')
    .option('--limit <n>', 'how many recent entries to print first', '50')
    .option('--json', 'print entries as JSON lines')
    .action(async (workload: string | undefined, opts: Opts) => { setExit(await logs(workload, opts)); });
}

export function formatLogLine(e: StoredLogEntry, json: boolean): string {
  if (json) return JSON.stringify(e);
  // A TCP connection's id (its entries' trace_id) leads the line: `devmesh explain --trace <id>` takes it.
  return `[${e.workload}${e.protocol === '-' && e.trace_id !== '-' ? ` conn ${e.trace_id}` : ''}] ${formatText(e)}`;
}

async function logs(workload: string | undefined, o: Opts): Promise<number> {
  try {
    await onMesh(o.file, async (client) => {
      const first = await client.logs({ workload, limit: Number(o.limit) });
      for (const e of first.entries) process.stdout.write(formatLogLine(e, !!o.json) + '\n');
      if (!o.follow) return;
      let after = first.lastSeq;
      let stop = false;
      const onSignal = () => { stop = true; };
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      while (!stop) {
        await new Promise((r) => setTimeout(r, 500));
        const next = await client.logs({ workload, limit: 2000, after });
        for (const e of next.entries) process.stdout.write(formatLogLine(e, !!o.json) + '\n');
        after = next.lastSeq;
      }
    });
    return 0;
  } catch (e) {
    if (!(e instanceof MeshClientError)) throw e;
    process.stderr.write(`devmesh logs: ${e.message}\n`);
    return 1;
  }
}
