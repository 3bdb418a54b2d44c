/**
 * Preloaded into a sidecar process by `profile.js --heap` (`--require`):
 * V8's sampling heap profiler, counting objects the GC already collected
 * too (a proxy's per-request garbage is what its GC pays for). SIGUSR2
 * starts sampling and the next SIGUSR2 stops it and writes
 * `<dir>/<pid>.heapprofile`, so the harness brackets exactly the requests
 * it counts.
 */
import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';

const dir = process.env.DEVMESH_HEAP_DIR ?? '/tmp';
const interval = Number(process.env.DEVMESH_HEAP_INTERVAL ?? 1024);
const session = new Session();
session.connect();
let sampling = false;

process.on('SIGUSR2', () => {
  if (!sampling) {
    sampling = true;
    session.post('HeapProfiler.startSampling', { samplingInterval: interval, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
    return;
  }
  sampling = false;
  session.post('HeapProfiler.stopSampling', (err, r) => {
    if (!err) writeFileSync(path.join(dir, `${process.pid}.heapprofile`), JSON.stringify(r.profile));
  });
});
