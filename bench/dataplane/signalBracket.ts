/**
 * The harness's bracket for a preloaded probe (cpuSampler, heapSampler,
 * tailProbe, memProbe): the first SIGUSR2 starts it and the next stops it, so what
 * the probe records covers exactly the requests the harness counts (no
 * start-up, no warm-up).
 */
import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';

export function onSignalBracket(start: () => void, stop: () => void): void {
  let on = false;
  process.on('SIGUSR2', () => {
    on = !on;
    (on ? start : stop)();
  });
}

/**
 * An inspector session whose profile, when `stopMethod` answers, is written
 * to `<dir>/<pid>.<extension>`.
 */
export function inspectorBracket(dir: string, extension: string, start: (session: Session) => void, stopMethod: string): void {
  const session = new Session();
  session.connect();
  onSignalBracket(
    () => start(session),
    () =>
      session.post(stopMethod, (err, r) => {
        if (!err) writeFileSync(path.join(dir, `${process.pid}.${extension}`), JSON.stringify((r as { profile: unknown }).profile));
      }),
  );
}
