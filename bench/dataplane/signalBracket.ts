/**
 * The harness's bracket for a preloaded probe (cpuSampler, heapSampler,
 * tailProbe, memProbe): the first SIGUSR2 starts it and the next stops it, so what
 * the probe records covers exactly the requests the harness counts (no
 * start-up, no warm-up). It loads nothing else into the process it measures
 * (inspectorBracket.ts, for the profilers, loads node:inspector).
 */

export function onSignalBracket(start: () => void, stop: () => void): void {
  let on = false;
  process.on('SIGUSR2', () => {
    on = !on;
    (on ? start : stop)();
  });
}
