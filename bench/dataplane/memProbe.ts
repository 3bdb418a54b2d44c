/**
 * Where a sidecar process's resident memory is at its peak (issue 19).
 * Preloaded into the sidecar process (`--require`, as heapSampler.ts):
 *
 *   DEVMESH_SIDECAR_EXEC_ARGV="--require out/bench/dataplane/memProbe.js" DEVMESH_MEM_DIR=/tmp/m ...
 *
 * The first SIGUSR2 records the process as it is (`start`) and starts sampling every 20 ms;
 * the second stops and writes `<dir>/<pid>.memprobe.json`: the start and the
 * largest-RSS sample, each with V8's heap spaces and /proc/self/smaps summed
 * by kind (the node binary's pages, shared libraries, V8's 256 KB heap pages,
 * malloc's main arena and its thread arenas, the threads' 8 MB stacks), and the old space in use after
 * every full GC in between (the live heap V8 sizes its next limit from).
 * `node out/bench/dataplane/memProbe.js FILE` prints one.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { PerformanceObserver, constants, performance } from 'node:perf_hooks';
import * as v8 from 'node:v8';
import { onSignalBracket } from './signalBracket';

type Kinds = Record<string, number>;
interface Sample { rssMb: number; spaces: Kinds; smaps: Kinds }
interface Report { pid: number; start: Sample; peak: Sample; afterFullGc: Array<{ s: number; oldUsedMb: number; codeUsedMb: number }> }

const MB = 1024 * 1024;
const mb = (b: number) => Math.round((b / MB) * 100) / 100;

/** RSS by kind of mapping, in MB. */
export function smapsByKind(text: string): Kinds {
  const out: Kinds = {};
  let kind: string | undefined;
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (m) {
      const kb = (parseInt(m[2], 16) - parseInt(m[1], 16)) / 1024;
      const name = m[4];
      kind = name === '[heap]' ? 'malloc main arena'
        : name.endsWith('/node') ? 'node binary'
        : name.startsWith('/') ? 'shared libraries'
        : name ? name
        : kb === 256 ? 'V8 heap pages (256 KB)'
        : kb === 8192 ? 'thread stacks'
        : m[3] === 'rw-p' && kb > 1024 && kb <= 65536 ? 'malloc thread arenas'
        : 'other anonymous';
      continue;
    }
    const r = /^Rss:\s+(\d+)/.exec(line);
    if (r && kind) out[kind] = Math.round(((out[kind] ?? 0) + Number(r[1]) / 1024) * 100) / 100;
  }
  return out;
}

function sample(withSmaps: boolean): Sample {
  const spaces: Kinds = {};
  for (const s of v8.getHeapSpaceStatistics()) if (s.space_size) spaces[s.space_name] = mb(s.space_size);
  return { rssMb: mb(process.memoryUsage.rss()), spaces, smaps: withSmaps ? smapsByKind(readFileSync('/proc/self/smaps', 'utf8')) : {} };
}

function install(): void {
  const dir = process.env.DEVMESH_MEM_DIR ?? '/tmp';
  let start: Sample | undefined;
  let peak: Sample | undefined;
  let timer: NodeJS.Timeout | undefined;
  const afterFullGc: Report['afterFullGc'] = [];
  new PerformanceObserver((list) => {
    if (!timer) return;
    for (const e of list.getEntries()) {
      if ((e as { detail?: { kind?: number } }).detail?.kind !== constants.NODE_PERFORMANCE_GC_MAJOR) continue;
      const used = Object.fromEntries(v8.getHeapSpaceStatistics().map((s) => [s.space_name, mb(s.space_used_size)]));
      afterFullGc.push({ s: Math.round(performance.now()) / 1000, oldUsedMb: used.old_space, codeUsedMb: used.code_space });
    }
  }).observe({ entryTypes: ['gc'] });
  onSignalBracket(
    () => {
      start = sample(true);
      // smaps only when the RSS is a new high by 0.5 MB: reading it costs ~1 ms.
      timer = setInterval(() => {
        if (process.memoryUsage.rss() > ((peak?.rssMb ?? 0) + 0.5) * MB) peak = sample(true);
      }, 20);
      timer.unref();
    },
    () => {
      clearInterval(timer);
      timer = undefined;
      const report: Report = { pid: process.pid, start: start!, peak: peak ?? sample(true), afterFullGc };
      writeFileSync(path.join(dir, `${process.pid}.memprobe.json`), JSON.stringify(report));
    },
  );
}

/** The report as lines: start and peak side by side, kind by kind (mappings with no resident page left out). */
export function describe(r: Report): string[] {
  const row = (k: string, a: number | undefined, b: number | undefined) => `${k.padEnd(26)} ${String(a ?? 0).padStart(7)} ${String(b ?? 0).padStart(7)}`;
  const kinds = [...new Set([...Object.keys(r.start.smaps), ...Object.keys(r.peak.smaps)])].filter((k) => r.start.smaps[k] || r.peak.smaps[k]);
  const spaces = [...new Set([...Object.keys(r.start.spaces), ...Object.keys(r.peak.spaces)])];
  const live = r.afterFullGc.map((g) => g.oldUsedMb);
  return [
    `process ${r.pid}, MB            start    peak`,
    row('RSS', r.start.rssMb, r.peak.rssMb),
    ...kinds.map((k) => row(k, r.start.smaps[k], r.peak.smaps[k])),
    'V8 heap spaces (committed):',
    ...spaces.map((k) => row(`  ${k}`, r.start.spaces[k], r.peak.spaces[k])),
    `old space in use after each full GC under load: ${live.length ? live.join(', ') : 'no full GC'}`,
  ];
}

if (require.main === module) process.stdout.write(`${describe(JSON.parse(readFileSync(process.argv[2], 'utf8')) as Report).join('\n')}\n`);
// Preloaded with --require (no main module yet): probe this process. Imported (profile.ts): only the reader.
else if (require.main === undefined) install();
