/**
 * `npm run bench [-- name ...]`: runs the benchmarks and prints Markdown
 * tables for BENCHMARKS.md, with the machine they ran on. Nothing here is a
 * pass/fail test; every run is bounded in time.
 */
import * as os from 'node:os';
import { markdownTable, type BenchResult } from './stats';
import { benchDataplane } from './dataplane';
import { benchValidate } from './validate';
import { benchObservability } from './observability';
import { benchTopology } from './topology';
import { benchGrpc } from './grpc';
import { benchTcp } from './tcp';

const BENCHES: Record<string, () => Promise<BenchResult>> = {
  validate: () => benchValidate(),
  dataplane: () => benchDataplane({ quick: process.argv.includes('--quick'), only: onlyArg() }),
  observability: () => benchObservability(),
  topology: () => benchTopology(),
  grpc: () => benchGrpc({ quick: process.argv.includes('--quick') }),
  tcp: () => benchTcp({ quick: process.argv.includes('--quick') }),
};

/** `--only=throughput,latency,big,scaling,cores,telemetry,up`: a subset of the data-plane scenarios. */
function onlyArg(): string[] | undefined {
  const a = process.argv.find((x) => x.startsWith('--only='));
  return a ? a.slice(7).split(',') : undefined;
}

async function main(): Promise<void> {
  const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  const names = wanted.length ? wanted : Object.keys(BENCHES);
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  process.stdout.write(`Machine: ${os.cpus().length} x ${cpu}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}\n`);
  process.stdout.write(`Date: ${new Date().toISOString().slice(0, 10)}; command: npm run bench -- ${process.argv.slice(2).join(' ') || names.join(' ')}\n\n`);
  for (const name of names) {
    const bench = BENCHES[name];
    if (!bench) {
      process.stderr.write(`unknown benchmark "${name}" (have: ${Object.keys(BENCHES).join(', ')})\n`);
      process.exitCode = 2;
      return;
    }
    process.stdout.write(markdownTable(await bench()) + '\n\n');
  }
}

void main();
