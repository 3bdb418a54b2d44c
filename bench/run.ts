/**
 * `npm run bench [-- name ...]`: runs the benchmarks and prints Markdown
 * tables for BENCHMARKS.md, with the machine they ran on. Nothing here is a
 * pass/fail test; every run is bounded in time.
 *
 *   node out/bench/run.js [name ...] [--quick] [--only=...] [--allow-busy] [--preflight]
 *
 * It refuses to start (exit 3) while other devmesh sidecars or benchmark
 * processes run (preflight.ts: they would skew the figures), unless
 * --allow-busy (DEVMESH_BENCH_ALLOW_BUSY=1); --preflight only checks. Any
 * end but success is said on stderr with the phase it came in, exits non-zero,
 * and leaves none of its processes running (lifecycle.ts).
 */
import * as os from 'node:os';
import { markdownTable, type BenchResult } from './stats';
import { benchDataplane } from './dataplane';
import { benchValidate } from './validate';
import { benchObservability } from './observability';
import { benchTopology } from './topology';
import { benchGrpc } from './grpc';
import { benchTcp } from './tcp';
import { phase, runHarness } from './lifecycle';
import { allowBusy, busyMessage, busyProcesses, listProcesses } from './preflight';

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
  const unknown = names.filter((n) => !BENCHES[n]);
  if (unknown.length) throw new Error(`unknown benchmark "${unknown.join('", "')}" (have: ${Object.keys(BENCHES).join(', ')})`);
  phase('preflight: other devmesh/benchmark processes');
  const busy = busyProcesses(listProcesses(), process.pid);
  const allowed = allowBusy(process.argv, process.env);
  if (busy.length) process.stderr.write(busyMessage(busy, allowed));
  if (busy.length && !allowed) { process.exitCode = 3; return; }
  if (process.argv.includes('--preflight')) return; // checks only (tests, scripts)
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  process.stdout.write(`Machine: ${os.cpus().length} x ${cpu}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}\n`);
  process.stdout.write(`Date: ${new Date().toISOString().slice(0, 10)}; command: npm run bench -- ${process.argv.slice(2).join(' ') || names.join(' ')}\n`);
  if (busy.length) process.stdout.write(`Measured beside ${busy.length} other devmesh/benchmark process(es) (--allow-busy): ${busy.map((b) => `${b.pid} ${b.what}`).join(', ')}\n`);
  process.stdout.write('\n');
  for (const name of names) {
    phase(name);
    process.stdout.write(markdownTable(await BENCHES[name]()) + '\n\n');
  }
}

// Every way the run can end is said on stderr with its phase, with a non-zero exit code, after the processes it started are stopped (lifecycle.ts).
runHarness('bench', main);
