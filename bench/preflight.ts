/**
 * Before a benchmark starts: devmesh sidecars, benchmark helpers, nginx of
 * a benchmark and load generators still running would take CPU from the
 * chains measured (the cores the run pins to are the same), so the run
 * refuses to start and says what to stop — unless told to measure anyway
 * (`--allow-busy`, DEVMESH_BENCH_ALLOW_BUSY=1), since on a shared machine
 * they may be someone else's run, which is not ours to kill. This module
 * never kills anything.
 */
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcInfo { pid: number; ppid: number; cmd: string; ageS?: number }
export interface Busy extends ProcInfo { what: string; parent: string }

/** What counts, by command line: the kind of process, for the message. */
const KINDS: Array<[RegExp, string]> = [
  [/simulator\/sidecar\/main\.js|dist\/sidecar\.js/, 'devmesh sidecar process'],
  [/out\/bench\/run\.js/, 'benchmark run'],
  [/out\/bench\/(dataplane|grpc|tcp)\/\w+\.js/, 'benchmark process'],
  [/^(\S*\/)?nginx .*devmesh-(bench|grpc|tcp)-/, "a benchmark's nginx"],
  [/^(\S*\/)?(wrk|h2load|iperf3)( |$)/, 'load generator'],
];

/** Every process's pid, parent, command line and age, from /proc (Linux; empty elsewhere). */
export function listProcesses(): ProcInfo[] {
  let pids: string[];
  try { pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d)); } catch { return []; }
  let uptime = NaN;
  try { uptime = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]); } catch { /* no age */ }
  const out: ProcInfo[] = [];
  for (const p of pids) {
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
      if (!cmd) continue; // kernel threads, zombies
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.push({ pid: Number(p), ppid: Number(f[1]), cmd, ageS: uptime - Number(f[19]) / 100 });
    } catch { /* ended meanwhile */ }
  }
  return out;
}

/**
 * The processes that would skew a run: those of the kinds above, except
 * `self`, its descendants (what this run starts) and its ancestors (what
 * started it), each with its parent
 * named so the reader can tell a leftover (parent gone: pid 1) from a run
 * in progress.
 */
export function busyProcesses(procs: readonly ProcInfo[], self: number): Busy[] {
  const byPid = new Map(procs.map((p) => [p.pid, p]));
  const ours = (p: ProcInfo): boolean => {
    for (let q: ProcInfo | undefined = p, hops = 0; q && hops < 64; q = byPid.get(q.ppid), hops++) if (q.pid === self) return true;
    return false;
  };
  // Its ancestors too: `npm run bench` (sh -c '... node out/bench/run.js'), `timeout 600 node out/bench/run.js`.
  const ancestors = new Set<number>();
  for (let q = byPid.get(self), hops = 0; q && hops < 64; q = byPid.get(q.ppid), hops++) ancestors.add(q.ppid);
  const busy: Busy[] = [];
  for (const p of procs) {
    const kind = KINDS.find(([re]) => re.test(p.cmd));
    if (!kind || ours(p) || ancestors.has(p.pid)) continue;
    const parent = byPid.get(p.ppid);
    busy.push({ ...p, what: kind[1], parent: p.ppid <= 1 ? 'orphaned: the run that started it is gone' : `parent ${p.ppid}${parent ? ` ${short(parent.cmd)}` : ''}` });
  }
  return busy;
}

const short = (cmd: string) => (cmd.length > 100 ? `${cmd.slice(0, 97)}...` : cmd);
const age = (s?: number) => (s === undefined || !Number.isFinite(s) ? '' : s < 120 ? `${Math.round(s)} s old, ` : `${Math.round(s / 60)} min old, `);

/** The refusal (or, with the override, the warning): what runs, whose it seems to be, what to kill, how to measure anyway. */
export function busyMessage(busy: readonly Busy[], allowed: boolean): string {
  const lines = busy.map((b) => `  pid ${b.pid} (${b.what}; ${age(b.ageS)}${b.parent}): ${short(b.cmd)}`);
  const orphans = busy.filter((b) => b.ppid <= 1).map((b) => b.pid);
  if (allowed) return `bench: measuring anyway (--allow-busy): ${busy.length} devmesh/benchmark process(es) running beside this run will skew its figures:\n${lines.join('\n')}\n`;
  return [
    `bench: refusing to start: ${busy.length} devmesh/benchmark process(es) are running and would skew the figures (they compete for the CPUs the run pins to):`,
    ...lines,
    orphans.length ? `Orphaned ones are leftovers of an earlier run: stop them with \`kill ${orphans.join(' ')}\` (\`kill -9\` if they stay).` : 'None is orphaned: they belong to runs still in progress.',
    `If they are yours, stop them (\`kill ${busy.map((b) => b.pid).join(' ')}\`); if they are someone else's, wait for that run to end, or measure anyway with --allow-busy (or DEVMESH_BENCH_ALLOW_BUSY=1) and read the figures as disturbed.`,
    '',
  ].join('\n');
}

export const allowBusy = (argv: readonly string[], env: NodeJS.ProcessEnv): boolean => argv.includes('--allow-busy') || env.DEVMESH_BENCH_ALLOW_BUSY === '1';
