/**
 * The profilers' bracket (cpuSampler, heapSampler): an inspector session
 * started and stopped by SIGUSR2 (signalBracket.ts). Apart from
 * signalBracket.ts so the probes that need no inspector (tailProbe,
 * memProbe, loopProbe, gcProbe) do not load node:inspector into the process
 * they measure.
 */
import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { onSignalBracket } from './signalBracket';

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
