/**
 * Preloaded into a sidecar process by abLayouts.js --loop (`--require`):
 * how busy its event loop was over the harness's bracket (two SIGUSR2, see
 * signalBracket.ts): the loop's utilisation (perf_hooks
 * eventLoopUtilization: the share of wall time it was not waiting in
 * epoll — 1.0 is a loop that never waits, a saturated process) and its
 * delay (monitorEventLoopDelay, 1 ms resolution: how late a timer ran).
 * Writes `<DEVMESH_LOOP_DIR>/<pid>.loop.json`.
 */
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { monitorEventLoopDelay, performance, type EventLoopUtilization, type IntervalHistogram } from 'node:perf_hooks';
import { onSignalBracket } from './signalBracket';

export interface LoopSummary { elu: number; delayP50Ms: number; delayP99Ms: number; delayMaxMs: number; wallMs: number }

if (process.env.DEVMESH_LOOP_DIR) {
  let elu: EventLoopUtilization | undefined;
  let delay: IntervalHistogram | undefined;
  onSignalBracket(
    () => { elu = performance.eventLoopUtilization(); delay = monitorEventLoopDelay({ resolution: 1 }); delay.enable(); },
    () => {
      if (!elu || !delay) return;
      const used = performance.eventLoopUtilization(elu);
      delay.disable();
      const ms = (ns: number) => ns / 1e6;
      const out: LoopSummary = { elu: used.utilization, delayP50Ms: ms(delay.percentile(50)), delayP99Ms: ms(delay.percentile(99)), delayMaxMs: ms(delay.max), wallMs: used.idle + used.active };
      writeFileSync(path.join(process.env.DEVMESH_LOOP_DIR ?? '/tmp', `${process.pid}.loop.json`), JSON.stringify(out));
      elu = undefined; delay = undefined;
    },
  );
}
