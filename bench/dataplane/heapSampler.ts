/**
 * Preloaded into a sidecar process by `profile.js --heap` (`--require`):
 * V8's sampling heap profiler, counting objects the GC already collected
 * too (a proxy's per-request garbage is what its GC pays for). SIGUSR2
 * starts sampling and the next SIGUSR2 stops it and writes
 * `<dir>/<pid>.heapprofile`, so the harness brackets exactly the requests
 * it counts. With DEVMESH_HEAP_SURVIVORS=1 it samples only what outlived a
 * scavenge (tail.js's promoted garbage, by allocation site).
 */
import { inspectorBracket } from './inspectorBracket';

const interval = Number(process.env.DEVMESH_HEAP_INTERVAL ?? 1024);
/** DEVMESH_HEAP_SURVIVORS=1: leave out what a scavenge collected, so the profile is what outlived the young generation (promoted, or still alive). */
const survivors = process.env.DEVMESH_HEAP_SURVIVORS === '1';

inspectorBracket(
  process.env.DEVMESH_HEAP_DIR ?? '/tmp',
  'heapprofile',
  (session) => session.post('HeapProfiler.startSampling', { samplingInterval: interval, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: !survivors }),
  'HeapProfiler.stopSampling',
);
