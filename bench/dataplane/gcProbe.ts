/**
 * Preloaded into a sidecar process by `abChains.js --gc` (`--require`): V8's
 * GC profiler (node:v8 `GCProfiler`) bracketed by signals, as the other
 * probes are. SIGUSR2 starts it and the next SIGUSR2 stops it and writes
 * `<DEVMESH_GC_DIR>/<pid>.gc.json`: per kind of GC (Scavenge,
 * MarkSweepCompact, ...) the count and the main thread's pause time, and for
 * the scavenges what they found alive in the young generation (survived:
 * left in new space; promoted: moved to old space), so the harness can put
 * the GC's work per request beside the CPU per request.
 */
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { GCProfiler } from 'node:v8';
import { onSignalBracket } from './signalBracket';

interface SpaceStats { spaceName: string; spaceUsedSize: number; spaceSize: number }
interface GcStat { gcType: string; cost: number; beforeGC: { heapSpaceStatistics: SpaceStats[] }; afterGC: { heapSpaceStatistics: SpaceStats[] } }

/** What the probe writes: per GC kind, and the young generation's numbers over the bracket. */
export interface GcSummary {
  kinds: Record<string, { count: number; pauseMs: number }>;
  /** Bytes found alive by the scavenges, summed: still young after it, promoted to old space. */
  survivedBytes: number; promotedBytes: number;
  /** Bytes allocated in the young generation (what each scavenge found in it, less what the one before left). */
  youngAllocatedBytes: number;
  /** The young generation's capacity at the last scavenge (one semi-space, bytes). */
  semiSpaceBytes: number;
}

const used = (s: SpaceStats[], name: string) => s.find((x) => x.spaceName === name)?.spaceUsedSize ?? 0;
const size = (s: SpaceStats[], name: string) => s.find((x) => x.spaceName === name)?.spaceSize ?? 0;

export function summarize(stats: GcStat[]): GcSummary {
  const out: GcSummary = { kinds: {}, survivedBytes: 0, promotedBytes: 0, youngAllocatedBytes: 0, semiSpaceBytes: 0 };
  let youngAfter: number | undefined;
  for (const s of stats) {
    const k = (out.kinds[s.gcType] ??= { count: 0, pauseMs: 0 });
    k.count++;
    k.pauseMs += s.cost / 1000;
    const before = s.beforeGC.heapSpaceStatistics, after = s.afterGC.heapSpaceStatistics;
    const young = (x: SpaceStats[]) => used(x, 'new_space') + used(x, 'new_large_object_space');
    if (youngAfter !== undefined) out.youngAllocatedBytes += Math.max(0, young(before) - youngAfter);
    youngAfter = young(after);
    if (s.gcType !== 'Scavenge') continue;
    out.survivedBytes += young(after);
    out.promotedBytes += Math.max(0, used(after, 'old_space') - used(before, 'old_space')) + Math.max(0, used(after, 'large_object_space') - used(before, 'large_object_space'));
    out.semiSpaceBytes = size(before, 'new_space');
  }
  return out;
}

if (process.env.DEVMESH_GC_DIR) {
  let profiler: GCProfiler | undefined;
  onSignalBracket(
    () => { profiler = new GCProfiler(); profiler.start(); },
    () => {
      const r = profiler?.stop() as unknown as { statistics: GcStat[] } | undefined;
      profiler = undefined;
      if (r) writeFileSync(path.join(process.env.DEVMESH_GC_DIR ?? '/tmp', `${process.pid}.gc.json`), JSON.stringify(summarize(r.statistics)));
    },
  );
}
