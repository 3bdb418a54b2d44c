/**
 * Preloaded into a process by `bench/grpc/profile.js` (`--require`): V8's
 * CPU profiler bracketed by signals, as heapSampler.ts does for the heap.
 * SIGUSR2 starts profiling and the next SIGUSR2 stops it and writes
 * `<dir>/<pid>.cpuprofile`, so the profile covers exactly the calls the
 * harness counts (no start-up, no warm-up) and self times divide by them.
 */
import { inspectorBracket } from './inspectorBracket';

inspectorBracket(
  process.env.DEVMESH_PROFILE_DIR ?? '/tmp',
  'cpuprofile',
  (session) => session.post('Profiler.enable', () => session.post('Profiler.setSamplingInterval', { interval: 200 }, () => session.post('Profiler.start'))),
  'Profiler.stop',
);
