/**
 * Preloaded into a process by `bench/grpc/profile.js` (`--require`): V8's
 * CPU profiler bracketed by signals, as heapSampler.ts does for the heap.
 * SIGUSR2 starts profiling and the next SIGUSR2 stops it and writes
 * `<dir>/<pid>.cpuprofile`, so the profile covers exactly the calls the
 * harness counts (no start-up, no warm-up) and self times divide by them.
 */
import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';

const dir = process.env.DEVMESH_PROFILE_DIR ?? '/tmp';
const session = new Session();
session.connect();
let profiling = false;

process.on('SIGUSR2', () => {
  if (!profiling) {
    profiling = true;
    session.post('Profiler.enable', () => session.post('Profiler.setSamplingInterval', { interval: 200 }, () => session.post('Profiler.start')));
    return;
  }
  profiling = false;
  session.post('Profiler.stop', (err, r) => {
    if (!err) writeFileSync(path.join(dir, `${process.pid}.cpuprofile`), JSON.stringify(r.profile));
  });
});
